"""The report's accuracy-against-size section, computed, for a study with a size objective.

Its front (``study.objectives``), where the classic LeNet-5 sits on the size axis, which
hyperparameters move along the front, and three front trials retrained beside the classic
model: the smallest that beats it, the knee and the most accurate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import spearmanr

from lenet import FashionMNIST, ModelConfig, TrainConfig, count_macs, count_params
from study.objectives import Point, knee, pareto_front, size_objective, size_of, trial_points
from study.report.language import N_
from study.report.retrain import BASELINE_TRAIN, RetrainResult, RetrainRun
from study.report.summary import Arm, McNemar, mcnemar, sampled_training
from study.storage import manifest_of

# The front trials retrained, in the order the report names them.
ROLES = {
    "smallest": N_("smallest beating the classic LeNet-5"),
    "knee": N_("knee"),
    "accurate": N_("most accurate"),
}
# Where the bar "beats the classic LeNet-5" comes from.
BAR_TRIAL = "trial"  # a completed trial of the classic configuration: validation accuracy
BAR_TEST = "test"  # else the classic model retrained: its mean test accuracy


@dataclass(frozen=True)
class FrontPoint:
    """One trial of the front, smallest first."""

    number: int
    accuracy: float  # validation accuracy of its best epoch
    size: float  # parameters or multiply-accumulates per image
    params: dict[str, Any]  # the trial's searched parameters


@dataclass(frozen=True)
class Movement:
    """How one hyperparameter changes along the front."""

    name: str
    values: list[Any]  # from the smallest front point to the largest; None where unset
    rho: float | None  # Spearman's rank correlation with size; None: text, constant or < 3


@dataclass(frozen=True)
class Pick:
    """A front trial retrained over the report's seeds and tested against the classic."""

    number: int
    roles: tuple[str, ...]  # keys of ROLES: one trial may be several
    accuracy: float  # validation accuracy in the study
    n_params: int
    macs: int
    arm: Arm
    mcnemar: list[McNemar]  # per seed; "best" here is this trial, "baseline" the classic


@dataclass(frozen=True)
class FrontSection:
    """Everything the accuracy-against-size section shows."""

    objective: str  # "params" or "macs": the size axis
    points: list[Point]  # every completed trial
    front: list[FrontPoint]
    classic_size: int  # the classic LeNet-5's value for the size objective
    classic_trial: int | None  # a completed trial of the classic configuration, if any
    classic_accuracy: float | None  # that trial's validation accuracy
    bar: float | None  # the accuracy a front point must exceed to beat the classic
    bar_source: str | None  # BAR_TRIAL or BAR_TEST
    picks: list[Pick]  # smallest first; the roles no trial fills are absent
    movement: list[Movement]
    from_cache: bool  # no front trial was retrained for this report


def trial_configs(study: optuna.Study, trial: FrozenTrial) -> tuple[ModelConfig, TrainConfig]:
    """The configuration a trial trained: its parameters over the space's fixed values."""
    params = {**manifest_of(study).get("search_space", {}).get("fixed", {}), **trial.params}
    return ModelConfig.from_params(params), TrainConfig.from_params(params)


def classic_trial(study: optuna.Study) -> FrozenTrial | None:
    """The first completed trial that trained the classic LeNet-5 as the baseline is
    trained (an enqueued point, say): its validation accuracy was measured as the others'."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        model, train = trial_configs(study, trial)
        same_recipe = replace(train, epochs=BASELINE_TRAIN.epochs, seed=BASELINE_TRAIN.seed)
        if model == ModelConfig.classic() and same_recipe == BASELINE_TRAIN and trial.values:
            return trial
    return None


def classic_bar(study: optuna.Study, baseline: Sequence[RetrainRun]) -> tuple[float, str]:
    """The accuracy to beat: a classic trial's validation accuracy, else the retrained
    classic model's mean test accuracy."""
    trial = classic_trial(study)
    if trial is not None:
        return float(trial.values[0]), BAR_TRIAL
    return float(np.mean([run.accuracy for run in baseline])), BAR_TEST


