"""Loading saved models safely, and preparing users' own images the way Fashion-MNIST was made."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np

from lenet.errors import ModelFileError
from lenet.model import INPUT_SHAPE


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """``best_model.keras`` -> ``best_model.json``: the export's metadata and checksum."""
    return Path(model_path).with_suffix(".json")


def load_model(path: str | os.PathLike[str], expected_sha256: str | None = None) -> keras.Model:
    """Loads a ``.keras`` model with Keras' ``safe_mode``, after checking what it is.

    The SHA-256 is checked against ``expected_sha256`` or, when not given, against the
    ``sha256`` field of a side-car JSON next to the file (as ``lenet-study export`` writes).

    Raises:
        ModelFileError: with a one-line message saying what is wrong and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist; run `lenet-study export` first")
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise ModelFileError(
            f"{path} is a legacy HDF5 model; only .keras archives are loaded (safe mode). "
            "Re-save it with model.save('model.keras')"
        )
    if path.suffix.lower() != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a .keras model archive")
    if expected_sha256 is None and sidecar_path(path).is_file():
        try:
            expected_sha256 = json.loads(sidecar_path(path).read_text())["sha256"]
        except (ValueError, KeyError):
            raise ModelFileError(
                f"{sidecar_path(path)} is not an export record; delete it or re-export"
            ) from None
    if expected_sha256 is not None and sha256_of(path) != expected_sha256:
        raise ModelFileError(
            f"{path} does not match the SHA-256 recorded for it; the file was changed after "
            "export: re-run `lenet-study export`"
        )
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean the same here
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} could not be loaded: {first_line}") from None
    if tuple(model.input_shape[1:]) != INPUT_SHAPE:
        raise ModelFileError(
            f"{path} expects input {tuple(model.input_shape[1:])}, "
            "not 28x28x1 Fashion-MNIST images"
        )
    return model


def prepare_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Turns a photo into a Fashion-MNIST-like ``(28, 28, 1)`` float32 image in [0, 1].

    Follows the data set's own conversion (Xiao et al. 2017): grayscale, light garment on a
    dark background (a light background is inverted), trimmed to the garment, longest edge
    resized to 28 pixels, centred on a 28x28 canvas.

    Raises:
        ValueError: the file is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            gray = np.asarray(image.convert("L"), dtype=np.float32)
    except (OSError, UnidentifiedImageError):
        raise ValueError(f"{path} is not a readable image (PNG, JPEG, ...)") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127:  # product photos sit on white; Fashion-MNIST garments are light
        gray = 255.0 - gray
    background = np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]))
    gray = np.clip(gray - background, 0, 255)  # a grey backdrop becomes black, as in the data
    rows, cols = np.nonzero(gray > 10)
    if len(rows):
        gray = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = gray.shape
    scale = 28 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(
        Image.fromarray(gray.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS),
        dtype=np.float32,
    )
    canvas = np.zeros((28, 28), np.float32)
    top, left = (29 - size[1]) // 2, (29 - size[0]) // 2  # an odd margin's extra row goes on top
    canvas[top : top + size[1], left : left + size[0]] = resized
    return (canvas / 255.0)[..., None]
