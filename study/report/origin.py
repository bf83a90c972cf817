"""Where the best trial came from: sampled or enqueued, and what the study had spent by then.

``best_origin`` reads the trials' parameters and timestamps from the storage into a record;
``study.report.figures.best_so_far`` and ``study.report.render`` draw it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from study.report.language import N_
from study.results import best_trial_or_none, trained_epochs

# Optuna's enqueue_trial stores the given parameters under this system attribute, and a retry
# of an enqueued trial copies it; a sampled trial never has it.
ENQUEUED_ATTR = "fixed_params"
# Optuna's retry callbacks store the number of the trial they retry under this attribute.
RETRY_ATTR = "failed_trial"
NO_COMPLETED = N_("no trial has completed")


@dataclass(frozen=True)
class Spent:
    """What the study had spent by some moment, counted from its first trial's start."""

    trials_started: int
    epochs_run: int  # epochs trained by the trials that had finished by then
    seconds: float  # wall clock since the first trial started


@dataclass(frozen=True)
class CompletedTrial:
    """One completed trial, a point of the best-so-far curve."""

    number: int
    seconds: float  # its completion, since the first trial started
    value: float
    best_so_far: float  # the best value of the trials completed by then, this one included
    enqueued: bool


@dataclass(frozen=True)
class BestOrigin:
    """The best trial's origin and what it cost, against the whole study."""

    best_number: int | None
    best_value: float | None
    enqueued: bool
    enqueued_params: dict[str, Any]  # the values given to enqueue_trial; empty when sampled
    sampler_chose: tuple[str, ...]  # the best trial's parameters the sampler picked
    retry_of: int | None  # the trial whose parameters a retried best trial reran
    until_best: Spent | None  # by the best trial's completion
    whole_study: Spent | None
    completed: list[CompletedTrial] = field(default_factory=list)  # by completion time
    missing: str | None = None  # why there is nothing to show (an English msgid)


def best_origin(study: optuna.Study) -> BestOrigin:
    """The best trial's origin, the study's spending until it completed, and the curve."""
    best = best_trial_or_none(study)
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = _completions(trials)
    if best is None or best.datetime_complete is None or not starts:
        return BestOrigin(None, None, False, {}, (), None, None, None, missing=NO_COMPLETED)
    first_start = min(starts)
    fixed = best.system_attrs.get(ENQUEUED_ATTR)
    enqueued_params = dict(fixed) if isinstance(fixed, dict) else {}
    return BestOrigin(
        best_number=best.number,
        best_value=best.values[0],
        enqueued=fixed is not None,
        enqueued_params=enqueued_params,
        sampler_chose=tuple(name for name in best.params if name not in enqueued_params),
        retry_of=best.system_attrs.get(RETRY_ATTR),
        until_best=_spent(trials, first_start, best.datetime_complete),
        whole_study=_spent(trials, first_start, max(end for end, _ in ends)),
        completed=completed_curve(trials, first_start, study.directions[0]),
    )


def _completions(trials: Sequence[FrozenTrial]) -> list[tuple[datetime.datetime, FrozenTrial]]:
    """The finished trials with their completion times; running and waiting ones have none."""
    return [
        (t.datetime_complete, t)
        for t in trials
        if t.state.is_finished() and t.datetime_complete is not None
    ]


def _spent(
    trials: Sequence[FrozenTrial], first_start: datetime.datetime, moment: datetime.datetime
) -> Spent:
    """A trial still running at ``moment`` counts as started; its epochs are not known yet."""
    return Spent(
        trials_started=sum(
            t.datetime_start is not None and t.datetime_start <= moment for t in trials
        ),
        epochs_run=sum(trained_epochs(t) for end, t in _completions(trials) if end <= moment),
        seconds=(moment - first_start).total_seconds(),
    )


def completed_curve(
    trials: Sequence[FrozenTrial], first_start: datetime.datetime, direction: StudyDirection
) -> list[CompletedTrial]:
    """The completed trials in order of completion, each with the best value so far."""
    done = sorted(
        (
            (end, t.number, t.values[0], ENQUEUED_ATTR in t.system_attrs)
            for end, t in _completions(trials)
            if t.state == TrialState.COMPLETE and t.values
        ),
        key=lambda point: point[:2],
    )
    better = max if direction == StudyDirection.MAXIMIZE else min
    curve: list[CompletedTrial] = []
    for end, number, value, enqueued in done:
        best = better(curve[-1].best_so_far, value) if curve else value
        seconds = (end - first_start).total_seconds()
        curve.append(CompletedTrial(number, seconds, value, best, enqueued))
    return curve
