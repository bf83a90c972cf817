"""``study.objectives.hypervolume`` against Optuna's own hypervolume on random 2-D fronts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna._hypervolume import compute_hypervolume  # private: a cross-check, not a dependency

from study.objectives import Point, hypervolume

MIN_ACCURACY, MAX_SIZE = 0.80, 500_000.0

points = st.lists(
    st.tuples(
        st.floats(0.5, 1.0),  # accuracy, some under the box's floor
        st.floats(1.0, 2_000_000.0),  # parameters, some over the box's edge
    ),
    max_size=30,
)


def _optuna(pairs: list[tuple[float, float]], min_accuracy: float, max_size: float) -> float:
    """Optuna's hypervolume of the same box: both objectives minimized, accuracy negated and
    size on log10, as ours measures it; Optuna takes only points inside the box."""
    inside = [(-a, math.log10(s)) for a, s in pairs if a >= min_accuracy and s <= max_size]
    if not inside:
        return 0.0
    reference = np.array([-min_accuracy, math.log10(max_size)])
    return float(compute_hypervolume(np.array(inside), reference))


@settings(max_examples=300, deadline=None)
@given(points)
def test_the_hypervolume_equals_optunas_on_random_fronts(pairs):
    ours = hypervolume([Point(n, a, s) for n, (a, s) in enumerate(pairs)], MIN_ACCURACY, MAX_SIZE)
    assert ours == pytest.approx(_optuna(pairs, MIN_ACCURACY, MAX_SIZE), rel=1e-9, abs=1e-12)


def test_points_on_the_box_edge_or_dominated_add_nothing_in_either():
    pairs = [(0.9, 1_000.0), (0.85, 5_000.0), (MIN_ACCURACY, 10.0), (0.99, MAX_SIZE)]
    expected = (math.log10(MAX_SIZE) - 3) * (0.9 - MIN_ACCURACY)
    ours = hypervolume([Point(n, a, s) for n, (a, s) in enumerate(pairs)], MIN_ACCURACY, MAX_SIZE)
    assert ours == pytest.approx(expected)
    assert _optuna(pairs, MIN_ACCURACY, MAX_SIZE) == pytest.approx(expected)
