"""Which trial export writes: --trial N, --smallest-above ACCURACY, or the best."""

from __future__ import annotations

import pytest

from study.errors import StudyError, UsageError
from study.export_choice import Choice, choose_trial, parse_choice

# Trial 2 is pruned, 3 failed; 4 is beaten by 1. The front: 0, 1, 5.
POINTS = [(0.80, 60_000), (0.85, 90_000), "PRUNED", "FAIL", (0.85, 120_000), (0.88, 200_000)]
TWO = ("accuracy", "params")


@pytest.mark.parametrize("text", ["2", "0", "-1", "nan", "inf", "1", "90", "ninety", ""])
def test_an_accuracy_that_is_not_a_fraction_is_refused(text):
    with pytest.raises(UsageError, match="fraction between 0 and 1"):
        parse_choice(None, text)


def test_trial_and_smallest_above_together_are_refused():
    with pytest.raises(UsageError, match="give only one"):
        parse_choice(3, "0.9")


@pytest.mark.parametrize(
    ("trial", "accuracy", "chosen"),
    [
        (None, None, {"by": "best"}),
        (7, None, {"by": "trial", "trial": 7}),
        (None, "0.9", {"by": "smallest_above", "accuracy": 0.9}),
    ],
)
def test_a_choice_records_how_it_chose(trial, accuracy, chosen):
    assert parse_choice(trial, accuracy).to_dict() == chosen


@pytest.mark.parametrize(
    ("accuracy", "expected"), [(0.5, 0), (0.8, 0), (0.81, 1), (0.85, 1), (0.851, 5), (0.88, 5)]
)
def test_smallest_above_takes_the_smallest_front_trial_at_or_above(
    tmp_path, storage_url, front_study, accuracy, expected
):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    assert choose_trial(study, Choice("smallest_above", accuracy=accuracy), TWO).number == expected


def test_smallest_above_every_front_trial_names_the_fronts_best(
    tmp_path, storage_url, front_study
):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    with pytest.raises(UsageError) as excinfo:
        choose_trial(study, Choice("smallest_above", accuracy=0.9), TWO, "lenet-study trials -x")
    message = str(excinfo.value)
    assert "most accurate is trial 5 at 0.8800" in message
    assert "`lenet-study trials -x --front`" in message


def test_a_single_objective_front_is_against_the_trials_parameters(
    tmp_path, storage_url, front_study
):
    study = front_study(storage_url, "one", tmp_path, POINTS, ("accuracy",))
    choice = Choice("smallest_above", accuracy=0.82)
    assert choose_trial(study, choice, ("accuracy",)).number == 1
    assert choose_trial(study, Choice(), ("accuracy",)).number == 5


def test_a_multi_objective_study_has_no_single_best(tmp_path, storage_url, front_study):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    with pytest.raises(UsageError) as excinfo:
        choose_trial(study, Choice(), TWO, "lenet-study trials --study-name mo")
    message = str(excinfo.value)
    assert "--trial N or --smallest-above ACCURACY" in message
    assert "`lenet-study trials --study-name mo --front`" in message


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (2, "trial 2 was pruned"),
        (3, "trial 3 failed"),
        (6, r"has no trial 6 \(its trials: 0 to 5\)"),
        (-1, "has no trial -1"),
    ],
)
def test_a_trial_that_did_not_complete_is_refused_with_its_state(
    tmp_path, storage_url, front_study, number, message
):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    with pytest.raises(UsageError, match=message):
        choose_trial(study, Choice("trial", trial=number), TWO)


def test_any_completed_trial_can_be_chosen(tmp_path, storage_url, front_study):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    assert choose_trial(study, Choice("trial", trial=4), TWO).number == 4  # off the front


@pytest.mark.parametrize("choice", [Choice(), Choice("smallest_above", accuracy=0.5)])
def test_no_completed_trial_is_a_study_error(tmp_path, storage_url, front_study, choice):
    study = front_study(storage_url, "mo", tmp_path, ["PRUNED"])
    with pytest.raises(StudyError, match="no completed trial"):
        choose_trial(study, choice, TWO)


def test_a_manifest_that_does_not_match_the_directions_is_a_study_error(
    tmp_path, storage_url, front_study
):
    study = front_study(storage_url, "mo", tmp_path, POINTS)
    with pytest.raises(StudyError, match="2 objectives, its manifest 1"):
        choose_trial(study, Choice("trial", trial=0), ("accuracy",))
