"""What differs between Keras backends lives here, one module per backend.

The rest of ``lenet`` uses ``keras`` and ``keras.ops`` only. Each backend module has the same
functions: ``library_versions``, ``set_random_seed``, ``set_threads``, ``clear_session``,
``quiet_logs``, ``make_fit`` (with ``fit_inputs`` and ``prepare_training``),
``gpu_count``, ``accelerator`` and ``is_out_of_memory``. ``configured()`` and ``by_name()``
load neither Keras nor a backend library, so a supervisor of worker processes can choose
without paying for one.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import keras

SUPPORTED = ("tensorflow", "jax")
# What to install for each backend: the extras of pyproject.toml.
INSTALL = {"tensorflow": "pip install 'lenet-study[cpu]'", "jax": "pip install 'lenet-study[jax]'"}
# The module each backend needs, as Python imports it.
LIBRARY = {"tensorflow": "tensorflow", "jax": "jax"}


class Fit(Protocol):
    """What a backend's ``make_fit`` returns: trains its model from ``initial_epoch`` up to
    ``epochs``, as ``model.fit`` does, each call continuing from the model's state."""

    def __call__(
        self,
        epochs: int,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        initial_epoch: int = 0,
    ) -> None: ...


def keras_fit(model: keras.Model, inputs: dict[str, Any]) -> Fit:
    """A ``Fit`` that runs ``model.fit(**inputs)``: the step-by-step path of either backend."""

    def fit_to(
        epochs: int, callbacks: Sequence[keras.callbacks.Callback] = (), initial_epoch: int = 0
    ) -> None:
        model.fit(
            **inputs,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=list(callbacks),
            verbose=0,
        )

    return fit_to


def configured() -> str:
    """The backend Keras will load, found the way Keras finds it, without importing Keras.

    ``KERAS_BACKEND`` first, then ``"backend"`` in ``$KERAS_HOME/keras.json`` (default
    ``~/.keras/keras.json``), else ``"tensorflow"``.
    """
    name = os.environ.get("KERAS_BACKEND")
    if name:
        return name
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        config = json.loads((home / "keras.json").read_text())
    except (OSError, ValueError):
        return "tensorflow"
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) and backend else "tensorflow"


def installed(name: str) -> bool:
    """Whether the backend's library can be imported here (without importing it)."""
    from importlib.util import find_spec

    return name in LIBRARY and find_spec(LIBRARY[name]) is not None


def by_name(name: str) -> ModuleType:
    """The backend module for ``name``; importing it imports that backend's library.

    Raises:
        ValueError: ``name`` is not one of ``SUPPORTED``.
    """
    if name not in SUPPORTED:
        raise ValueError(f"backend must be one of {', '.join(SUPPORTED)}, got {name!r}")
    return importlib.import_module(f"lenet.backends.{name}")


def current() -> ModuleType:
    """The module of the backend Keras runs on in this process (imports Keras)."""
    import keras

    return by_name(keras.backend.backend())
