"""Which Keras backend a run uses, which GPUs it sees, and how its workers share them.

Light to import: the supervisor of worker processes decides all of this without loading
Keras, TensorFlow or JAX.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from lenet import backends
from study.errors import StudyError, UsageError

# Each worker's share of a GPU it shares with others: what XLA may take of it.
GPU_MEMORY_SHARE = 0.9


def select_backend(name: str | None = None) -> str:
    """Chooses this process's Keras backend; call before anything imports Keras.

    Every command that starts Keras calls it first: Keras reads keras.json and imports its
    backend while it is imported, and stops there with a traceback on a bad one.

    Args:
        name: ``--backend``; None: the one Keras would load (``KERAS_BACKEND``, keras.json).

    Returns:
        The backend's name, also set as ``KERAS_BACKEND`` for this process and its workers.

    Raises:
        UsageError: ``--backend`` names an unsupported backend (PyTorch among them), or Keras
            is already loaded with another one.
        StudyError: keras.json is one Keras cannot use; ``KERAS_BACKEND`` or keras.json
            names an unsupported backend; or the backend's library is not installed. The
            message says what to set or install.
    """
    try:
        backends.check_keras_config(backend_given=bool(name))
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    chosen = name or backends.configured()
    origin = "--backend" if name else backends.configured_origin()
    if chosen not in backends.SUPPORTED:
        if name:
            raise UsageError(
                f"the Keras backend {chosen!r} is not supported; use --backend tensorflow or jax"
            )
        raise StudyError(
            f"the Keras backend {chosen!r} ({origin}) is not supported; "
            "set KERAS_BACKEND=tensorflow or jax"
        )
    if not backends.installed(chosen):
        others = [b for b in backends.SUPPORTED if b != chosen and backends.installed(b)]
        other = f", or set KERAS_BACKEND={others[0]}" if others and not name else ""
        raise StudyError(
            f"the {chosen} backend is not installed: {backends.INSTALL[chosen]}{other}"
        )
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != chosen:
        raise UsageError(
            f"Keras is already running on {keras.backend.backend()} in this process; "
            f"set KERAS_BACKEND={chosen} before it starts"
        )
    os.environ["KERAS_BACKEND"] = chosen
    # A GPU process takes memory as it needs it rather than all of it at start-up, so that
    # several workers can share one GPU. No effect on a CPU machine.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return chosen


def _nvidia_device_files() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


def gpu_count(backend: str) -> int:
    """The GPUs ``backend`` can use on this machine, without loading it here.

    No NVIDIA device files: 0 at once. Otherwise a short child process asks the backend, so
    that this process holds no GPU context or memory.
    """
    if not _nvidia_device_files():
        return 0
    code = f"from lenet.backends import by_name; print(by_name({backend!r}).gpu_count())"
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
        )
        return int(result.stdout.split()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return 0


def check_devices(devices: tuple[int, ...] | None, visible: int) -> tuple[int, ...]:
    """The GPUs to spread workers over: ``devices`` (``--devices``), or every visible one.

    Raises:
        UsageError: a device that is not there.
    """
    if devices is None:
        return tuple(range(visible))
    if not visible:
        raise UsageError(
            f"--devices {','.join(map(str, devices))}: no GPU is visible on this machine"
        )
    missing = [d for d in devices if not 0 <= d < visible]
    if missing:
        raise UsageError(
            f"--devices: no GPU {missing[0]} here; this machine has GPUs 0..{visible - 1}"
        )
    return devices


def parse_devices(text: str) -> tuple[int, ...]:
    """``"0,1"`` -> ``(0, 1)``.

    Raises:
        ValueError: not a comma-separated list of GPU indexes.
    """
    try:
        devices = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"expected GPU indexes such as 0,1; got {text!r}") from None
    if any(d < 0 for d in devices):
        raise ValueError(f"expected GPU indexes such as 0,1; got {text!r}")
    return devices


def worker_environment(
    backend: str, devices: tuple[int, ...], workers: int, index: int
) -> dict[str, str]:
    """The environment variables of worker ``index`` of ``workers``.

    Workers take the GPUs in turn (worker i: ``devices[i % len(devices)]``), each seeing
    only its own as ``CUDA_VISIBLE_DEVICES``, and taking GPU memory as it needs it: on JAX,
    at most its share of ``GPU_MEMORY_SHARE`` among the workers on that GPU. No GPUs: only the
    backend.
    """
    env = {"KERAS_BACKEND": backend}
    if not devices:
        return env
    device = devices[index % len(devices)]
    sharing = Counter(devices[i % len(devices)] for i in range(workers))[device]
    # Indexes count the GPUs this process sees; pass on the physical ids those map to.
    seen = os.environ.get("CUDA_VISIBLE_DEVICES")
    physical = seen.split(",")[device] if seen else str(device)
    env.update(
        {
            "CUDA_VISIBLE_DEVICES": physical.strip(),
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
            "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{GPU_MEMORY_SHARE / sharing:.3f}",
        }
    )
    return env
