"""Study management as Optuna's CLI has it: list the studies of a storage, delete one.

Both open the storage with ``open_existing_storage``: a missing database is an error, and
nothing is created.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import optuna
from optuna.trial import TrialState

from study.artifacts import artifact_dir
from study.errors import UsageError
from study.masking import mask_url
from study.storage import no_such_study, open_existing_storage

ARTIFACT_ATTR = "model_artifact_id"  # the trial user attribute naming its model file


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
    text = summary.user_attrs.get("manifest", {}).get("created")
    if text:
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            pass
    return summary.datetime_start


def list_studies(storage_url: str) -> list[StudyRow]:
    """The storage's studies, by name.

    Raises:
        StudyError: there is no database at ``storage_url``, or it cannot be read.
    """
    storage = open_existing_storage(storage_url)
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
        study_id = storage.get_study_id_from_name(summary.study_name)
        states = [t.state for t in storage.get_all_trials(study_id, deepcopy=False)]
        best = summary.best_trial.value if summary.best_trial is not None else None
        rows.append(
            StudyRow(
                name=summary.study_name,
                states={s.name.lower(): states.count(s) for s in TrialState if s in states},
                best_value=best,
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
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


@dataclass(frozen=True)
class Deletion:
    """What deleting a study removes: its trials, its model files and its output folder."""

    storage_url: str
    study_name: str
    n_trials: int
    model_files: list[Path]  # the trials' model artifacts that exist
    folder: Path | None  # RESULTS_DIR/STUDY_NAME (export and report), if it exists

    @property
    def question(self) -> str:
        return f"delete study {self.study_name} with {self.n_trials} trials? [y/N] "


def plan_deletion(storage_url: str, study_name: str, results_dir: Path) -> Deletion:
    """Finds what deleting the study would remove, removing nothing.

    Raises:
        StudyError: no database at ``storage_url``, or no such study in it.
    """
    storage = open_existing_storage(storage_url)
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        raise no_such_study(storage, storage_url, study_name) from None
    trials = storage.get_all_trials(study_id, deepcopy=False)
    store = artifact_dir(results_dir)
    ids = [t.user_attrs[ARTIFACT_ATTR] for t in trials if ARTIFACT_ATTR in t.user_attrs]
    files = [store / str(artifact_id) for artifact_id in ids]
    folder = results_dir / study_name
    return Deletion(
        storage_url=storage_url,
        study_name=study_name,
        n_trials=len(trials),
        model_files=[path for path in files if path.is_file()],
        folder=folder if folder.is_dir() else None,
    )


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


def delete(plan: Deletion, keep_files: bool = False) -> list[str]:
    """Deletes the study and, unless ``keep_files``, its model files and output folder.

    Returns:
        One line per thing deleted or left.
    """
    optuna.delete_study(study_name=plan.study_name, storage=plan.storage_url)
    where = mask_url(plan.storage_url)
    lines = [f"deleted study {plan.study_name!r} ({plan.n_trials} trials) from {where}"]
    models = ""
    if plan.model_files:
        models = f"{len(plan.model_files)} model files in {plan.model_files[0].parent}"
    if keep_files:
        if plan.model_files:
            lines.append(f"left {models}")
        if plan.folder is not None:
            lines.append(f"left {plan.folder}")
        return lines
    for path in plan.model_files:
        path.unlink(missing_ok=True)
    if plan.model_files:
        lines.append(f"deleted {models}")
    if plan.folder is not None:
        shutil.rmtree(plan.folder)
        lines.append(f"deleted {plan.folder}")
    return lines
