"""Where the best trial came from: sampled or enqueued, and what the study had spent by then."""

from __future__ import annotations

import datetime

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from study.report.figures import best_so_far
from study.report.origin import best_origin
from study.report.render import interactive_figure, page
from study.report.summary import summarize

FIRST_START = datetime.datetime(2025, 3, 1, 9, 0)
DISTRIBUTIONS = {
    "c1_filters": IntDistribution(4, 32),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
}


def _at(
    start: float,
    end: float | None,
    state: TrialState = TrialState.COMPLETE,
    value: float | None = None,
    epochs: int = 0,
    system_attrs: dict | None = None,
) -> FrozenTrial:
    """A trial that started and ended ``start`` and ``end`` minutes after ``FIRST_START``."""
    trial = optuna.trial.create_trial(
        state=state,
        value=value,
        params={"c1_filters": 6, "learning_rate": 0.01},
        distributions=DISTRIBUTIONS,
        user_attrs={"epochs_run": epochs},
        system_attrs=system_attrs,
    )
    trial.datetime_start = FIRST_START + datetime.timedelta(minutes=start)
    trial.datetime_complete = (
        None if end is None else FIRST_START + datetime.timedelta(minutes=end)
    )
    return trial


@pytest.fixture
def resumed(storage_url) -> optuna.Study:
    """Six started trials with a two-hour pause before the last, and one still waiting:

    #0 complete 0-10 min (0.80, 3 epochs)    #3 complete 10-25 min (0.90, 3 epochs): the best
    #1 pruned 1-4 min (1 epoch, 0.95)        #4 running since 25 min, as the best completed
    #2 failed 5-6 min (no epoch)             #5 complete 120-130 min (0.85, 3 epochs)

    Optuna stores a pruned trial's last reported value as its value: #1 is never the best.
    """
    study = optuna.create_study(study_name="resumed", storage=storage_url, direction="maximize")
    for trial in (
        _at(0, 10, value=0.80, epochs=3),
        _at(1, 4, TrialState.PRUNED, value=0.95, epochs=1),
        _at(5, 6, TrialState.FAIL),
        _at(10, 25, value=0.90, epochs=3),
        _at(25, None, TrialState.RUNNING),
        _at(120, 130, value=0.85, epochs=3),
    ):
        study.add_trial(trial)
    study.enqueue_trial({"c1_filters": 8})  # waiting: never started, counted nowhere
    return study


def test_spending_counts_started_trials_and_finished_epochs_until_the_best_completed(resumed):
    origin = best_origin(resumed)
    assert (origin.best_number, origin.best_value, origin.enqueued) == (3, 0.90, False)
    assert origin.until_best is not None and origin.whole_study is not None
    # The running trial #4 started as the best completed; its epochs are not known yet.
    assert origin.until_best.trials_started == 5
    assert origin.until_best.epochs_run == 3 + 1 + 0 + 3
    assert origin.until_best.seconds == 25 * 60
    assert origin.whole_study.trials_started == 6
    assert origin.whole_study.epochs_run == 3 + 1 + 0 + 3 + 3
    assert origin.whole_study.seconds == 130 * 60  # the pause included


def test_best_so_far_steps_at_each_completion_and_skips_unfinished_trials(resumed):
    origin = best_origin(resumed)
    points = [(p.number, p.seconds, p.value, p.best_so_far) for p in origin.completed]
    assert points == [(0, 600, 0.80, 0.80), (3, 1500, 0.90, 0.90), (5, 7800, 0.85, 0.90)]
    line = best_so_far(origin).data[0]
    assert line.line.shape == "hv"
    assert list(line.x) == [10, 25, 130, 130]  # minutes, held to the last finished trial
    assert list(line.y) == [0.80, 0.90, 0.90, 0.90]


def test_best_so_far_of_a_minimized_study_keeps_the_lowest_value(storage_url):
    study = optuna.create_study(storage=storage_url, direction="minimize")
    for start, value in ((0, 0.5), (2, 0.3), (4, 0.4)):
        study.add_trial(_at(start, start + 1, value=value))
    origin = best_origin(study)
    assert [p.best_so_far for p in origin.completed] == [0.5, 0.3, 0.3]
    assert origin.best_number == 1 and origin.until_best.seconds == 3 * 60


