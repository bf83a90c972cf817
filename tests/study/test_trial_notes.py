"""What a multi-objective study's trials leave for optuna-dashboard: notes, learning curves,
and the confusion matrix of the most accurate trial."""

from __future__ import annotations

import json

import optuna
from optuna.trial import TrialState
from optuna_dashboard import get_note
from optuna_dashboard._custom_plot_data import get_plotly_graph_objects  # the dashboard's reader

from study.trial_notes import CONFUSION_ID, curves_id, trial_note


def _figures(study: optuna.Study) -> dict[str, dict]:
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return {key: json.loads(text) for key, text in get_plotly_graph_objects(attrs).items()}


def test_every_trial_of_a_multi_objective_study_gets_its_note(storage_url, pareto_study):
    study = pareto_study(storage_url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3 + [TrialState.PRUNED]
    for trial in study.trials:
        assert get_note(optuna.Trial(study, trial._trial_id)) == trial_note(trial)
    notes = [trial_note(t) for t in study.trials]
    assert "### Trial 1: completed" in notes[1]
    assert (
        "best val_accuracy **0.9000** at epoch 3 of 3 run, 100,000 parameters, "
        "700,000 MACs per image"
    ) in notes[1]
    assert "best val_accuracy **0.8800** at epoch 2 of 3 run, 1,000 parameters" in notes[2]
    assert "### Trial 3: pruned at epoch 2" in notes[3]
    assert all("| c1_filters |" in note for note in notes)


def test_curves_for_each_completed_trial_and_the_most_accurate_ones_confusion(
    storage_url, pareto_study
):
    study = pareto_study(storage_url)
    figures = _figures(study)
    assert set(figures) == {curves_id(n) for n in (0, 1, 2)} | {CONFUSION_ID}
    curves = figures[curves_id(2)]["data"]
    assert {c["name"] for c in curves} == {"accuracy", "val_accuracy", "loss", "val_loss"}
    (val_accuracy,) = [c for c in curves if c["name"] == "val_accuracy"]
    assert val_accuracy["y"] == [0.84, 0.88, 0.87]  # conftest.PARETO_TRIALS[2]
    # Trial 2 completed after trial 1 and is on the front, but less accurate: trial 1 stays.
    confusion = figures[CONFUSION_ID]
    assert "Best trial (1)" in confusion["layout"]["title"]["text"]
    assert confusion["data"][0]["z"][0][0] == 101
