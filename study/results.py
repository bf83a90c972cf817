"""Reading a study back: the best trial, the trials as a pandas table, numbers for people."""

from __future__ import annotations

from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from study.trial_record import OverBudget, TrialRecord

_USER_COLUMNS = ("best_epoch", "epochs_run", "n_params", "seconds_per_epoch", "end")


def best_trial_or_none(study: optuna.Study) -> FrozenTrial | None:
    """The completed trial with the highest value, or None while no trial has completed."""
    try:
        return study.best_trial
    except ValueError:
        return None


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


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, val_accuracy, duration, parameters, epochs, size.

    Built on ``Study.trials_dataframe`` with the per-epoch history left out (it is a list).
    """
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "duration", "params", "user_attrs")
    )
    if frame.empty:
        return frame
    frame = frame.rename(columns=lambda c: "val_accuracy" if c.startswith("value") else c)
    frame.columns = [c.removeprefix("params_").removeprefix("user_attrs_") for c in frame.columns]
    frame["duration"] = frame["duration"].dt.total_seconds().round(1)
    keep = ["number", "state", "val_accuracy", "duration"]
    keep += sorted(study.trials[0].distributions) if study.trials else []
    keep += [c for c in _USER_COLUMNS if c in frame.columns]
    return frame[[c for c in keep if c in frame.columns]]


def format_trials_table(table: pd.DataFrame) -> str:
    """``trials_table`` for a terminal: a dash where a trial has no value (pruned)."""
    shown = table.astype(object).where(table.notna(), "-")  # a pruned trial has no value
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
    record = TrialRecord.of(best)
    params = ", ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
    return (
        f"{len(states)} trials ({counts})\n"
        f"best: trial {best.number}, val_accuracy {best.value:.4f} "
        f"at epoch {record.best_epoch}, {record.n_params} parameters\n"
        f"      {params}"
    )
