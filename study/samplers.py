"""The samplers and pruners a study can use, and how a sampler is seeded per trial."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

SAMPLERS = ("tpe", "random")
PRUNERS = ("hyperband", "median", "none")
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


def make_sampler(name: str, seed: int) -> BaseSampler:
    """``tpe`` (Optuna's default, seeded) or ``random``, seeded per trial (``PerTrialSeed``)."""
    if name == "tpe":
        return PerTrialSeed(lambda s: optuna.samplers.TPESampler(seed=s), seed)
    if name == "random":
        return PerTrialSeed(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")
