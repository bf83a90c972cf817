"""The Optuna objective: sample a LeNet-5 variant, train it with pruning, keep its best epoch."""

from __future__ import annotations

import math
import os
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import keras
import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from lenet import (
    EpochRecorder,
    ModelConfig,
    OutOfDeviceMemory,
    Splits,
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    clear_session,
    count_macs,
    count_params,
    evaluate_model,
    train,
)
from study.memory import status_mib
from study.objectives import SINGLE, size_of
from study.samplers import FrontReach
from study.space import SearchSpace, default_space, suggest, to_configs
from study.storage import METRIC
from study.trial_record import Completed, Failed, OverBudget, Pruned, TrialRecord

BUDGET_CONSTRAINT = "params_over_budget"  # parameters above [limits] max_params; <= 0 fits


@dataclass
class Objective:
    """Trains one sampled variant per call and returns its best epoch's validation accuracy.

    The data are loaded once by the caller and shared by every trial.

    Attributes:
        splits: training and validation images (never the test set).
        base_train: training settings the space does not sample (epochs, seed, ...).
        space: the search space.
        base_model: model settings the space does not sample.
        artifact_store: where completed trials' best-epoch models are kept, if anywhere.
        callbacks: extra Keras callbacks for every trial's training (timers, probes).
        epoch_lines: where a line per finished epoch goes (``run -v``), if anywhere.
        tell_budget: tell the sampler each trial's distance to the parameter budget
            (``trial.set_constraint``); off, an over-budget trial is only pruned.
        objectives: ``accuracy``, or ``accuracy`` and a size (``study.objectives``): then
            each call returns the accuracy and the model's size.
        front_pruner: with a size objective, what stops a trial early (``--pruner front``);
            Optuna's pruners take one objective.
    """

    splits: Splits
    base_train: TrainConfig
    space: SearchSpace = field(default_factory=default_space)
    base_model: ModelConfig = ModelConfig.classic()  # noqa: RUF009 (frozen, so shared is fine)
    artifact_store: FileSystemArtifactStore | None = None
    callbacks: Sequence[keras.callbacks.Callback] = ()
    epoch_lines: Callable[[str], None] | None = None
    tell_budget: bool = True
    objectives: tuple[str, ...] = SINGLE
    front_pruner: FrontReach | None = None

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        # Each trial builds new graphs; this frees the earlier ones (see lenet.session) and
        # runs the garbage collector, so no gc.collect() of our own.
        clear_session()
        model_config, train_config = to_configs(
            {**self.space.fixed, **suggest(trial, self.space)}, self.base_model, self.base_train
        )
        n_params = count_params(model_config)
        TrialRecord(n_params=n_params, n_macs=count_macs(model_config)).write(trial)
        size = size_of(self.objectives[1], model_config) if len(self.objectives) > 1 else None
        if self.space.max_params is not None:
            # A constraint, not just a pruned trial: TPE ranks infeasible trials by how far
            # over they are, so it learns where the budget ends (Optuna's constrained TPE).
            if self.tell_budget:
                trial.set_constraint(BUDGET_CONSTRAINT, n_params - self.space.max_params)
            if n_params > self.space.max_params:
                TrialRecord(end=OverBudget(n_params, self.space.max_params)).write(trial)
                raise optuna.TrialPruned(f"{n_params} parameters over the budget")
        # Initial weights, dropout masks and shuffling differ per trial, yet are reproducible.
        train_config = replace(train_config, seed=self.base_train.seed + trial.number)
        TrialRecord(
            seed=train_config.seed,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            backend=keras.backend.backend(),
            # Read by the pruner (samplers.ScreenedStartup); none without a warm-up.
            warmup_epochs=train_config.warmup_epochs or None,
        ).write(trial)
        recorder = EpochRecorder()
        try:
            result = train(
                model_config,
                train_config,
                self.splits,
                callbacks=[
                    PruningCallback(
                        trial,
                        train_config.epochs,
                        train_config.warmup_epochs,
                        front=None if size is None else (self.front_pruner, size),
                    ),
                    *self._epoch_lines(trial.number, train_config.epochs),
                    *self.callbacks,
                ],
                recorder=recorder,
            )
        except optuna.TrialPruned:
            _record(trial, recorder.history, recorder.seconds, None)
            TrialRecord(end=Pruned(len(recorder.seconds))).write(trial)
            raise
        except (TrainingDiverged, OutOfDeviceMemory) as exc:
            _record(trial, recorder.history, recorder.seconds, None)
            TrialRecord(end=Failed(str(exc))).write(trial)
            raise
        value = result.best_val_accuracy
        if not math.isfinite(value):
            TrialRecord(end=Failed(f"val_accuracy is {value}")).write(trial)
            raise TrainingDiverged(f"val_accuracy is {value}")
        _record(trial, result.history, result.seconds_per_epoch, result)
        validation = evaluate_model(result.model, self.splits.x_val, self.splits.y_val)
        TrialRecord(val_confusion=validation.confusion, end=Completed()).write(trial)
        if self.artifact_store is not None:
            save_trial_model(trial, result, self.artifact_store)
        return value if size is None else (value, float(size))

    def _epoch_lines(self, number: int, epochs: int) -> list[keras.callbacks.Callback]:
        return [] if self.epoch_lines is None else [EpochLines(self.epoch_lines, number, epochs)]


