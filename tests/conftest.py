"""Shared fixtures: every test is seeded; data are the real Fashion-MNIST, shrunk."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

from lenet import FashionMNIST, Splits, backends, load_fashion_mnist, train_val_split


@pytest.fixture(autouse=True)
def _seed() -> None:
    # The backend's own seeding: Keras' set_random_seed would load TensorFlow on JAX too.
    backends.current().set_random_seed(0)


@pytest.fixture(scope="session")
def fashion() -> FashionMNIST:
    """The real, verified data set (Debian's package in CI); loaded once per session."""
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def small_splits(fashion: FashionMNIST) -> Splits:
    """2,000 training and 500 validation images: enough to learn, fast enough to test."""
    return train_val_split(fashion, train_limit=2000, val_limit=500)


@pytest.fixture
def storage_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"
