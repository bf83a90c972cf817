"""The trials table: values named by the study's objectives, and its accuracy-size front."""

from __future__ import annotations

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from study.errors import UsageError
from study.results import format_trials_table, trials_table

# Trial 2 is pruned; 3 is beaten by 1 (as accurate, smaller); 5 by 4 (as small, more accurate).
POINTS = [
    (0.80, 60_000),
    (0.85, 90_000),
    "PRUNED",
    (0.85, 120_000),
    (0.88, 200_000),
    (0.70, 200_000),
]
FRONT = [0, 1, 4]  # smallest first


def test_a_multi_objective_table_names_both_values_and_marks_the_front(
    tmp_path, storage_url, front_study
):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    table = trials_table(study)
    assert list(table.columns[:6]) == [
        "number",
        "state",
        "val_accuracy",
        "params",
        "front",
        "duration",
    ]
    assert table["front"].tolist() == [n in FRONT for n in range(6)]
    assert table["params"].tolist()[:2] == [60_000, 90_000]
    assert table["params"].isna().tolist() == [False, False, True, False, False, False]
    lines = format_trials_table(table).splitlines()
    assert [line.split()[4] == "*" for line in lines[1:]] == [n in FRONT for n in range(6)]
    assert lines[3].split()[1:4] == ["PRUNED", "-", "-"]  # no values, not on the front


def test_the_front_alone_lists_its_trials_smallest_first(tmp_path, storage_url, front_study):
    study = front_study(storage_url, "mo", tmp_path, POINTS, objectives=("accuracy", "macs"))
    table = trials_table(study, front_only=True)
    assert table["number"].tolist() == FRONT
    assert table["macs"].tolist() == [60_000, 90_000, 200_000]
    assert table["front"].all()


def test_a_single_objective_front_is_drawn_against_the_trials_parameters(
    tmp_path, storage_url, front_study
):
    study = front_study(storage_url, "one", tmp_path, POINTS, objectives=("accuracy",))
    plain = trials_table(study)
    assert "front" not in plain.columns and "params" not in plain.columns
    assert list(plain.columns[:3]) == ["number", "state", "val_accuracy"]
    table = trials_table(study, front_only=True)
    assert table["number"].tolist() == FRONT
    assert list(table.columns[2:5]) == ["val_accuracy", "params", "front"]
    assert table["params"].tolist() == table["n_params"].tolist() == [60_000, 90_000, 200_000]


def test_a_front_of_a_study_with_no_completed_trial_is_empty(tmp_path, storage_url, front_study):
    study = front_study(storage_url, "mo", tmp_path, ["PRUNED", "FAIL"])
    assert len(trials_table(study, front_only=True)) == 0
    assert not trials_table(study)["front"].any()


def test_a_plain_optuna_study_of_two_objectives_keeps_optunas_names_and_has_no_front(
    storage_url,
):
    study = optuna.create_study(storage=storage_url, directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(values=[0.5, 3.0]))
    table = trials_table(study)
    assert list(table.columns[:4]) == ["number", "state", "values_0", "values_1"]
    with pytest.raises(UsageError, match="no accuracy-size front"):
        trials_table(study, front_only=True)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.5, 0.6, 0.7, 0.8]), st.sampled_from([10, 20, 30, 40])),
        min_size=1,
        max_size=8,
    )
)
def test_the_front_column_marks_exactly_the_trials_no_other_trial_beats(points):
    study = optuna.create_study(directions=["maximize", "minimize"])  # in memory
    study.set_user_attr("manifest", {"objectives": ["accuracy", "params"]})
    for accuracy, size in points:
        study.add_trial(optuna.trial.create_trial(values=[accuracy, size]))
    table = trials_table(study)

    def beaten(a: float, s: int) -> bool:
        return any(b >= a and t <= s and (b > a or t < s) for b, t in points)

    marked = table[table["front"]]
    # Every trial no other beats is marked, equal ones each, as in Optuna's best_trials.
    assert sorted(zip(marked["val_accuracy"], marked["params"], strict=True)) == sorted(
        p for p in points if not beaten(*p)
    )
    front = trials_table(study, front_only=True)
    assert front["params"].is_monotonic_increasing
    assert front["val_accuracy"].is_monotonic_increasing
