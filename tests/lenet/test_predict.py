"""``lenet.predict``: which image files are refused, and how classes are ranked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lenet.data import CLASS_NAMES
from lenet.predict import NoGarment, classify_file, rank


class _Fixed:
    """A model stand-in that sees the same probabilities in every image."""

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = np.array([probabilities], dtype=np.float32)
        self.seen: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray, verbose: int = 0) -> np.ndarray:
        self.seen.append(batch.shape)
        return self.probabilities


PROBABILITIES = [0.05, 0.5, 0.0, 0.3, 0.0, 0.0, 0.15, 0.0, 0.0, 0.0]


def test_rank_gives_the_most_probable_classes_first():
    ranked = rank(np.array(PROBABILITIES), 3)
    assert [name for name, _ in ranked] == [CLASS_NAMES[1], CLASS_NAMES[3], CLASS_NAMES[6]]
    assert [p for _, p in ranked] == pytest.approx([0.5, 0.3, 0.15])


def test_a_garment_image_is_classified(tmp_path):
    path = tmp_path / "shirt.png"
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:24, 8:20] = 200
    Image.fromarray(pixels).save(path)
    model = _Fixed(PROBABILITIES)
    assert [name for name, _ in classify_file(model, path, 2)] == list(CLASS_NAMES[1:4:2])
    assert model.seen == [(1, 28, 28, 1)]


def test_a_blank_image_is_not_classified(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((28, 28), 128, dtype=np.uint8)).save(path)
    model = _Fixed(PROBABILITIES)
    with pytest.raises(NoGarment, match="shows no garment"):
        classify_file(model, path, 3)
    assert model.seen == []


def test_a_file_that_is_no_image_is_refused(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(ValueError):
        classify_file(_Fixed(PROBABILITIES), path, 3)
