"""What a study optimizes: validation accuracy alone, or with the model's size, and its front.

``run --objectives accuracy,params`` (or ``accuracy,macs``) makes a multi-objective study:
maximize the best epoch's validation accuracy, minimize the parameter count or the
multiply-accumulates per image, both known in closed form before training. Its answer is a
Pareto front, the trials no other trial beats on both; this module computes it, picks points
on it and measures it (hypervolume), on plain numbers. Light to import: no Keras.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from study.errors import UsageError

if TYPE_CHECKING:
    import optuna

    from lenet import ModelConfig

ACCURACY = "accuracy"  # the best epoch's validation accuracy, maximized
SIZES = {  # size objectives, minimized: what each counts
    "params": "parameters",
    "macs": "multiply-accumulates per image",
}
NAMES = (ACCURACY, *SIZES)
SINGLE = (ACCURACY,)  # a study made before objectives were recorded optimized this
METRIC_NAMES = {ACCURACY: "val_accuracy", "params": "params", "macs": "macs"}


def parse_objectives(text: str | Sequence[str], source: str = "--objectives") -> tuple[str, ...]:
    """``"accuracy,params"`` -> ``("accuracy", "params")``: accuracy first, then at most one size.

    Raises:
        UsageError: an unknown or repeated name, no accuracy, or two sizes.
    """
    names = tuple(n.strip() for n in text.split(",")) if isinstance(text, str) else tuple(text)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise UsageError(
            f"{source}: unknown objective {unknown[0]!r}; choose accuracy, accuracy,params "
            "or accuracy,macs"
        )
    if not names or names[0] != ACCURACY or len(names) > 2 or len(set(names)) < len(names):
        raise UsageError(
            f"{source}: got {','.join(names) or 'nothing'}; choose accuracy, accuracy,params "
            "or accuracy,macs"
        )
    return names


def directions(objectives: Sequence[str]) -> list[StudyDirection]:
    return [
        StudyDirection.MAXIMIZE if name == ACCURACY else StudyDirection.MINIMIZE
        for name in objectives
    ]


def metric_names(objectives: Sequence[str]) -> list[str]:
    return [METRIC_NAMES[name] for name in objectives]


def size_of(objective: str, config: ModelConfig) -> int:
    """A model's value for a size objective, without building it."""
    from lenet import count_macs, count_params

    return count_params(config) if objective == "params" else count_macs(config)


def study_objectives(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The objectives recorded in a study's manifest (accuracy alone for an older study)."""
    return tuple(manifest.get("objectives", SINGLE))


def size_objective(objectives: Sequence[str]) -> str:
    """The size a front is drawn against: the study's size objective, else parameters."""
    return objectives[1] if len(objectives) > 1 else "params"


@dataclass(frozen=True)
class Point:
    """One completed trial as the front sees it."""

    number: int
    accuracy: float  # validation accuracy of its best epoch
    size: float  # parameters or multiply-accumulates

    def dominates(self, other: Point) -> bool:
        return (
            self.accuracy >= other.accuracy
            and self.size <= other.size
            and (self.accuracy > other.accuracy or self.size < other.size)
        )


def pareto_front(points: Iterable[Point]) -> list[Point]:
    """The points no other point dominates, smallest first; equal points all stay, as in
    Optuna's ``Study.best_trials``, in trial-number order."""
    ordered = sorted(points, key=lambda p: (p.size, -p.accuracy, p.number))
    front: list[Point] = []
    for point in ordered:  # by size: a point joins only if it beats every smaller one
        last = front[-1] if front else None
        beats = last is None or (point.accuracy > last.accuracy and point.size > last.size)
        if beats or (
            last is not None and (point.accuracy, point.size) == (last.accuracy, last.size)
        ):
            front.append(point)
    return front


def trial_points(study: optuna.Study, objectives: Sequence[str]) -> list[Point]:
    """The study's completed trials as points on (accuracy, size)."""
    from study.trial_record import TrialRecord

    points = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if not trial.values:
            continue
        if len(objectives) > 1:
            size = trial.values[1]
        else:  # a single-objective study's trials record their parameters
            n_params = TrialRecord.of(trial).n_params
            if n_params is None:
                continue
            size = n_params
        points.append(Point(trial.number, float(trial.values[0]), float(size)))
    return points


def front_trials(study: optuna.Study, objectives: Sequence[str]) -> list[FrozenTrial]:
    """The trials on the study's accuracy-size front, smallest first."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    return [trials[p.number] for p in pareto_front(trial_points(study, objectives))]


def smallest_above(front: Sequence[Point], accuracy: float) -> Point | None:
    """The smallest front point at or above ``accuracy``; None if none reaches it."""
    return next((p for p in front if p.accuracy >= accuracy), None)


def knee(front: Sequence[Point]) -> Point | None:
    """The front point farthest above the line joining the front's two ends, with accuracy
    and log10 size each scaled to [0, 1]: where more size stops buying much accuracy. None
    when no point between the ends lies above that line (a front with no bend)."""
    import math

    if len(front) < 3:
        return None
    xs = [math.log10(max(p.size, 1.0)) for p in front]
    ys = [p.accuracy for p in front]
    span_x, span_y = (xs[-1] - xs[0]) or 1.0, (ys[-1] - ys[0]) or 1.0
    # Both ends scale to (0, 0) and (1, 1): a point's distance above y = x is (y - x) / sqrt(2).
    above = [(ys[i] - ys[0]) / span_y - (xs[i] - xs[0]) / span_x for i in range(len(front))]
    best = max(range(1, len(front) - 1), key=lambda i: above[i])
    return front[best] if above[best] > 0 else None


def hypervolume(front: Sequence[Point], min_accuracy: float, max_size: float) -> float:
    """The area the front dominates in (accuracy, log10 size) above ``min_accuracy`` and below
    ``max_size``: one number that grows when the front moves up or left, for comparing
    searches. Points outside the box add nothing."""
    import math

    right = math.log10(max_size)
    inside = pareto_front(p for p in front if p.accuracy > min_accuracy and p.size < max_size)
    area, below = 0.0, min_accuracy
    for point in inside:  # smallest first, each more accurate: a staircase of rectangles
        area += (right - math.log10(max(point.size, 1.0))) * (point.accuracy - below)
        below = point.accuracy
    return area
