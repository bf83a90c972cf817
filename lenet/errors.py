"""The errors ``lenet`` raises for bad files, importable without loading TensorFlow."""

from __future__ import annotations


class DataError(RuntimeError):
    """The Fashion-MNIST files are missing, truncated or not the published ones."""


class ModelFileError(RuntimeError):
    """A model file that is missing, not a ``.keras`` archive, tampered with, or not LeNet's."""
