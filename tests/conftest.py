"""Shared fixtures: every test is seeded; data are the real Fashion-MNIST, shrunk."""

from __future__ import annotations

import multiprocessing.process
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

from lenet import FashionMNIST, Splits, backends, load_fashion_mnist, train_val_split

ROOT = Path(__file__).resolve().parents[1]


def _fresh_python(code: str, backend: str, timeout: float = 600) -> str:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def fresh_python() -> Callable[..., str]:
    """``fresh_python(code, backend, timeout=600)`` runs ``code`` in a new interpreter at the
    repository root with ``KERAS_BACKEND=backend`` (what a process-level check such as "never
    imports TensorFlow" needs), asserts that it exits 0 and returns its last line of output."""
    return _fresh_python


@pytest.fixture(autouse=True)
def _quick_tests_start_no_process(request, monkeypatch, _seed) -> None:
    """A test not marked slow fails if it starts a process: `pytest -m "not slow"` stays quick.
    (Fixtures of a wider scope are set up before this one and are not checked; nor is the
    backend's first import, through ``_seed``, which may run a command of its own.)"""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("this test starts a process: mark it @pytest.mark.slow", pytrace=False)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)


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
