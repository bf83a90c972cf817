"""Fashion-MNIST: find the four original IDX files, verify them, load them, split them.

The files are looked up, in order, in an explicit directory, ``$LENET_DATA_DIR``, Keras'
cache (``~/.keras/datasets/fashion-mnist``) and Debian's ``dataset-fashion-mnist`` package.
If none holds them, Keras downloads them (online machines only). Every file is checked
against the publisher's checksum before a single pixel is used.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet.errors import DataError

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

DEBIAN_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path("~/.keras/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
INSTALL_HINT = (
    "install Debian's package with `sudo apt-get install dataset-fashion-mnist`, "
    "or point LENET_DATA_DIR at a folder holding the four original *-ubyte.gz files"
)


@dataclass(frozen=True)
class _IdxFile:
    name: str
    raw_md5: str  # MD5 of the decompressed IDX payload, as published by Zalando Research
    gz_md5: str  # MD5 of the publisher's .gz; Debian recompresses, so only raw_md5 is binding
    magic: int  # 2051 for images, 2049 for labels
    count: int


FILES = {
    "train_images": _IdxFile(
        "train-images-idx3-ubyte.gz",
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        2051,
        60_000,
    ),
    "train_labels": _IdxFile(
        "train-labels-idx1-ubyte.gz",
        "9018921c3c673c538a1fc5bad174d6f9",
        "25c81989df183df01b3e8a0aad5dffbe",
        2049,
        60_000,
    ),
    "test_images": _IdxFile(
        "t10k-images-idx3-ubyte.gz",
        "8181f5470baa50b63fa0f6fddb340f0a",
        "bef4ecab320f06d8554ea6380940ec79",
        2051,
        10_000,
    ),
    "test_labels": _IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        "15d484375f8d13e6eb1aabb0c3f46965",
        "bb300cfdad3c16e7a12a480ee83cd310",
        2049,
        10_000,
    ),
}


@dataclass(frozen=True)
class FashionMNIST:
    """The full data set. Images are ``(n, 28, 28, 1)`` float32 in [0, 1]; labels int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # folder the files were read from
    checksums: dict[str, str]  # file name -> SHA-256 of its decompressed payload


@dataclass(frozen=True)
class Splits:
    """What a study sees: training and validation images, never the test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    def describe(self) -> dict[str, int]:
        return {"train_size": len(self.y_train), "val_size": len(self.y_val)}


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for the IDX files, in order of preference."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    if os.environ.get("LENET_DATA_DIR"):
        dirs.append(Path(os.environ["LENET_DATA_DIR"]))
    dirs += [KERAS_CACHE_DIR.expanduser(), DEBIAN_DATA_DIR]
    return dirs


def find_data_dir(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Returns the first folder that holds all four files, downloading them as a last resort.

    An explicit ``data_dir`` (or ``$LENET_DATA_DIR``) that lacks a file is an error rather than
    a reason to look elsewhere: the user asked for that folder.

    Raises:
        DataError: no folder has the files and Keras' download failed or was not allowed.
    """
    explicit = candidate_dirs(data_dir)[:-2]
    for folder in candidate_dirs(data_dir):
        missing = [f.name for f in FILES.values() if not (folder / f.name).is_file()]
        if not missing:
            return folder
        if folder in explicit:
            raise DataError(f"{folder / missing[0]} is missing; {INSTALL_HINT}")
    if download:
        try:
            return _download_with_keras()
        except Exception as exc:  # any network or hash failure means the same to the user
            raise DataError(
                f"Fashion-MNIST not found in {', '.join(map(str, candidate_dirs(data_dir)))} "
                f"and the download failed ({type(exc).__name__}); {INSTALL_HINT}"
            ) from None
    raise DataError(f"Fashion-MNIST not found; {INSTALL_HINT}")


def _download_with_keras() -> Path:
    import keras

    path = None
    for f in FILES.values():
        path = keras.utils.get_file(
            f.name,
            origin=KERAS_ORIGIN + f.name,
            cache_subdir="datasets/fashion-mnist",
            file_hash=f.gz_md5,
            hash_algorithm="md5",
        )
    return Path(path).parent  # type: ignore[arg-type]


