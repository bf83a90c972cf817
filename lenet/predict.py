"""Classifying one image file: which files are refused, and the classes ranked."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lenet.data import CLASS_NAMES
from lenet.saving import is_blank, prepare_image


class NoGarment(ValueError):
    """An image with no contrast: no garment to classify, so no guess is made."""


def rank(probabilities: np.ndarray, top: int) -> list[tuple[str, float]]:
    """The ``top`` most probable classes, most probable first, as (name, probability)."""
    ranked = np.argsort(probabilities)[::-1][:top]
    return [(CLASS_NAMES[c], float(probabilities[c])) for c in ranked]


def classify_file(model: Any, path: str | os.PathLike[str], top: int) -> list[tuple[str, float]]:
    """The ``top`` classes ``model`` (anything with Keras' ``predict``) sees in image ``path``.

    Raises:
        NoGarment: the image shows no garment; the message says so.
        ValueError: the file is not an image ``prepare_image`` can read; the message says why.
    """
    image = prepare_image(path)
    if is_blank(image):
        raise NoGarment(f"{path} shows no garment (no contrast); not classified")
    return rank(model.predict(image[None], verbose=0)[0], top)