class PruningCallback(keras.callbacks.Callback):
    """Reports each epoch's validation accuracy to the trial and prunes when the pruner says.

    Never during a learning-rate warm-up, whose low early accuracy says little about the end
    (a pruner comparing it with constant-rate trials would cut every warm-up short), and not
    after the last epoch, which it only reports: the training is paid for by then.

    With ``front`` (a ``FrontReach`` and the model's size), a trial of a multi-objective study,
    which Optuna lets report nothing, keeps its curve here and asks that pruner instead.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        epochs: int,
        warmup_epochs: int = 0,
        front: tuple[FrontReach | None, float] | None = None,
    ) -> None:
        super().__init__()
        self.trial = trial
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.front = front
        self.curve: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not logs or METRIC not in logs:
            return
        value, done = float(logs[METRIC]), epoch + 1
        if self.front is None:
            self.trial.report(value, step=epoch)
        else:
            self.curve.append(value)
        if self.warmup_epochs < done < self.epochs and self._should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {done}")

    def _should_prune(self) -> bool:
        if self.front is None:
            return self.trial.should_prune()
        pruner, size = self.front
        return pruner is not None and pruner.should_stop(self.trial.study, size, self.curve)


class EpochLines(keras.callbacks.Callback):
    """Passes a line per finished epoch to ``write`` (``lenet-study run -v``)."""

    def __init__(self, write: Callable[[str], None], trial_number: int, epochs: int) -> None:
        super().__init__()
        self.write = write
        self.trial_number = trial_number
        self.epochs = epochs

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        values = "  ".join(
            f"{key} {float(logs[key]):.4f}" for key in ("loss", METRIC) if key in logs
        )
        seconds = time.perf_counter() - self._start
        self.write(
            f"trial {self.trial_number:>3}  epoch {epoch + 1:>2}/{self.epochs}  {values}  "
            f"{seconds:5.1f} s"
        )


def _record(
    trial: optuna.Trial,
    history: dict[str, list[float]],
    seconds: list[float],
    result: TrainResult | None,
) -> None:
    TrialRecord(
        history=history,
        epochs_run=len(seconds),
        seconds_per_epoch=sum(seconds) / len(seconds) if seconds else None,
        # With the worker's host:pid, this shows whether a long-running worker's memory grows.
        worker_rss_mib=round(status_mib("VmRSS"), 1),
        best_epoch=None if result is None else result.best_epoch,
        n_params=None if result is None else result.model.count_params(),
    ).write(trial)


def save_trial_model(
    trial: optuna.Trial, result: TrainResult, store: FileSystemArtifactStore
) -> str:
    """Saves the best-epoch model as ``trial-N.keras`` and registers it with the trial.

    A model the trial could not register (the storage failed) is removed from the store
    again, so that no file outlives the trial that would name it.

    Returns:
        The artifact id, also stored as the trial's ``model_artifact_id`` user attribute.
    """
    written = _WrittenIds(store)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}.keras"
        result.model.save(path)
        try:
            artifact_id = upload_artifact(
                artifact_store=written, file_path=str(path), study_or_trial=trial
            )
            TrialRecord(model_artifact_id=artifact_id).write(trial)
        except BaseException:
            for orphan in written.ids:
                store.remove(orphan)
            raise
    return artifact_id


class _WrittenIds:
    """An artifact store that remembers the ids written through it (``upload_artifact``
    draws the id itself, and other workers write to the same folder)."""

    def __init__(self, store: FileSystemArtifactStore) -> None:
        self.store = store
        self.ids: list[str] = []

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.store.open_reader(artifact_id)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.store.write(artifact_id, content_body)
        self.ids.append(artifact_id)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(artifact_id)
