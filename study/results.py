"""Reading a study back: the trials as a pandas table."""

from __future__ import annotations

import optuna
import pandas as pd

_USER_COLUMNS = ("best_epoch", "epochs_run", "n_params", "seconds_per_epoch", "end")


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