def choose(front: Sequence[Point], bar: float) -> list[tuple[int, tuple[str, ...]]]:
    """The front trials to retrain, smallest first, each once with every role it fills: the
    smallest whose validation accuracy exceeds ``bar``, the knee, the most accurate."""
    chosen = {
        "smallest": next((p for p in front if p.accuracy > bar), None),
        "knee": knee(front),
        "accurate": front[-1] if front else None,
    }
    roles: dict[int, list[str]] = {}
    for role, point in chosen.items():
        if point is not None:
            roles.setdefault(point.number, []).append(role)
    sizes = {p.number: p.size for p in front}
    return [(n, tuple(roles[n])) for n in sorted(roles, key=lambda n: (sizes[n], n))]


def chosen_trials(
    study: optuna.Study, objectives: Sequence[str], baseline: Sequence[RetrainRun]
) -> list[FrozenTrial]:
    """The front trials the report retrains (see ``choose``), smallest first."""
    front = pareto_front(trial_points(study, objectives))
    bar, _ = classic_bar(study, baseline)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    return [trials[number] for number, _ in choose(front, bar)]


def movement(front: Sequence[FrontPoint]) -> list[Movement]:
    """Each searched hyperparameter's values along the front and its rank correlation with
    size; the strongest correlations first, text-valued ones last."""
    names = sorted({name for point in front for name in point.params})
    moves = []
    for name in names:
        values = [point.params.get(name) for point in front]
        ranked = [
            (float(v), point.size)
            for v, point in zip(values, front, strict=True)
            if isinstance(v, int | float | bool) and not isinstance(v, str)
        ]
        rho = None
        if len(ranked) >= 3 and len({v for v, _ in ranked}) > 1:
            statistic = float(spearmanr(*zip(*ranked, strict=True)).statistic)
            rho = None if math.isnan(statistic) else statistic
        moves.append(Movement(name, values, rho))
    return sorted(moves, key=lambda m: (m.rho is None, -abs(m.rho or 0.0), m.name))


def front_section(
    study: optuna.Study,
    objectives: Sequence[str],
    retrained: RetrainResult,
    data: FashionMNIST,
    best_number: int | None,
) -> FrontSection:
    """The section's numbers, from the study and the retrained runs (the front trials' and,
    for the one that is the best trial, the best arm's)."""
    objective = size_objective(objectives)
    points = trial_points(study, objectives)
    front = pareto_front(points)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    front_points = [
        FrontPoint(p.number, p.accuracy, p.size, dict(trials[p.number].params)) for p in front
    ]
    bar, source = classic_bar(study, retrained.baseline)
    classic = classic_trial(study)
    runs = {arm.candidate.number: arm for arm in retrained.front}
    y = data.y_test[np.asarray(retrained.test_indices)]
    picks = []
    for number, roles in choose(front, bar):
        if number in runs:
            model, train = runs[number].candidate.model, runs[number].candidate.train
            trained = runs[number].runs
        elif number == best_number:
            model, train = retrained.settings.best_model, retrained.settings.best_train
            trained = retrained.best
        else:
            continue  # not retrained: the cache was written for another choice
        arm = Arm("front", {**model.to_dict(), **sampled_training(train)}, trained)
        picks.append(
            Pick(
                number=number,
                roles=roles,
                accuracy=float(trials[number].values[0]),
                n_params=count_params(model),
                macs=count_macs(model),
                arm=arm,
                mcnemar=[
                    mcnemar(a.seed, y, a, b)
                    for a, b in zip(retrained.baseline, trained, strict=True)
                ],
            )
        )
    return FrontSection(
        objective=objective,
        points=points,
        front=front_points,
        classic_size=size_of(objective, ModelConfig.classic()),
        classic_trial=classic.number if classic else None,
        classic_accuracy=float(classic.values[0]) if classic else None,
        bar=bar,
        bar_source=source,
        picks=picks,
        movement=movement(front_points),
        from_cache=retrained.from_cache and retrained.front_from_cache,
    )