def read_idx(path: Path, spec: _IdxFile) -> tuple[np.ndarray, str]:
    """Reads and verifies one gzipped IDX file.

    Returns:
        The array (uint8, ``(n, 28, 28)`` or ``(n,)``) and the SHA-256 of the payload.

    Raises:
        DataError: the file is unreadable, truncated, or its content is not the published one.
    """
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} is corrupt or truncated ({exc}); delete it and reinstall: {INSTALL_HINT}"
        ) from None
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() != spec.raw_md5:
        raise DataError(
            f"{path} does not match the published Fashion-MNIST checksum; "
            f"delete it and reinstall: {INSTALL_HINT}"
        )
    # The checksum settles the content; the header checks below guard against a wrong
    # table entry and document the format.
    magic, count = struct.unpack(">II", raw[:8])
    if magic != spec.magic or count != spec.count:
        raise DataError(f"{path} has IDX header ({magic}, {count}), expected {spec.magic}")
    if spec.magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        if (rows, cols) != (28, 28):
            raise DataError(f"{path} holds {rows}x{cols} images, expected 28x28")
        array = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 28, 28)
    else:
        array = np.frombuffer(raw, dtype=np.uint8, offset=8)
        if array.max() > 9:
            raise DataError(f"{path} has labels outside 0..9")
    return array, hashlib.sha256(raw).hexdigest()


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> FashionMNIST:
    """Loads and verifies the 70,000 Fashion-MNIST images.

    Args:
        data_dir: folder with the four ``*-ubyte.gz`` files; searched first.
        download: whether Keras may download the files when no folder has them.

    Raises:
        DataError: with a one-line message naming the file and the fix.
    """
    folder = find_data_dir(data_dir, download=download)
    arrays, checksums = {}, {}
    for key, spec in FILES.items():
        arrays[key], checksums[spec.name.removesuffix(".gz")] = read_idx(folder / spec.name, spec)

    def images(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) / 255.0)[..., None]  # (n, 28, 28, 1) float32 in [0, 1]

    return FashionMNIST(
        x_train=images(arrays["train_images"]),
        y_train=arrays["train_labels"].astype(np.int32),
        x_test=images(arrays["test_images"]),
        y_test=arrays["test_labels"].astype(np.int32),
        source=str(folder),
        checksums=checksums,
    )


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` indices into ``labels`` with each class in proportion, chosen by ``seed``."""
    if not 0 < size <= len(labels):
        raise ValueError(f"size must be in 1..{len(labels)}, got {size}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = np.floor(counts * size / len(labels)).astype(int)
    # Hand the rounding remainder to the classes with the largest fractional parts.
    remainder = counts * size / len(labels) - quotas
    quotas[np.argsort(-remainder, kind="stable")[: size - quotas.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == c), q, replace=False)
        for c, q in zip(classes, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def train_val_split(
    data: FashionMNIST,
    val_size: int = 10_000,
    seed: int = 0,
    train_limit: int | None = None,
    val_limit: int | None = None,
) -> Splits:
    """Splits the 60,000 training images into training and validation sets, stratified.

    The split depends only on ``seed`` and ``val_size``, so every trial of a study, and every
    rerun, sees the same images. ``train_limit`` and ``val_limit`` take stratified subsets of
    each part (for smoke tests); they do not change which images are validation images.
    """
    n = len(data.y_train)
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be in 1..{n - 1}, got {val_size}")
    val_idx = stratified_indices(data.y_train, val_size, seed)
    train_idx = np.setdiff1d(np.arange(n), val_idx)
    if train_limit is not None and train_limit < len(train_idx):
        train_idx = train_idx[stratified_indices(data.y_train[train_idx], train_limit, seed)]
    if val_limit is not None and val_limit < len(val_idx):
        val_idx = val_idx[stratified_indices(data.y_train[val_idx], val_limit, seed)]
    return Splits(
        x_train=data.x_train[train_idx],
        y_train=data.y_train[train_idx],
        x_val=data.x_train[val_idx],
        y_val=data.y_train[val_idx],
    )
