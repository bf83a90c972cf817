"""How many trials a study spends on models over its parameter budget, with and without the
sampler being told the budget (``trial.set_constraint``, Optuna's constrained TPE).

An over-budget trial is pruned before training, so it costs little compute, but it is a trial
the study's ``--n-trials`` budget does not get back. Each trial of this measurement trains one
epoch on a small subset, so that the sampler sees real accuracies at a bench's cost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import optuna

from lenet import Splits, TrainConfig, TrainingDiverged
from study.objective import Objective
from study.results import over_budget
from study.samplers import make_sampler
from study.space import SPACES_DIR, load_space

BUDGET_SPACE = SPACES_DIR / "accurate.toml"  # the space with a parameter budget


@dataclass(frozen=True)
class BudgetArm:
    """One way of running the studies: the budget told to the sampler, or not."""

    told: bool
    over_budget: list[int]  # per seed: trials pruned for exceeding the budget
    over_budget_second_half: list[int]  # per seed, in the second half of its trials
    best_val_accuracy: list[float]  # per seed


@dataclass(frozen=True)
class Budget:
    space: str
    max_params: int | None
    trials: int  # per study
    seeds: list[int]
    untold: BudgetArm
    told: BudgetArm

    @property
    def share_untold(self) -> float:
        return sum(self.untold.over_budget) / (self.trials * len(self.seeds))

    @property
    def share_told(self) -> float:
        return sum(self.told.over_budget) / (self.trials * len(self.seeds))


def measure_budget(splits: Splits, trials: int, seeds: list[int]) -> Budget:
    """Runs ``trials`` TPE trials of the budgeted space per seed, untold and then told."""
    # Without its [[enqueue]] points: the sampler alone decides every trial.
    space = replace(load_space(BUDGET_SPACE), enqueue=())
    arms = {}
    for told in (False, True):
        over, late, best = [], [], []
        for seed in seeds:
            study = optuna.create_study(
                direction="maximize",
                sampler=make_sampler("tpe", seed),
                pruner=optuna.pruners.NopPruner(),
            )
            objective = Objective(
                splits=splits,
                base_train=TrainConfig(epochs=1, seed=seed),
                space=space,
                tell_budget=told,
            )
            study.optimize(objective, n_trials=trials, catch=(TrainingDiverged,))
            flags = [over_budget(t) for t in study.trials]
            over.append(sum(flags))
            late.append(sum(flags[len(flags) // 2 :]))
            values = [t.value for t in study.trials if t.value is not None]
            best.append(max(values) if values else float("nan"))
        arms[told] = BudgetArm(told, over, late, best)
    return Budget(
        space=BUDGET_SPACE.name,
        max_params=space.max_params,
        trials=trials,
        seeds=list(seeds),
        untold=arms[False],
        told=arms[True],
    )
