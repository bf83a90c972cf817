"""``lenet-study bench``: what a study costs on this machine, and how its search compares.

``throughput`` times epochs of plain ``model.fit`` against our training paths; ``measure``
times trial start-up, pruning and memory; ``workers`` compares worker layouts; ``suite`` runs
them in order and renders the table (``bench cost``, the default, on TensorFlow).
``speed`` (``bench speed``) times epochs on whichever backend Keras runs on. ``peers``
(``bench peers``) compares our search with random search and KerasTuner's Hyperband at
equal wall-clock budgets; ``keras_tuner_adapter`` runs KerasTuner on our space and training
code. ``front`` (``bench front``) measures the front pruner of a multi-objective study against
TPE and random search without it, over seeds (its figures: ``front_summary``); ``contest``
holds what peers and front share.

Names are imported on first use, so that ``study.bench.peers`` loads without TensorFlow: its
KerasTuner process must silence TensorFlow before importing it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BenchReport", "BenchSizes", "render", "run_bench"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'study.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("study.bench.suite"), name)
