"""Loading saved models safely, and preparing users' own images the way Fashion-MNIST was made."""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lenet.errors import ModelFileError

if TYPE_CHECKING:  # Keras loads in load_model only: prepare_image serves exported models too
    import keras


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """``best_model.keras`` -> ``best_model.json``: the export's metadata and checksum."""
    return Path(model_path).with_suffix(".json")


def _folder_not_model(folder: Path) -> str:
    """What to pass instead of a folder: its exported model, or its ``.keras`` files."""
    if (folder / "best_model.keras").is_file():
        return f"{folder} is a folder; pass the model file in it: {folder / 'best_model.keras'}"
    models = sorted(str(p) for p in folder.glob("*.keras") if p.is_file())
    models = models or sorted(str(p) for p in folder.glob("*/best_model.keras") if p.is_file())
    if models:
        return f"{folder} is a folder; pass one of the model files in it: {', '.join(models[:3])}"
    return f"{folder} is a folder with no .keras model in it; pass a .keras file"


def recorded_sha256(record_path: Path) -> str:
    """The ``sha256`` of an export record (``best_model.json``), lower-case.

    Raises:
        ModelFileError: the file cannot be read, is not a JSON object, or has no 64-digit
            hexadecimal ``sha256``.
    """
    fix = "move it away or re-run `lenet-study export`"
    try:
        record = json.loads(record_path.read_bytes())
    except OSError as exc:
        raise ModelFileError(
            f"cannot read the export record {record_path}: {exc.strerror}"
        ) from None
    except (ValueError, RecursionError):
        raise ModelFileError(f"{record_path} is not an export record: not JSON; {fix}") from None
    if not isinstance(record, dict):
        raise ModelFileError(
            f"{record_path} is not an export record: a JSON {type(record).__name__}, not an "
            f"object; {fix}"
        )
    sha256 = record.get("sha256")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        problem = (
            'it has no "sha256"'
            if sha256 is None
            else f'its "sha256" is {sha256!r:.40}, not 64 hexadecimal digits'
        )
        raise ModelFileError(f"{record_path} is not an export record: {problem}; {fix}")
    return sha256.lower()


def load_model(path: str | os.PathLike[str], expected_sha256: str | None = None) -> keras.Model:
    """Loads a ``.keras`` model with Keras' ``safe_mode``, after checking what it is.

    The SHA-256 is checked against ``expected_sha256`` or, when not given, against the
    ``sha256`` field of a side-car JSON next to the file (as ``lenet-study export`` writes).

    Raises:
        ModelFileError: with a one-line message saying what is wrong and what to do.
    """
    import keras

    from lenet.model import INPUT_SHAPE, NUM_CLASSES

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(_folder_not_model(path))
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
        expected_sha256 = recorded_sha256(sidecar_path(path))
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
    if tuple(model.output_shape[1:]) != (NUM_CLASSES,):
        raise ModelFileError(
            f"{path} outputs shape {tuple(model.output_shape[1:])}, "
            f"not the {NUM_CLASSES} Fashion-MNIST class scores"
        )
    return model


# A pixel this much brighter (0..255) than the background is part of the garment.
GARMENT_LEVEL = 10


def _grayscale(image: Any) -> np.ndarray:
    """Any PIL image as float32 gray levels in [0, 255].

    8-bit modes convert as PIL does. Transparent images (RGBA, LA, a palette with
    transparency) are laid on white, as product photos are. Wider modes are scaled, not
    clipped: ``I;16`` by its 16-bit range; ``I`` by the narrowest of the 8-, 16- and 32-bit
    ranges that holds its values (PNG's 16-bit grays open as ``I`` in some Pillow versions);
    ``F`` as [0, 1] if it fits there, as [0, 255] if it fits there, else by its own min..max.
    """
    from PIL import Image

    if image.mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) * (255.0 / 65535.0)
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        if image.mode == "F" and low >= 0 and high <= 1:
            full_scale = 1.0
        elif low >= 0 and high <= 255:
            full_scale = 255.0
        elif image.mode == "I" and low >= 0 and high <= 65535:
            full_scale = 65535.0
        elif image.mode == "I" and low >= 0:
            full_scale = 2.0**31 - 1
        else:  # negative or unbounded values: only their own range means anything
            values, full_scale = values - low, max(high - low, 1e-12)
        return (values * (255.0 / full_scale)).astype(np.float32)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.float32)


def prepare_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Turns a photo into a Fashion-MNIST-like ``(28, 28, 1)`` float32 image in [0, 1].

    Follows the data set's own conversion (Xiao et al. 2017): grayscale, light garment on a
    dark background (a light background is inverted), trimmed to the garment, longest edge
    resized to 28 pixels, centred on a 28x28 canvas. Every PIL mode is read at its own bit
    depth (see ``_grayscale``). ``is_blank`` tells whether anything was found.

    Raises:
        ValueError: the file is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not an image; pass the image files in it")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ValueError(f"{path} is an empty file, not an image")
    try:
        with warnings.catch_warnings():
            # Over Pillow's pixel limit it only warns, then decodes gigabytes; refuse it too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                gray = _grayscale(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f" ({int(found.group(1)):,} pixels)" if found else ""
        raise ValueError(
            f"{path} is too large to open safely{pixels}, over Pillow's limit of "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels; shrink it first"
        ) from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        # PIL raises these for a truncated or malformed file, whatever its name says.
        raise ValueError(f"{path} is not a readable image (PNG, JPEG, ...)") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127:  # product photos sit on white; Fashion-MNIST garments are light
        gray = 255.0 - gray
    background = np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]))
    gray = np.clip(gray - background, 0, 255)  # a grey backdrop becomes black, as in the data
    rows, cols = np.nonzero(gray > GARMENT_LEVEL)
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


def is_blank(prepared: np.ndarray) -> bool:
    """Whether a ``prepare_image`` result shows nothing: no pixel stands out from the
    background (a blank or one-colour image, or one of a pixel or two). A model still
    returns confident-looking scores for it, which mean nothing."""
    return bool(prepared.max() * 255.0 <= GARMENT_LEVEL)
