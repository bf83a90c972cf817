from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lenet import data as data_module
from lenet.data import (
    CLASS_NAMES,
    FILES,
    DataError,
    find_data_dir,
    load_fashion_mnist,
    stratified_indices,
    train_val_split,
)


def test_real_files_load_with_published_shapes_and_balanced_classes(fashion):
    assert fashion.x_train.shape == (60_000, 28, 28, 1)
    assert fashion.x_test.shape == (10_000, 28, 28, 1)
    assert fashion.x_train.dtype == np.float32
    assert fashion.x_train.min() == 0.0 and fashion.x_train.max() == 1.0
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert len(CLASS_NAMES) == 10
    assert set(fashion.checksums) == {f.name.removesuffix(".gz") for f in FILES.values()}


@pytest.fixture
def data_copy(fashion, tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for spec in FILES.values():
        shutil.copy(Path(fashion.source) / spec.name, folder / spec.name)
    return folder


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_one_pixel(path: Path) -> None:
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))


def _not_gzip(path: Path) -> None:
    path.write_bytes(b"<html>404 Not Found</html>")


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_truncate, _flip_one_pixel, _not_gzip, Path.unlink])
@pytest.mark.parametrize("name", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_damaged_file_is_refused_with_its_name_and_the_fix(data_copy, damage, name):
    damage(data_copy / name)
    with pytest.raises(DataError) as excinfo:
        load_fashion_mnist(data_copy, download=False)
    message = str(excinfo.value)
    assert name in message
    assert "dataset-fashion-mnist" in message
    assert "\n" not in message


def test_explicit_folder_wins_over_environment_and_system_copies(data_copy, monkeypatch):
    monkeypatch.setenv("LENET_DATA_DIR", "/nonexistent")
    assert find_data_dir(data_copy, download=False) == data_copy


def test_environment_variable_is_used_when_no_folder_is_given(data_copy, monkeypatch):
    monkeypatch.setenv("LENET_DATA_DIR", str(data_copy))
    assert find_data_dir(download=False) == data_copy


def test_nothing_found_offline_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("LENET_DATA_DIR", raising=False)
    monkeypatch.setattr(data_module, "KERAS_CACHE_DIR", tmp_path / "keras")
    monkeypatch.setattr(data_module, "DEBIAN_DATA_DIR", tmp_path / "debian")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        find_data_dir(download=False)


def test_validation_split_is_stratified_disjoint_and_deterministic(fashion):
    a = train_val_split(fashion, val_size=10_000, seed=0)
    b = train_val_split(fashion, val_size=10_000, seed=0)
    c = train_val_split(fashion, val_size=10_000, seed=1)
    assert a.describe() == {"train_size": 50_000, "val_size": 10_000}
    assert np.bincount(a.y_val).tolist() == [1000] * 10
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)
    # No validation image also appears among the training images.
    train_keys = {x.tobytes() for x in a.x_train[:, 10:18, 10:18, 0]}
    overlap = sum(x.tobytes() in train_keys for x in a.x_val[:200, 10:18, 10:18, 0])
    assert overlap < 5  # a few duplicated garments exist in the data set itself


def test_limits_shrink_each_part_without_moving_images_between_them(fashion):
    full = train_val_split(fashion, seed=0)
    small = train_val_split(fashion, seed=0, train_limit=2000, val_limit=500)
    assert small.describe() == {"train_size": 2000, "val_size": 500}
    assert np.bincount(small.y_val).tolist() == [50] * 10
    full_val = {x.tobytes() for x in full.x_val}
    assert all(x.tobytes() in full_val for x in small.x_val)


@pytest.mark.parametrize("size", [0, 61])
def test_stratified_indices_rejects_impossible_sizes(size):
    with pytest.raises(ValueError, match="size must be"):
        stratified_indices(np.arange(60) % 10, size, seed=0)
