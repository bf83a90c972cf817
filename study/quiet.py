"""TensorFlow without its start-up chatter on stderr; light to import.

``TF_CPP_MIN_LOG_LEVEL`` silences TensorFlow's own C++ log (cpu_feature_guard, cuInit), but
TensorFlow 2.21's shared libraries log through absl before absl is initialized, and absl then
writes straight to file descriptor 2 ("WARNING: All log messages before
absl::InitializeLog() ...", "oneDNN custom operations are on", "Could not find cuda
drivers"), whatever the level. So the first ``import tensorflow`` runs with descriptor 2 on a
temporary file, and whatever else it wrote (a real error) is passed on to stderr.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Lines TensorFlow writes on every start on a machine without a GPU; nothing to act on.
NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "cpu_feature_guard",
    "To enable the following instructions",
    "Unable to register cu",  # cuDNN/cuFFT/cuBLAS factories, on some builds
)
# In the environment before TensorFlow's C++ library loads, and inherited by worker processes.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def is_noise(line: str) -> bool:
    return any(marker in line for marker in NOISE)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        for finder in [f for f in sys.meta_path if isinstance(f, _QuietFinder)]:
            sys.meta_path.remove(finder)  # once: later imports find the loaded module
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                text = captured.read().decode(errors="replace")
                kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, and wraps its loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        # Stays on sys.meta_path until the import runs: importlib.util.find_spec("tensorflow")
        # (is it installed?) asks finders too, without importing.
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow() -> None:
    """Sets ``QUIET_ENV`` and makes this process' first ``import tensorflow`` quiet.

    Call it before anything imports TensorFlow; TensorFlow itself is not imported here.
    """
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())
