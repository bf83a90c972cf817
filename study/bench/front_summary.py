"""The figures of ``bench front`` from plain lists of finished trials: per run, then per
contender over its seeds. Light to import: no Keras."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from study.bench.contest import FRACTIONS
from study.objectives import Point, hypervolume

# The hypervolume's box, fixed so that every run's number is on one scale. Accuracy: a floor
# under which a Fashion-MNIST classifier has not learned the task, so that a barely trained
# model adds nothing. Size: just above the pareto space's largest model, 480,026 parameters,
# so that every model of that space can count.
HV_MIN_ACCURACY = 0.80
HV_MAX_SIZE = 500_000


@dataclass(frozen=True)
class BenchTrial:
    """One finished trial of a run."""

    seconds: float  # since the run's start, when the trial finished
    state: str  # complete, pruned (stopped after `epochs`), over_budget (never trained), failed
    epochs: int  # epochs it trained
    accuracy: float | None = None  # a completed trial's best-epoch validation accuracy
    size: float | None = None  # a completed trial's parameters


@dataclass(frozen=True)
class SeedRun:
    contender: str  # a key of study.bench.front.CONTENDERS
    seed: int
    trials: list[BenchTrial]  # in order of finishing, those after the budget too
    wall_seconds: float  # start to end; a trial running at the deadline ends after it


@dataclass(frozen=True)
class RunSummary:
    """One run's figures, counting the trials finished within the budget."""

    completed: int
    pruned: int  # stopped by the pruner after some epochs
    epochs_trained: int
    epochs_saved: int  # the pruned trials' epochs per trial minus the epochs they trained
    hypervolume_at: list[float]  # at each of FRACTIONS of the budget


def hypervolume_by(trials: Sequence[BenchTrial], seconds: float) -> float:
    """The hypervolume of the front of the trials completed by ``seconds``, in the box."""
    points = [
        Point(index, t.accuracy, t.size)
        for index, t in enumerate(trials)
        if t.seconds <= seconds and t.accuracy is not None and t.size is not None
    ]
    return hypervolume(points, HV_MIN_ACCURACY, HV_MAX_SIZE)


def summarize_run(
    trials: Sequence[BenchTrial],
    budget_seconds: float,
    epochs_per_trial: int,
    fractions: Sequence[float] = FRACTIONS,
) -> RunSummary:
    counted = [t for t in trials if t.seconds <= budget_seconds]
    pruned = [t for t in counted if t.state == "pruned"]
    return RunSummary(
        completed=sum(t.state == "complete" for t in counted),
        pruned=len(pruned),
        epochs_trained=sum(t.epochs for t in counted),
        epochs_saved=sum(epochs_per_trial - t.epochs for t in pruned),
        hypervolume_at=[hypervolume_by(counted, f * budget_seconds) for f in fractions],
    )


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float | None  # the sample standard deviation; None for one value, which has none

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        std = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), std)


@dataclass(frozen=True)
class ContenderSummary:
    """A contender's figures over its seeds."""

    name: str
    seeds: list[int]
    completed: Spread
    pruned: Spread
    epochs_trained: Spread
    epochs_saved: Spread
    hypervolume_at: list[Spread] = field(default_factory=list)


def summarize(
    runs: Sequence[SeedRun], budget_seconds: float, epochs_per_trial: int
) -> list[ContenderSummary]:
    """Each contender's figures over its seeds, in the order the contenders first ran."""
    names = list(dict.fromkeys(run.contender for run in runs))
    summaries = []
    for name in names:
        own = [run for run in runs if run.contender == name]
        each = [summarize_run(run.trials, budget_seconds, epochs_per_trial) for run in own]
        summaries.append(
            ContenderSummary(
                name=name,
                seeds=[run.seed for run in own],
                completed=Spread.of([s.completed for s in each]),
                pruned=Spread.of([s.pruned for s in each]),
                epochs_trained=Spread.of([s.epochs_trained for s in each]),
                epochs_saved=Spread.of([s.epochs_saved for s in each]),
                hypervolume_at=[
                    Spread.of([s.hypervolume_at[i] for s in each]) for i in range(len(FRACTIONS))
                ],
            )
        )
    return summaries
