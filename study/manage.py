"""Study management as Optuna's CLI has it: list the studies of a storage, ask before deleting.

Listing opens the storage with ``open_existing_storage``: a missing database is an error, and
nothing is created. Deleting is ``study.deletion``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from study.errors import UsageError
from study.objectives import study_objectives
from study.storage import manifest_of, open_existing_storage
from study.text import table as text_table


@dataclass(frozen=True)
class StudyRow:
    """One study of a storage, as ``lenet-study studies`` lists it."""

    name: str
    states: dict[str, int]  # trials by state, e.g. {"complete": 3, "pruned": 1}
    best_value: float | None
    created: datetime | None  # the manifest's creation time, else the first trial's start

    @property
    def n_trials(self) -> int:
        return sum(self.states.values())


def _created(summary: optuna.study.StudySummary) -> datetime | None:
    text = manifest_of(summary).get("created")
    if text:
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            pass
    return summary.datetime_start


def _best_accuracy(summary: optuna.study.StudySummary, trials: list[FrozenTrial]) -> float | None:
    """The best value of a single-objective study, the highest val_accuracy of a study with a
    size objective (Optuna's summary has no best trial for several objectives), else None."""
    if summary.best_trial is not None:
        return summary.best_trial.value
    objectives = study_objectives(manifest_of(summary))
    if len(summary.directions) == 1 or len(objectives) != len(summary.directions):
        return None  # nothing completed, or objectives of a study made by plain Optuna
    completed = [t.values[0] for t in trials if t.state == TrialState.COMPLETE and t.values]
    return max(completed, default=None)


def list_studies(storage_url: str) -> list[StudyRow]:
    """The storage's studies, by name.

    Raises:
        StudyError: there is no database at ``storage_url``, or it cannot be read.
    """
    storage = open_existing_storage(storage_url)
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
        study_id = storage.get_study_id_from_name(summary.study_name)
        trials = storage.get_all_trials(study_id, deepcopy=False)
        states = [t.state for t in trials]
        rows.append(
            StudyRow(
                name=summary.study_name,
                states={s.name.lower(): states.count(s) for s in TrialState if s in states},
                best_value=_best_accuracy(summary, trials),
                created=_created(summary),
            )
        )
    return sorted(rows, key=lambda row: row.name)


def format_studies(rows: list[StudyRow]) -> str:
    """The rows as an aligned table, or a line saying there are none."""
    if not rows:
        return "no studies yet; run `lenet-study run`"
    table = [("name", "trials", "best val_accuracy", "created")]
    for row in rows:
        states = ", ".join(f"{count} {state}" for state, count in row.states.items())
        table.append(
            (
                row.name,
                f"{row.n_trials} ({states})" if states else "0",
                f"{row.best_value:.4f}" if row.best_value is not None else "-",
                row.created.strftime("%Y-%m-%d %H:%M") if row.created else "-",
            )
        )
    return text_table(table)


def confirmed(question: str, assume_yes: bool, stdin: TextIO | None = None) -> bool:
    """True with ``assume_yes``; else asks ``question`` on the terminal, "y" or "yes" is True.

    Raises:
        UsageError: neither ``assume_yes`` nor a terminal to ask on.
    """
    if assume_yes:
        return True
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        raise UsageError("not deleting without a terminal to ask on; pass --yes to delete")
    print(question, end="", flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")
