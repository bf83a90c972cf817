"""The report: the study's facts, the best model retrained against the classic LeNet-5 over
several seeds, the paired test, figures, and ``report.html`` / ``report.pdf``.

``summary`` computes typed records, ``retrain`` trains the two configurations (``pool`` in
several processes), ``figures`` draws, ``render`` lays out the page, ``pdf`` prints it,
``write`` runs them in order.

Names are imported on first use: a retraining process must quiet TensorFlow before it loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from study.report.write import ReportFiles, ReportOptions, write_report

__all__ = ["ReportFiles", "ReportOptions", "write_report"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'study.report' has no attribute {name!r}")
    from study.report import write

    return getattr(write, name)
