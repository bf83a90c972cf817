"""KerasTuner's Hyperband on our search space, data and training code (``bench --section peers``).

KerasTuner samples the parameters and decides how long each model trains; everything else is
ours: ``declare`` turns the space file's distributions into KerasTuner hyperparameters, the
``HyperModel`` builds each variant with ``lenet.build_model`` and trains it with
``lenet.train`` (same optimizer, schedule, augmentation, pipeline and best-epoch rule as a
study's trial), and a model over the space's ``max_params`` is refused before it is built.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine.trial import Trial, TrialStatus
from keras_tuner.src import config as keras_tuner_config
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from lenet import (
    ModelConfig,
    OutOfDeviceMemory,
    Splits,
    TrainConfig,
    TrainingDiverged,
    backends,
    build_model,
    clear_session,
    count_params,
    train,
)
from study.bench.peers import FinishedTrial
from study.space import SearchSpace, to_configs

OBJECTIVE = keras_tuner.Objective("val_accuracy", direction="max")
FACTOR = 3  # Hyperband's reduction factor: KerasTuner's default
# Hyperband iterations: more than any budget finishes, so that the deadline ends the search.
ITERATIONS = 1_000_000


def declare(hp: keras_tuner.HyperParameters, space: SearchSpace) -> dict[str, Any]:
    """Declares every parameter of ``space`` on ``hp`` and returns their current values.

    The KerasTuner twin of ``study.space.suggest``: a choice list becomes ``Choice`` (or
    ``Boolean`` for true and false), an integer range ``Int`` and a float range ``Float``,
    with the same bounds, step and log scale.

    Raises:
        ValueError: a parameter KerasTuner cannot express (a choice list of mixed types).
    """
    values: dict[str, Any] = {}
    for name, dist in space.params.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = _choice(hp, name, dist.choices)
        elif isinstance(dist, IntDistribution):
            # KerasTuner reads a step on a log scale as a factor; Optuna allows no step there.
            values[name] = hp.Int(
                name,
                dist.low,
                dist.high,
                step=None if dist.log else dist.step,
                sampling="log" if dist.log else "linear",
            )
        elif isinstance(dist, FloatDistribution):
            values[name] = hp.Float(
                name,
                dist.low,
                dist.high,
                step=dist.step,
                sampling="log" if dist.log else "linear",
            )
        else:
            raise ValueError(f"{name}: KerasTuner has no equivalent of {dist!r}")
    return values


def _choice(hp: keras_tuner.HyperParameters, name: str, choices: Sequence[Any]) -> Any:
    if all(isinstance(choice, bool) for choice in choices):
        # KerasTuner's Choice stores booleans as the integers 0 and 1.
        if len(set(choices)) == 2:
            return hp.Boolean(name, default=choices[0])
        return hp.Fixed(name, choices[0])
    try:
        return hp.Choice(name, list(choices))
    except TypeError as exc:
        raise ValueError(f"{name}: {exc}") from None


class LeNetHyperModel(keras_tuner.HyperModel):
    """The LeNet-5 variants of a search space, built and trained by ``lenet``.

    Attributes:
        seed: the running trial's training seed; the tuner sets it as each trial begins.
    """

    def __init__(
        self,
        space: SearchSpace,
        splits: Splits,
        base_train: TrainConfig,
        base_model: ModelConfig = ModelConfig.classic(),  # noqa: B008 (frozen)
    ) -> None:
        super().__init__(name="LeNet-5")
        self.space = space
        self.splits = splits
        self.base_train = base_train
        self.base_model = base_model
        self.seed = base_train.seed

    def configs(self, hp: keras_tuner.HyperParameters) -> tuple[ModelConfig, TrainConfig]:
        params = {**self.space.fixed, **declare(hp, self.space)}
        return to_configs(params, self.base_model, self.base_train)

    def check_budget(self, hp: keras_tuner.HyperParameters) -> None:
        """Refuses a variant over the space's ``max_params``, counted as a study counts it.

        Raises:
            keras_tuner.errors.FailedTrialError: the variant has too many parameters.
        """
        if self.space.max_params is None:
            return
        n_params = count_params(self.configs(hp)[0])
        if n_params > self.space.max_params:
            raise keras_tuner.errors.FailedTrialError(
                f"{n_params} parameters over the budget of {self.space.max_params}"
            )

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        model_config, _ = self.configs(hp)
        clear_session()  # lenet's: also frees what Keras' own clear_session leaves
        backends.current().set_random_seed(self.seed)  # the initial weights, as train() seeds
        return build_model(model_config)

    def fit(
        self,
        hp: keras_tuner.HyperParameters,
        model: keras.Model,
        *args: Any,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        epochs: int | None = None,
        initial_epoch: int = 0,
        **kwargs: Any,
    ) -> dict[str, float]:
        """Trains ``model`` with ``lenet.train`` from ``initial_epoch`` to Hyperband's
        ``epochs`` for this round, on the learning-rate schedule of ``base_train.epochs``
        (the whole run a study's trial is configured for).

        Returns:
            The best epoch's metrics, ``val_accuracy`` among them.
        """
        model_config, train_config = self.configs(hp)
        train_config = replace(train_config, seed=self.seed)
        stop = [] if epochs is None else [StopAfterEpoch(epochs)]
        result = train(
            model_config,
            train_config,
            self.splits,
            callbacks=[*stop, *callbacks],
            model=model,
            initial_epoch=initial_epoch,
        )
        return {name: values[result.best_epoch - 1] for name, values in result.history.items()}


class StopAfterEpoch(keras.callbacks.Callback):
    """Ends training after epoch ``last`` (1-based), as a pruner would end a study's trial."""

    def __init__(self, last: int) -> None:
        super().__init__()
        self.last = last

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if epoch + 1 >= self.last:
            self.model.stop_training = True


class StopAtDeadline(keras.callbacks.Callback):
    """Ends training at the first batch past ``deadline`` (``time.time()`` seconds)."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if time.time() >= self.deadline:
            self.model.stop_training = True


class DeadlineHyperband(keras_tuner.Hyperband):
    """``keras_tuner.Hyperband`` that starts no trial after ``deadline``, checks the
    parameter budget before building, seeds each trial, and records each finished trial.

    Args:
        hypermodel: the variants and how they train.
        start: ``time.time()`` at the contender's start; trial times count from it.
        deadline: ``time.time()`` after which no trial starts.
        **kwargs: ``keras_tuner.Hyperband``'s arguments.
    """

    def __init__(
        self, hypermodel: LeNetHyperModel, start: float, deadline: float, **kwargs: Any
    ) -> None:
        super().__init__(hypermodel, **kwargs)
        self.start = start
        self.deadline = deadline
        self.finished: list[FinishedTrial] = []

    def pre_create_trial(self) -> None:
        if time.time() >= self.deadline:
            # The oracle refuses to create trials beyond max_trials: the search ends cleanly.
            self.oracle.max_trials = len(self.oracle.trials)

    def on_trial_begin(self, trial: Trial) -> None:
        super().on_trial_begin(trial)
        # Each trial its own seed, as a study's objective gives trial N base seed + N.
        self.hypermodel.seed = self.hypermodel.base_train.seed + int(trial.trial_id)

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        self.hypermodel.check_budget(trial.hyperparameters)
        try:
            return super().run_trial(trial, *args, **kwargs)
        except (TrainingDiverged, OutOfDeviceMemory) as exc:
            # A failed trial, as a study records it; the search goes on.
            raise keras_tuner.errors.FailedTrialError(str(exc)) from exc
        except (keras_tuner.errors.FailedTrialError, keras_tuner.errors.FatalError):
            raise
        except Exception as exc:
            # A bug, as in a study, which stops: KerasTuner would fail each trial till the end.
            raise keras_tuner.errors.FatalError(f"{type(exc).__name__}: {exc}") from exc

    def _configure_tensorboard_dir(self, callbacks: Any, trial: Trial, execution: int = 0) -> None:
        # KerasTuner imports TensorBoard on TensorFlow to patch TensorBoard callbacks, which we
        # never pass, and fails every trial where TensorBoard is not installed.
        return

    def on_trial_end(self, trial: Trial) -> None:
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        completed = ended.status == TrialStatus.COMPLETED
        self.finished.append(
            FinishedTrial(
                seconds=time.time() - self.start,
                val_accuracy=float(ended.score) if completed else None,
                epochs=int(ended.hyperparameters.values["tuner/epochs"]) if completed else 0,
            )
        )


def search(
    space: SearchSpace,
    splits: Splits,
    base_train: TrainConfig,
    start: float,
    deadline: float,
    directory: Path,
) -> list[FinishedTrial]:
    """Runs KerasTuner's Hyperband until ``deadline``; returns every finished trial.

    ``base_train.epochs`` is Hyperband's ``max_epochs`` and ``base_train.seed`` its seed. A
    trial running at the deadline stops at its next batch.
    """
    tuner = DeadlineHyperband(
        LeNetHyperModel(space, splits, base_train),
        start=start,
        deadline=deadline,
        objective=OBJECTIVE,
        max_epochs=base_train.epochs,
        factor=FACTOR,
        hyperband_iterations=ITERATIONS,
        seed=base_train.seed,
        # Its default, 3, would end the search after three over-budget models in a row, which
        # is most of the accurate space; a study never stops for failed trials either.
        max_consecutive_failed_trials=sys.maxsize,
        directory=str(directory),
        project_name="keras_tuner",
        overwrite=True,
    )
    # KerasTuner prints the traceback of every failed trial, over-budget refusals included;
    # a bug is raised as FatalError above, and its traceback still shows.
    keras_tuner_config.DEBUG = False
    if time.time() < deadline:
        tuner.search(callbacks=[StopAtDeadline(deadline)], verbose=0)
    return tuner.finished
