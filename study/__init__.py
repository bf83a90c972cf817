"""The Optuna study around ``lenet``: search space, objective, runner, storage, export, report.

Names are imported on first use, so ``lenet-study --help`` does not wait for TensorFlow.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Objective",
    "RunSettings",
    "SearchSpace",
    "default_space",
    "load_best_model",
    "load_space",
    "run_study",
    "write_report",
]

_HOMES = {
    "SearchSpace": "study.space",
    "default_space": "study.space",
    "load_space": "study.space",
    "Objective": "study.objective",
    "RunSettings": "study.settings",
    "load_best_model": "study.export",
    "run_study": "study.runner",
    "write_report": "study.report",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'study' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
