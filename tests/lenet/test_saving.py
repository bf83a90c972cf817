"""Loading model files and preparing users' images: every image mode, blank images, bad files."""

from __future__ import annotations

import json
import re
import struct
import warnings
import zlib

import keras
import numpy as np
import pytest
from PIL import Image

from lenet import ModelFileError, is_blank, load_model, prepare_image
from lenet.saving import sha256_of

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


def _png_header(path, width: int, height: int) -> None:
    """A PNG that declares ``width`` x ``height`` pixels and holds none: all Pillow's size
    check reads, without gigabytes on disk or in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height", "pixels"),
    [(20_000, 20_000, "400,000,000"), (10_000, 10_000, "100,000,000")],
    ids=["over-twice-the-limit-error", "over-the-limit-warning"],
)
def test_an_image_pillow_calls_a_decompression_bomb_is_a_value_error_naming_it(
    tmp_path, width, height, pixels
):
    assert width * height > Image.MAX_IMAGE_PIXELS  # the case Pillow only warns about, or worse
    path = tmp_path / "huge.png"
    _png_header(path, width, height)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes fails the test
        with pytest.raises(ValueError) as raised:
            prepare_image(path)
    assert str(raised.value) == (
        f"{path} is too large to open safely ({pixels} pixels), over Pillow's limit of "
        f"{Image.MAX_IMAGE_PIXELS:,} pixels; shrink it first"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is an empty file, not an image"),
        (lambda p: p.mkdir(), "is a folder, not an image; pass the image files in it"),
        (lambda p: None, "is not a readable image"),  # missing
    ],
    ids=["empty-file", "folder", "missing"],
)
def test_an_image_path_that_is_no_image_says_what_it_is(tmp_path, make, message):
    path = tmp_path / "photo.png"
    make(path)
    with pytest.raises(ValueError, match=re.escape(f"{path} {message}")):
        prepare_image(path)


def test_a_path_with_spaces_and_accents_reads_as_any_other(tmp_path):
    plain = prepare_image(_saved(tmp_path, Image.fromarray(GARMENT), "plain.png"))
    folder = tmp_path / "mes photos ü"
    folder.mkdir()
    odd = prepare_image(_saved(folder, Image.fromarray(GARMENT), "chemise d'été 1.png"))
    np.testing.assert_array_equal(odd, plain)


def _five_classes(path) -> None:
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(path)


def test_a_model_for_other_images_is_refused(tmp_path):
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    path = tmp_path / "cifar.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelFileError, match=r"expects input \(32, 32, 3\), not 28x28x1"):
        load_model(path)


def test_a_truncated_model_file_is_not_an_archive(tmp_path):
    _five_classes(tmp_path / "whole.keras")
    data = (tmp_path / "whole.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.keras is not a \.keras model archive"):
        load_model(tmp_path / "cut.keras")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["best_model.keras", "other.keras"], "is a folder; pass the model file in it: {}/best"),
        (["a.keras", "b.keras"], "is a folder; pass one of the model files in it: {}/a.keras, "),
        (["study/best_model.keras"], "pass one of the model files in it: {}/study/best_model"),
        (["notes.txt"], "is a folder with no .keras model in it; pass a .keras file"),
    ],
    ids=["export-folder", "model-files", "results-folder", "no-model"],
)
def test_a_folder_given_as_the_model_names_the_file_to_pass(tmp_path, files, expected):
    for name in files:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ModelFileError) as raised:
        load_model(tmp_path)
    assert str(raised.value).startswith(str(tmp_path))
    assert expected.format(tmp_path) in str(raised.value)


BAD_RECORDS = {
    "list": (b'["sha256"]', "not an export record: a JSON list, not an object"),
    "no-sha256": (b'{"trial_number": 3}', 'not an export record: it has no "sha256"'),
    "number": (b'{"sha256": 5}', 'its "sha256" is 5, not 64 hexadecimal digits'),
    "not-hex": (b'{"sha256": "' + b"z" * 64 + b'"}', "not 64 hexadecimal digits"),
    "short": (b'{"sha256": "abc"}', "its \"sha256\" is 'abc', not 64 hexadecimal"),
    "not-json": (b"{sha256", "not an export record: not JSON"),
    "not-utf8": (b"\xff\xfe\xfa", "not an export record: not JSON"),
}


@pytest.mark.parametrize(("content", "message"), BAD_RECORDS.values(), ids=list(BAD_RECORDS))
def test_a_record_beside_the_model_that_is_not_an_export_record_is_refused(
    tmp_path, content, message
):
    _five_classes(tmp_path / "model.keras")
    (tmp_path / "model.json").write_bytes(content)
    with pytest.raises(ModelFileError) as raised:
        load_model(tmp_path / "model.keras")
    assert str(raised.value).startswith(f"{tmp_path / 'model.json'} is not an export record")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_record_with_an_upper_case_checksum_still_checks_the_file(tmp_path):
    _five_classes(tmp_path / "model.keras")
    digest = sha256_of(tmp_path / "model.keras")
    (tmp_path / "model.json").write_text(json.dumps({"sha256": digest.upper()}))
    with pytest.raises(ModelFileError, match=r"outputs shape \(5,\)"):  # past the checksum
        load_model(tmp_path / "model.keras")
    (tmp_path / "model.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ModelFileError, match="does not match the SHA-256"):
        load_model(tmp_path / "model.keras")
