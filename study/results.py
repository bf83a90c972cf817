"""Reading a study back: the best trial, the trials as a pandas table, numbers for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from study.errors import UsageError
from study.trial_record import OverBudget, TrialRecord

_USER_COLUMNS = ("best_epoch", "epochs_run", "n_params", "seconds_per_epoch", "end")


def best_trial_or_none(study: optuna.Study) -> FrozenTrial | None:
    """The completed trial with the highest validation accuracy (in a study with a size
    objective too, the most accurate point of its front), or None while none has completed."""
    if len(study.directions) == 1:
        try:
            return study.best_trial
        except ValueError:
            return None
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    # The first of equals, as Optuna's best_trial: trials in number order, max keeps the first.
    return max(completed, key=lambda t: t.values[0], default=None)


def accuracy_of(trial: FrozenTrial) -> float | None:
    """A trial's validation accuracy: its value, or its first value with a size objective."""
    return trial.values[0] if trial.values else None


def trained_epochs(trial: FrozenTrial) -> int:
    """The epochs a trial trained: as its objective recorded them, else its reported values."""
    epochs = TrialRecord.of(trial).epochs_run
    return int(len(trial.intermediate_values) if epochs is None else epochs)


def over_budget(trial: FrozenTrial) -> bool:
    """Whether the trial was pruned before training, its model over the parameter budget."""
    return isinstance(TrialRecord.of(trial).end, OverBudget)


def format_value(value: Any) -> str:
    """A parameter or metric for people: floats to 4 significant digits, whole floats bare."""
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def live_trial(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial:
    """A writable ``optuna.Trial`` for a finished ``FrozenTrial`` (optuna-dashboard's
    ``save_note`` takes only a live one). Optuna has no public way to get it back: the trial's
    storage id is a private attribute, read here and nowhere else."""
    return optuna.Trial(study, trial._trial_id)


def trials_table(study: optuna.Study, front_only: bool = False) -> pd.DataFrame:
    """One row per trial: number, state, val_accuracy, duration, parameters, epochs, size.

    Built on ``Study.trials_dataframe`` with the per-epoch history left out (it is a list). A
    study with a size objective also has that objective's value (``params`` or ``macs``) after
    val_accuracy, and ``front``: whether the trial is on its accuracy-size Pareto front.

    Args:
        front_only: only the front's trials, smallest first, with the size and ``front``
            columns; a single-objective study's front is drawn against its trials' parameters.

    Raises:
        UsageError: ``front_only`` for a study with objectives lenet-study did not record.
    """
    from study.objectives import metric_names, study_objectives
    from study.storage import manifest_of

    objectives = study_objectives(manifest_of(study))
    known = len(objectives) == len(study.directions)  # else made by plain Optuna, no manifest
    if front_only and not known:
        raise UsageError(
            f"study {study.study_name!r} has {len(study.directions)} objectives and no record "
            "of what they measure, so it has no accuracy-size front; list it without --front"
        )
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "duration", "params", "user_attrs")
    )
    if frame.empty:
        return frame
    values = [c for c in frame.columns if c.startswith("value")]
    if len(values) == 1:
        names = ["val_accuracy"]
    elif known:
        names = metric_names(objectives)
    else:  # Optuna's own names: values_0, values_1, or the metric names it was given
        names = values
    frame = frame.rename(columns=dict(zip(values, names, strict=True)))
    frame.columns = [c.removeprefix("params_").removeprefix("user_attrs_") for c in frame.columns]
    frame["duration"] = frame["duration"].dt.total_seconds().round(1)
    if known and (front_only or len(names) > 1):
        frame, names = _with_front(study, frame, objectives, front_only)
    keep = ["number", "state", *names, "duration"]
    keep += sorted(study.trials[0].distributions) if study.trials else []
    keep += [c for c in _USER_COLUMNS if c in frame.columns]
    return frame[[c for c in keep if c in frame.columns]]


def _with_front(
    study: optuna.Study, frame: pd.DataFrame, objectives: Sequence[str], front_only: bool
) -> tuple[pd.DataFrame, list[str]]:
    """The frame with its size column (a count: whole numbers) and ``front``; with
    ``front_only``, the front's rows alone, smallest first."""
    from study.objectives import pareto_front, size_objective, trial_points

    size = size_objective(objectives)
    points = trial_points(study, objectives)
    front = [p.number for p in pareto_front(points)]
    if len(objectives) == 1:  # sizes from the trials' records, as the front has them
        frame[size] = frame["number"].map({p.number: p.size for p in points})
    frame[size] = frame[size].astype("float64").round().astype("Int64")
    frame["front"] = frame["number"].isin(front)
    if front_only:
        order = {number: rank for rank, number in enumerate(front)}
        frame = frame[frame["front"]].sort_values("number", key=lambda n: n.map(order))
    return frame, ["val_accuracy", size, "front"]


def format_trials_table(table: pd.DataFrame) -> str:
    """``trials_table`` for a terminal: a dash where a trial has no value (pruned), and a
    star on the front's trials."""
    shown = table.astype(object).where(table.notna(), "-")  # a pruned trial has no value
    if "front" in table.columns:
        shown["front"] = table["front"].map({True: "*", False: ""})
    return str(shown.to_string(index=False)) if len(table) else "no trials yet"


def summarize_best(study: optuna.Study) -> str:
    """A few lines on the best trial, or why there is none."""
    states = [t.state for t in study.trials]
    counts = ", ".join(
        f"{states.count(s)} {s.name.lower()}" for s in TrialState if states.count(s)
    )
    best = best_trial_or_none(study)
    if best is None:
        return f"{len(states)} trials ({counts}); none completed"
    if len(study.directions) > 1:
        return f"{len(states)} trials ({counts})\n{summarize_front(study)}"
    record = TrialRecord.of(best)
    params = ", ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
    return (
        f"{len(states)} trials ({counts})\n"
        f"{'best' if len(study.directions) == 1 else 'most accurate'}: trial {best.number}, "
        f"val_accuracy {best.values[0]:.4f} "
        f"at epoch {record.best_epoch}, {record.n_params} parameters\n"
        f"      {params}"
    )


def summarize_front(study: optuna.Study) -> str:
    """A line on a multi-objective study's front: how many trials, from which to which."""
    from study.objectives import pareto_front, study_objectives, trial_points
    from study.storage import manifest_of

    objectives = study_objectives(manifest_of(study))
    front = pareto_front(trial_points(study, objectives))
    size = objectives[1] if len(objectives) > 1 else "params"
    ends = " to ".join(
        f"trial {p.number} ({int(p.size):,} {size}, val_accuracy {p.accuracy:.4f})"
        for p in (front[0], front[-1])[: len(front)]
    )
    return f"front: {len(front)} trials, from {ends}"
