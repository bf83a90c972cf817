"""``lenet-study bench``: what a study costs on this machine.

``measure`` times training, trial start-up, pruning and memory; ``workers`` compares worker
layouts; ``suite`` runs them in order and renders the table.

Names are imported on first use, so that a module of the package loads without TensorFlow
when it needs to.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BenchReport", "BenchSizes", "render", "run_bench", "write_json"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'study.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("study.bench.suite"), name)
