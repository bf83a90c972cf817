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


# What Keras 3 itself accepts in keras.json (keras/src/backend/config.py); it raises on
# anything else while ``import keras`` runs, with a traceback.
KERAS_FLOATX = ("float16", "float32", "float64")
KERAS_DATA_FORMATS = ("channels_last", "channels_first")


def keras_config_path() -> Path:
    """The ``keras.json`` Keras reads at import: ``$KERAS_HOME/keras.json`` when
    ``KERAS_HOME`` is set, else ``~/.keras/keras.json`` (``/tmp/.keras`` when the home
    folder is not writable)."""
    if "KERAS_HOME" in os.environ:
        home = os.environ["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return Path(os.path.expanduser(os.path.join(home, "keras.json")))


def configured() -> str:
    """The backend Keras will load, found the way Keras finds it, without importing Keras.

    ``KERAS_BACKEND`` first, then ``"backend"`` in ``keras_config_path()``, else
    ``"tensorflow"``.
    """
    return os.environ.get("KERAS_BACKEND") or _keras_json_backend() or "tensorflow"


def configured_origin() -> str:
    """Where ``configured()`` found its name: ``KERAS_BACKEND``, keras.json, or Keras' default."""
    if os.environ.get("KERAS_BACKEND"):
        return "KERAS_BACKEND"
    if _keras_json_backend():
        return f'"backend" in {keras_config_path()}'
    return "Keras' default"


def _keras_json_backend() -> str | None:
    try:
        config = json.loads(keras_config_path().read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) and backend else None


def check_keras_config(backend_given: bool = False) -> None:
    """Checks ``keras_config_path()`` as Keras will read it, without importing Keras.

    A missing file is fine (Keras writes a default one). Keras stops with a traceback on a
    file it cannot open, one that is not a JSON object, or a ``floatx``, ``epsilon``,
    ``image_data_format`` or (without ``KERAS_BACKEND``) ``backend`` it does not know; and it
    silently ignores a file that is not JSON, whatever the user meant to set there.

    Args:
        backend_given: the caller sets ``KERAS_BACKEND`` before Keras loads, so the file's
            ``backend`` does not matter.

    Raises:
        ValueError: one line naming the file, what is wrong and how to fix it.
    """
    path = keras_config_path()
    if not os.path.lexists(path):
        return
    fix = "fix it, or delete it and Keras writes a default one"
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(
            f"cannot read Keras' settings file {path}: {exc.strerror}; {fix}"
        ) from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"Keras' settings file {path} is not valid JSON ({detail}); {fix}"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"Keras' settings file {path} holds a JSON {type(config).__name__}, not an object "
            f'such as {{"backend": "tensorflow"}}; {fix}'
        )
    wrong = _unknown_keras_setting(config, backend_given or bool(os.environ.get("KERAS_BACKEND")))
    if wrong:
        raise ValueError(f"Keras' settings file {path}: {wrong}; {fix}")


def _unknown_keras_setting(config: dict[str, Any], backend_given: bool) -> str | None:
    """What in a keras.json object Keras would refuse, or None."""
    for key, allowed in (("floatx", KERAS_FLOATX), ("image_data_format", KERAS_DATA_FORMATS)):
        if key in config and config[key] not in allowed:
            return f'"{key}" is {config[key]!r}, not one of {", ".join(allowed)}'
    if "epsilon" in config and not isinstance(config["epsilon"], float):
        return f'"epsilon" is {config["epsilon"]!r}, not a decimal number such as 1e-07'
    backend = config.get("backend", "tensorflow")
    if not backend_given and not (isinstance(backend, str) and backend):
        return f'"backend" is {backend!r}, not a backend name such as "tensorflow"'
    return None


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
