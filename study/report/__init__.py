"""The report: the study's facts, where its best trial came from, the best model retrained
against the classic LeNet-5 over several seeds, the paired test, figures, and
``report.html`` / ``report.pdf``.

``summary`` and ``origin`` compute typed records, ``retrain`` trains the two configurations,
``figures`` draws, ``render`` lays out the page, ``pdf`` prints it, ``write`` runs them in order.
"""

from __future__ import annotations

from study.report.origin import BestOrigin, CompletedTrial, Spent, best_origin
from study.report.write import ReportFiles, ReportOptions, write_report

__all__ = [
    "BestOrigin",
    "CompletedTrial",
    "ReportFiles",
    "ReportOptions",
    "Spent",
    "best_origin",
    "write_report",
]
