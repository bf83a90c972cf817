"""Loading model files and preparing users' images: every image mode, blank images, bad files."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from lenet import ModelFileError, is_blank, load_model, prepare_image

# A light garment (level 200 of 255) on a black background, 40x30: the reference picture.
GARMENT = np.zeros((40, 30), np.uint8)
GARMENT[8:34, 6:22] = 200
GARMENT[12:20, 22:26] = 120  # a sleeve, so the crop is not a plain rectangle


def _saved(tmp_path, image: Image.Image, name: str) -> str:
    path = tmp_path / name
    image.save(path)
    return str(path)


def _on_white() -> np.ndarray:
    """The reference garment as a dark-on-white photo: what a transparent one is laid on."""
    return np.where(GARMENT > 0, 255 - GARMENT, 255).astype(np.uint8)


def _transparent_rgba() -> Image.Image:
    """The garment opaque, the background fully transparent (and black underneath)."""
    rgba = np.zeros((*GARMENT.shape, 4), np.uint8)
    rgba[..., :3] = np.where(GARMENT > 0, 255 - GARMENT, 0)[..., None]
    rgba[..., 3] = np.where(GARMENT > 0, 255, 0)
    return Image.fromarray(rgba)


def _palette_with_transparency() -> Image.Image:
    levels = sorted(set(GARMENT.flat) - {0})
    index = np.zeros(GARMENT.shape, np.uint8)
    palette = [0, 0, 0]  # index 0: the transparent background
    for i, level in enumerate(levels, 1):
        index[np.equal(GARMENT, level)] = i
        palette += [255 - int(level)] * 3
    image = Image.frombytes("P", index.shape[::-1], index.tobytes())
    image.putpalette(palette)
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(
    ("mode", "make", "suffix"),
    [
        ("I;16", lambda: Image.fromarray(GARMENT.astype(np.uint16) * 257), "png"),
        ("I", lambda: Image.fromarray(GARMENT.astype(np.int32) * 257), "tif"),
        ("F", lambda: Image.fromarray(GARMENT.astype(np.float32) / 255), "tif"),
        ("RGB", lambda: Image.fromarray(GARMENT).convert("RGB"), "png"),
    ],
)
def test_every_bit_depth_reads_as_the_same_picture(tmp_path, mode, make, suffix):
    reference = prepare_image(_saved(tmp_path, Image.fromarray(GARMENT, "L"), "ref.png"))
    path = _saved(tmp_path, make(), f"image.{suffix}")
    with Image.open(path) as image:
        assert image.mode == mode  # the file kept the mode under test
    np.testing.assert_allclose(prepare_image(path), reference, atol=1 / 255)


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("RGBA", _transparent_rgba),
        ("P", _palette_with_transparency),
        ("LA", lambda: _transparent_rgba().convert("LA")),
    ],
)
def test_a_transparent_background_is_laid_on_white(tmp_path, mode, make):
    reference = prepare_image(_saved(tmp_path, Image.fromarray(_on_white(), "L"), "ref.png"))
    path = _saved(tmp_path, make(), "image.png")
    with Image.open(path) as image:
        assert image.mode == mode
    np.testing.assert_allclose(prepare_image(path), reference, atol=1 / 255)


def test_a_one_bit_image_reads_as_black_and_white(tmp_path):
    reference = prepare_image(
        _saved(tmp_path, Image.fromarray(np.where(GARMENT > 0, 255, 0).astype(np.uint8)), "r.png")
    )
    path = _saved(tmp_path, Image.fromarray(GARMENT > 0).convert("1"), "image.png")
    np.testing.assert_allclose(prepare_image(path), reference, atol=1 / 255)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (30, 40), 128),  # one colour
        Image.new("RGB", (1, 1), (250, 10, 10)),  # one pixel
        Image.new("I;16", (20, 20), 40_000),
    ],
    ids=["uniform", "one-pixel", "uniform-16-bit"],
)
def test_an_image_without_contrast_is_blank(tmp_path, image):
    assert is_blank(prepare_image(_saved(tmp_path, image, "blank.png")))


def test_a_garment_is_not_blank(tmp_path):
    assert not is_blank(prepare_image(_saved(tmp_path, Image.fromarray(GARMENT), "g.png")))


@pytest.mark.parametrize(
    "content", [b"not an image\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"]
)
def test_an_unreadable_image_is_a_value_error_naming_it(tmp_path, content):
    path = tmp_path / "photo.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"photo\.png is not a readable image"):
        prepare_image(path)


def test_a_model_with_another_number_of_classes_is_refused(tmp_path):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inputs))
    path = tmp_path / "five.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelFileError, match=r"outputs shape \(5,\), not the 10"):
        load_model(path)
