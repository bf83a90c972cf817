"""The in-process measurements of ``lenet-study bench``: trials, pruning, memory.

Each function returns a small record; ``study.bench`` runs them in order and draws the table.
"""

from __future__ import annotations

import gc
import io
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np
import optuna

from lenet import Splits, TrainConfig, TrainingDiverged
from study.memory import reset_peak_rss, status_mib
from study.objective import Objective
from study.runner import run_study
from study.settings import RunSettings
from study.trial_record import TrialRecord


@dataclass(frozen=True)
class TrialCosts:
    """One worker's trials in one process: start-up overhead and memory."""

    trials: int
    first_overhead_seconds: float  # trial start to first step, less that step's compute
    later_overhead_seconds: float  # median over the later trials
    later_overhead_max_seconds: float
    peak_rss_mib: float  # VmHWM of this process over the trials
    rss_growth_mib_per_trial: float  # least-squares slope of RSS after each trial
    rss_after_trial_mib: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PrunedStudy:
    """One small study: what it trained and what it found."""

    pruner: str
    trials: int
    epochs_trained: int
    seconds: float
    best_val_accuracy: float


@dataclass(frozen=True)
class Pruning:
    with_pruner: PrunedStudy  # hyperband
    without: PrunedStudy
    epochs_saved_fraction: float
    accuracy_change_points: float  # with minus without, in percentage points


# -- memory -------------------------------------------------------------------------------


def _slope(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(values)), values, 1)[0])


# -- per-trial overhead and memory ----------------------------------------------------------


class _FirstStepTimer(keras.callbacks.Callback):
    """Times a trial's first training step, less the compute of the steps it ran.

    Keras runs ``steps_per_execution`` steps per call, so the first call's end includes their
    compute. The first call of the second epoch runs the same steps, already traced: its time
    is that compute, and the difference is the overhead (build, tracing, data pipeline).
    """

    def __init__(self) -> None:
        super().__init__()
        self.trial_start = 0.0
        self.overheads: list[float] = []
        self._first_end: float | None = None
        self._to_first_end = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._epoch_start, self._first_end = epoch, time.perf_counter(), None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._first_end is not None:
            return
        self._first_end = time.perf_counter()
        if self._epoch == 0:
            self._to_first_end = self._first_end - self.trial_start
        elif self._epoch == 1:
            self.overheads.append(self._to_first_end - (self._first_end - self._epoch_start))


def measure_trial_costs(splits: Splits, trials: int, seed: int = 0) -> TrialCosts:
    """Runs ``trials`` 2-epoch trials of the search space in this process, unpruned.

    Call it before anything else trains in the process: its first trial is the figure for
    a worker's first trial.
    """
    timer = _FirstStepTimer()
    objective = Objective(
        splits=splits, base_train=TrainConfig(epochs=2, seed=seed), callbacks=(timer,)
    )
    rss: list[float] = []

    def timed(trial: optuna.Trial) -> float | tuple[float, float]:
        timer.trial_start = time.perf_counter()
        return objective(trial)

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner(),
    )
    gc.freeze()  # as run_study does: the imports and data are out of every trial's collections
    reset_peak_rss()
    study.optimize(
        timed,
        n_trials=trials,
        catch=(TrainingDiverged,),  # a diverged trial still costs its start-up; keep going
        gc_after_trial=True,
        callbacks=[lambda study, trial: rss.append(status_mib("VmRSS"))],
    )
    later = timer.overheads[1:] or [float("nan")]
    return TrialCosts(
        trials=trials,
        first_overhead_seconds=timer.overheads[0],
        later_overhead_seconds=statistics.median(later),
        later_overhead_max_seconds=max(later),
        peak_rss_mib=status_mib("VmHWM"),
        # The first trials warm caches (oneDNN kernels, Optuna's sampler); growth is after.
        rss_growth_mib_per_trial=_slope(rss[2:] if len(rss) > 3 else rss),
        rss_after_trial_mib=[round(r, 1) for r in rss],
    )


# -- pruning ------------------------------------------------------------------------------


def measure_pruned_study(settings: RunSettings) -> PrunedStudy:
    """Runs one study through ``run_study`` (the real worker path) and sums what it trained."""
    study = run_study(settings, out=io.StringIO())
    trials = study.trials
    return PrunedStudy(
        pruner=settings.pruner,
        trials=len(trials),
        epochs_trained=sum(TrialRecord.of(t).epochs_run or 0 for t in trials),
        seconds=sum(t.duration.total_seconds() for t in trials if t.duration),
        best_val_accuracy=study.best_value,
    )


def measure_pruning(base: RunSettings) -> Pruning:
    """The same study (seed, trials, data) with the hyperband pruner and with none."""
    runs = {}
    for pruner in ("hyperband", "none"):
        name = f"bench-pruning-{pruner}"
        runs[pruner] = measure_pruned_study(replace(base, study_name=name, pruner=pruner))
    with_pruner, without = runs["hyperband"], runs["none"]
    return Pruning(
        with_pruner=with_pruner,
        without=without,
        epochs_saved_fraction=1 - with_pruner.epochs_trained / without.epochs_trained,
        accuracy_change_points=100 * (with_pruner.best_val_accuracy - without.best_val_accuracy),
    )