def _page(study: optuna.Study) -> str:
    return page(summarize(study, None, None, "cmd"), study, interactive_figure)


def _ask_and_tell(study: optuna.Study, value: float) -> None:
    trial = study.ask()
    trial.suggest_int("c1_filters", 4, 32)
    trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    study.tell(trial, value)


def test_a_best_trial_from_enqueue_trial_is_enqueued_with_its_given_values():
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    _ask_and_tell(study, 0.80)
    study.enqueue_trial({"c1_filters": 12, "learning_rate": 0.003})
    _ask_and_tell(study, 0.95)
    _ask_and_tell(study, 0.85)
    origin = best_origin(study)
    assert (origin.best_number, origin.enqueued) == (1, True)
    assert origin.enqueued_params == {"c1_filters": 12, "learning_rate": 0.003}
    assert origin.sampler_chose == ()
    assert [p.enqueued for p in origin.completed] == [False, True, False]
    assert (origin.until_best.trials_started, origin.whole_study.trials_started) == (2, 3)
    markers = {t.name: t.marker.symbol for t in best_so_far(origin).data if t.mode == "markers"}
    assert markers["enqueued trial"] != markers["sampled trial"]


def test_a_partly_enqueued_best_names_the_parameters_the_sampler_chose():
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"c1_filters": 12})
    _ask_and_tell(study, 0.9)
    origin = best_origin(study)
    assert origin.enqueued and origin.enqueued_params == {"c1_filters": 12}
    assert origin.sampler_chose == ("learning_rate",)


def test_a_sampled_best_is_not_enqueued_and_its_figure_has_no_enqueued_marker():
    study = optuna.create_study(direction="maximize")
    _ask_and_tell(study, 0.9)
    origin = best_origin(study)
    assert (origin.best_number, origin.enqueued, origin.enqueued_params) == (0, False, {})
    assert origin.sampler_chose == ("c1_filters", "learning_rate")
    names = [t.name for t in best_so_far(origin).data]
    assert "enqueued trial" not in names and "sampled trial" in names


def test_a_retried_best_names_the_trial_it_reran(storage_url):
    study = optuna.create_study(storage=storage_url, direction="maximize")
    study.add_trial(_at(0, 1, TrialState.FAIL))
    retry = {"failed_trial": 0, "retry_history": [0]}  # as Optuna's retry callback stores it
    study.add_trial(_at(2, 5, value=0.9, epochs=2, system_attrs=retry))
    origin = best_origin(study)
    assert (origin.retry_of, origin.enqueued) == (0, False)


@pytest.mark.parametrize(
    "states", [[], [TrialState.PRUNED], [TrialState.RUNNING, TrialState.FAIL]]
)
def test_without_a_completed_trial_there_is_only_the_reason(states, storage_url):
    study = optuna.create_study(storage=storage_url, direction="maximize")
    for number, state in enumerate(states):
        study.add_trial(_at(number, None if state == TrialState.RUNNING else number + 1, state))
    origin = best_origin(study)
    assert origin.best_number is None and origin.until_best is None and not origin.completed
    assert origin.missing == "no trial has completed"
    text = _page(study)
    assert 'id="origin">Where the best trial came from</h3>' in text
    assert "Not shown: no trial has completed." in text


def test_the_page_says_how_the_best_trial_was_chosen_and_what_it_cost(resumed):
    text = _page(resumed)
    assert 'id="origin">Where the best trial came from</h3>' in text
    assert "Trial #3 (validation accuracy 0.9000) was sampled by the sampler" in text
    for cells in (
        "<td>trials started</td>\n      <td>5</td>\n      <td>6</td>\n      <td>83%</td>",
        "<td>epochs trained (finished trials)</td>\n      <td>7</td>\n      <td>10</td>",
        "<td>minutes since the first trial started</td>\n      <td>25.0</td>\n      <td>130.0",
    ):
        assert cells in text
    section = text[text.index('id="origin"') : text.index("<h3>Optimization history")]
    assert section.count('class="plotly-graph-div"') == 1  # the best-so-far curve


def test_the_page_says_an_enqueued_best_was_enqueued_by_hand():
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"c1_filters": 12})
    _ask_and_tell(study, 0.9)
    text = _page(study)
    assert "was enqueued by hand with c1_filters=12; the sampler chose learning_rate." in text
