"""The samplers and pruners a study can use, and how a sampler is seeded per trial."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from study.settings import PRUNERS, SAMPLERS, SINGLE_OBJECTIVE_PRUNERS, STARTUP_TRIALS
from study.trial_record import TrialRecord

# Recorded in the study's manifest, so that every trial's draws can be traced to a seed.
SEED_RULE = "numpy.random.SeedSequence([study seed, trial number]).generate_state(1)[0]"


def trial_seed(seed: int, trial_number: int) -> int:
    """The sampler seed of one trial: distinct per trial, the same on every rerun."""
    return int(np.random.SeedSequence([seed, trial_number]).generate_state(1)[0])


class PerTrialSeed(BaseSampler):
    """A sampler built afresh for every trial, seeded from the study seed and trial number.

    Optuna numbers trials in the storage, so no two trials share a number: a resumed study or
    two runs on one study never redraw the same random points, and each trial's draws follow
    from the study's records. TPE reads the whole history on every trial, so a fresh instance
    loses nothing.
    """

    def __init__(self, make: Callable[[int], BaseSampler], seed: int) -> None:
        self._make = make
        self._seed = seed
        self._current = make(seed)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._current = self._make(trial_seed(self._seed, trial.number))
        self._current.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._current.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._current.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._current.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._current.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._current.reseed_rng()


def make_sampler(name: str, seed: int, startup_trials: int = STARTUP_TRIALS) -> BaseSampler:
    """``tpe`` (Optuna's default, seeded; its first ``startup_trials`` draws random) or
    ``random``, seeded per trial (``PerTrialSeed``)."""
    if startup_trials < 0:
        raise ValueError(f"startup_trials must be 0 or more, got {startup_trials}")
    if name == "tpe":
        return PerTrialSeed(
            lambda s: optuna.samplers.TPESampler(n_startup_trials=startup_trials, seed=s), seed
        )
    if name == "random":
        return PerTrialSeed(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def make_pruner(
    name: str, epochs: int, startup_epochs: int = 0, startup_trials: int = STARTUP_TRIALS
) -> optuna.pruners.BasePruner:
    """``hyperband``, ``median`` or ``none``; with ``startup_epochs``, the first two screen
    the first ``startup_trials`` trials, TPE's random ones, at that epoch (``ScreenedStartup``)."""
    pruner: optuna.pruners.BasePruner
    if name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    elif name == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    elif name in ("none", "front"):  # front decides in the objective (FrontReach)
        return optuna.pruners.NopPruner()
    else:
        raise ValueError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")
    if startup_epochs < 0:
        raise ValueError(f"startup_epochs must be 0 or more, got {startup_epochs}")
    if startup_trials < 0:
        raise ValueError(f"startup_trials must be 0 or more, got {startup_trials}")
    screened = startup_epochs and startup_trials
    return ScreenedStartup(pruner, startup_trials, startup_epochs) if screened else pruner


def screen_note(
    pruner: str, startup_epochs: int, epochs: int, startup_trials: int = STARTUP_TRIALS
) -> str:
    """``, start-up screened at epoch 2`` when the start-up screen can stop a trial, else ``""``
    (no pruner, no start-up trials, or no epoch after the screen to save)."""
    screens = pruner in SINGLE_OBJECTIVE_PRUNERS  # make_pruner wraps only these
    if not screens or not startup_trials or not 0 < startup_epochs < epochs:
        return ""
    return f", start-up screened at epoch {startup_epochs}"


class ScreenedStartup(optuna.pruners.BasePruner):
    """Trains the sampler's random start-up trials on past ``epochs`` only while they lead.

    Optuna's pruners compare a trial with the trials that reached the same epoch before it, so
    a study's first trials, TPE's random draws, mostly train in full. Here each of the first
    ``trials`` trials goes on after ``epochs`` epochs only while its accuracy there is the best
    of the trials numbered before it; a stopped one still tells TPE how it did, as a pruned
    trial. A trial with a learning-rate warm-up (its ``warmup_epochs`` user attribute) is
    screened at its first epoch after the warm-up, and an enqueued trial never. Every other
    decision is ``inner``'s.
    """

    def __init__(self, inner: optuna.pruners.BasePruner, trials: int, epochs: int) -> None:
        if trials < 0 or epochs < 1:
            raise ValueError(f"need trials >= 0 and epochs >= 1, got {trials} and {epochs}")
        self._inner = inner
        self._trials = trials
        self._step = epochs - 1  # steps are 0-based epoch indices

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        # The inner pruner first: Hyperband records the rung values later trials compete with.
        if self._inner.prune(study, trial):
            return True
        # A learning-rate warm-up's early accuracy says little (objective.PruningCallback), so
        # such a trial is screened at its first epoch after the warm-up.
        step = max(self._step, TrialRecord.of(trial).warmup_epochs or 0)
        if (
            trial.number >= self._trials
            or "fixed_params" in trial.system_attrs  # enqueued: a point the user trusts
            or step not in trial.intermediate_values
        ):
            return False
        value = trial.intermediate_values[step]
        better = (
            (lambda other: other > value)
            if study.direction == optuna.study.StudyDirection.MAXIMIZE
            else (lambda other: other < value)
        )
        return any(
            better(other.intermediate_values[step])
            for other in study.get_trials(deepcopy=False)
            if other.number < trial.number and step in other.intermediate_values
        )


class FrontReach:
    """The ``front`` pruner of a study with a size objective: stops a trial that cannot reach
    the front at its size.

    Optuna's pruners take one reported value per step and a multi-objective trial cannot
    report one, so this decides from the trial's own best accuracy so far and the completed
    trials' curves (their ``history``). After each epoch, a trial goes on only if its best
    accuracy so far, plus the most any completed trial gained after the same epoch, still
    reaches the best accuracy of the completed trials no larger than it. A trial smaller than
    every completed one is never stopped: it is on the front by size alone. Nothing is
    stopped before ``min_trials`` trials have completed.
    """

    def __init__(self, min_trials: int = 5) -> None:
        if min_trials < 1:
            raise ValueError(f"min_trials must be a positive integer, got {min_trials}")
        self.min_trials = min_trials

    def should_stop(self, study: optuna.Study, size: float, curve: Sequence[float]) -> bool:
        """Whether to stop a trial of ``size`` whose validation accuracies so far are
        ``curve`` (one per finished epoch)."""
        if not curve:
            return False
        done = len(curve)
        completed = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.values is not None and len(t.values) > 1
        ]
        if len(completed) < self.min_trials:
            return False
        target = max((t.values[0] for t in completed if t.values[1] <= size), default=None)
        if target is None:
            return False
        gains = []
        for t in completed:
            history = (TrialRecord.of(t).history or {}).get("val_accuracy", [])
            if len(history) > done:
                gains.append(max(history) - max(history[:done]))
        if not gains:  # no completed trial trained longer: nothing says what is left to gain
            return False
        return max(curve) + max(gains) < target
