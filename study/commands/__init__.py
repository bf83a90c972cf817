"""The sub-commands of ``lenet-study``, one module each: ``add_parser(subparsers)`` adds its
arguments and sets ``handler`` to its ``command(args) -> exit code``."""

from __future__ import annotations

from study.commands import (
    bench,
    dashboard,
    delete_study,
    evaluate,
    export,
    predict,
    report,
    run,
    studies,
    trials,
)

# In the order `lenet-study --help` lists them.
MODULES = (run, trials, export, evaluate, predict, dashboard, report, studies, delete_study, bench)

__all__ = ["MODULES"]
