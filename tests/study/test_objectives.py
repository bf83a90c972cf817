"""Objectives, the accuracy-size front, its knee and its hypervolume."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from study.errors import UsageError
from study.objectives import (
    Point,
    directions,
    hypervolume,
    knee,
    metric_names,
    pareto_front,
    parse_objectives,
    smallest_above,
)

_POINTS = st.lists(
    st.builds(
        Point,
        number=st.integers(0, 10_000),
        accuracy=st.floats(0.0, 1.0),
        size=st.integers(1, 10**6).map(float),
    ),
    max_size=30,
    unique_by=lambda p: p.number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy", ("accuracy",)),
        ("accuracy,params", ("accuracy", "params")),
        (" accuracy , macs ", ("accuracy", "macs")),
    ],
)
def test_objectives_parse_accuracy_then_at_most_one_size(text, expected):
    assert parse_objectives(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("accuracy,flops", "unknown objective 'flops'"),
        ("loss", "unknown objective 'loss'"),
        ("params", "choose accuracy"),  # a size alone would find the smallest useless model
        ("params,accuracy", "choose accuracy"),
        ("accuracy,accuracy", "choose accuracy"),
        ("accuracy,params,macs", "choose accuracy"),
        ("", "unknown objective ''"),
    ],
)
def test_other_objectives_are_refused_in_one_line_naming_the_choices(text, says):
    with pytest.raises(UsageError, match=says) as excinfo:
        parse_objectives(text)
    assert "\n" not in str(excinfo.value)
    assert "accuracy,params" in str(excinfo.value)


def test_accuracy_is_maximized_and_a_size_minimized_under_its_metric_name():
    assert [d.name for d in directions(("accuracy", "macs"))] == ["MAXIMIZE", "MINIMIZE"]
    assert metric_names(("accuracy", "params")) == ["val_accuracy", "params"]


@given(_POINTS)
def test_the_front_is_exactly_the_points_no_other_point_dominates(points):
    front = pareto_front(points)
    for point in front:
        assert not any(other.dominates(point) for other in points)
    for point in points:  # every other point is dominated by a front point
        if point not in front:
            assert any(kept.dominates(point) for kept in front)
    assert [p.size for p in front] == sorted(p.size for p in front)
    assert [p.accuracy for p in front] == sorted(p.accuracy for p in front)


def test_the_smallest_point_above_an_accuracy_and_none_when_no_point_reaches_it():
    front = pareto_front(
        [Point(0, 0.85, 5_000), Point(1, 0.90, 20_000), Point(2, 0.92, 90_000), Point(3, 0.8, 9e4)]
    )
    assert smallest_above(front, 0.9) == Point(1, 0.90, 20_000)
    assert smallest_above(front, 0.5) == Point(0, 0.85, 5_000)
    assert smallest_above(front, 0.93) is None


def test_the_knee_is_where_more_size_stops_buying_accuracy():
    front = [
        Point(0, 0.80, 1_000),
        Point(1, 0.89, 10_000),  # most of the gain, at a tenth of the largest size
        Point(2, 0.90, 100_000),
        Point(3, 0.905, 1_000_000),
    ]
    assert knee(front) == Point(1, 0.89, 10_000)
    assert knee(front[:2]) is None  # two points: no bend
    assert knee([]) is None
    sagging = [Point(0, 0.80, 1_000), Point(1, 0.81, 100_000), Point(2, 0.90, 1_000_000)]
    assert knee(sagging) is None  # accuracy comes only at the largest size: no knee


def test_the_hypervolume_of_one_point_is_its_rectangle_in_log_size():
    area = hypervolume([Point(0, 0.9, 1_000)], min_accuracy=0.8, max_size=100_000)
    assert area == pytest.approx(0.1 * 2)  # 0.1 of accuracy over two decades


def test_the_hypervolume_counts_a_staircase_once_and_ignores_points_outside_the_box():
    front = [Point(0, 0.85, 1_000), Point(1, 0.9, 10_000)]
    expected = 0.05 * 2 + 0.05 * 1  # [1e3, 1e5] up to 0.85, then [1e4, 1e5] up to 0.9
    assert hypervolume(front, 0.8, 100_000) == pytest.approx(expected)
    outside = [*front, Point(2, 0.99, 200_000), Point(3, 0.7, 10)]
    assert hypervolume(outside, 0.8, 100_000) == pytest.approx(expected)
    assert hypervolume([], 0.8, 100_000) == 0


@given(_POINTS, _POINTS)
def test_adding_points_never_shrinks_the_hypervolume(points, more):
    before = hypervolume(points, 0.5, 2e6)
    after = hypervolume(points + more, 0.5, 2e6)
    assert after >= before - 1e-12
    assert math.isfinite(after)


@given(_POINTS)
def test_the_front_of_a_study_is_optunas_best_trials(points):
    import optuna

    from study.objectives import front_trials

    study = optuna.create_study(directions=["maximize", "minimize"])
    for point in sorted(points, key=lambda p: p.number):
        study.add_trial(optuna.trial.create_trial(values=[point.accuracy, point.size]))
    ours = [t.number for t in front_trials(study, ("accuracy", "params"))]
    assert sorted(ours) == sorted(t.number for t in study.best_trials)
