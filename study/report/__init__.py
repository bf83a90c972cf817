"""The report: the study's facts, where its best trial came from, the best model retrained
against the classic LeNet-5 over several seeds, the paired test, figures, and
``report.html`` / ``report.pdf``.

``summary`` and ``origin`` compute typed records, ``retrain`` trains the two configurations
(``pool`` in several processes), ``figures`` draws, ``render`` (with ``blocks`` and
``comparison_page``) lays out the page, ``pdf`` prints it, ``write`` runs them in order. A
study with a size objective adds a section: ``front`` computes it, ``front_retrain`` retrains
its chosen trials and ``front_page`` lays it out.
``language`` gives them their words (a gettext catalogue per language), numbers and dates.

Names are imported on first use: a retraining process must quiet TensorFlow before it loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from study.report.origin import BestOrigin, CompletedTrial, Spent, best_origin
    from study.report.write import ReportFiles, ReportOptions, write_report

_HOMES = {
    "BestOrigin": "study.report.origin",
    "CompletedTrial": "study.report.origin",
    "Spent": "study.report.origin",
    "best_origin": "study.report.origin",
    "ReportFiles": "study.report.write",
    "ReportOptions": "study.report.write",
    "write_report": "study.report.write",
}
__all__ = [
    "BestOrigin",
    "CompletedTrial",
    "ReportFiles",
    "ReportOptions",
    "Spent",
    "best_origin",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'study.report' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
