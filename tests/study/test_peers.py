"""``lenet-study bench --section peers``: the best-so-far figures, the options, one real run."""

from __future__ import annotations

import io
import json

import pytest

from study.bench.peers import (
    CONTENDERS,
    ContenderRun,
    FinishedTrial,
    PeersReport,
    best_so_far,
    peers_settings,
    render,
    summarize,
)
from study.cli import main
from study.errors import UsageError
from study.settings import PEERS_BUDGET, PEERS_QUICK_BUDGET, RunSettings

TRIALS = [
    FinishedTrial(seconds=30.0, val_accuracy=0.50, epochs=1),
    FinishedTrial(seconds=40.0, val_accuracy=None, epochs=0),  # over the parameter budget
    FinishedTrial(seconds=45.0, val_accuracy=0.70, epochs=3),
    FinishedTrial(seconds=60.0, val_accuracy=0.60, epochs=3),
    FinishedTrial(seconds=100.0, val_accuracy=0.80, epochs=3),  # on the deadline: counts
    FinishedTrial(seconds=100.5, val_accuracy=0.95, epochs=3),  # after it: does not
]


@pytest.mark.parametrize(
    ("fractions", "expected"),
    [
        ((0.25, 0.5, 1.0), [None, 0.70, 0.80]),  # nothing by 25 s
        ((0.3, 0.59, 0.6), [0.50, 0.70, 0.70]),  # a trial counts from the second it ends
        ((1.0,), [0.80]),
    ],
)
def test_best_so_far_counts_only_trials_finished_by_each_fraction(fractions, expected):
    assert best_so_far(TRIALS, 100.0, fractions) == expected


def test_best_so_far_of_trials_without_a_value_is_none():
    assert best_so_far([FinishedTrial(1.0, None, 0)], 10.0) == [None, None, None]


def _report() -> PeersReport:
    runs = [
        ContenderRun("ours", TRIALS, 130.0),
        ContenderRun("random", TRIALS[:2], 101.0),
        ContenderRun("keras_tuner", [], 100.2),
    ]
    settings = {
        "budget_seconds": 100.0,
        "space": "study/spaces/default.toml",
        "epochs_per_trial": 3,
        "train_images": 300,
        "val_images": 100,
        "seed": 0,
        "workers": 2,
    }
    machine = {"cpu_model": "CPU", "cores": 2, "keras": "3", "optuna": "5"}
    return PeersReport(machine, settings, runs)


def test_summary_counts_trials_within_the_budget_and_those_without_a_value():
    ours, random, keras_tuner = summarize(_report())
    assert (ours.trials, ours.without_value, ours.best_at) == (5, 1, [None, 0.70, 0.80])
    assert (random.trials, random.without_value, random.best_at) == (2, 1, [None, 0.5, 0.5])
    assert (keras_tuner.trials, keras_tuner.best_at) == (0, [None, None, None])


def test_table_has_a_row_per_contender_and_a_dash_where_nothing_had_finished():
    table = render(_report())
    rows = {
        name: line.split()
        for line in table.splitlines()
        for name, description in CONTENDERS.items()
        if line.startswith(description)
    }
    assert rows["ours"][-5:] == ["5", "(1)", "-", "0.7000", "0.8000"]
    assert rows["random"][-5:] == ["2", "(1)", "-", "0.5000", "0.5000"]
    assert rows["keras_tuner"][-5:] == ["0", "(0)", "-", "-", "-"]
    assert "25 % (25 s)" in table and "100 % (100 s)" in table


def test_settings_take_runs_presets_and_a_budget_for_each():
    default, quick = peers_settings(), peers_settings("quick")
    accurate = peers_settings("accurate", 600.0, train_limit=1000)
    assert (default.budget_seconds, default.run.epochs) == (PEERS_BUDGET, RunSettings().epochs)
    assert (quick.budget_seconds, quick.run.train_limit) == (PEERS_QUICK_BUDGET, 5000)
    assert accurate.budget_seconds == 600.0
    assert accurate.run == RunSettings.accurate(train_limit=1000)
    with pytest.raises(UsageError, match="positive"):
        peers_settings(budget_seconds=0.0)


@pytest.mark.parametrize(
    "contenders", [("grid",), (), ("ours", "ours"), ("ours", "random", "keras_tuner", "x")]
)
def test_contenders_must_be_distinct_known_names(contenders):
    with pytest.raises(UsageError, match="contenders must be distinct names among ours"):
        peers_settings(contenders=contenders)


def test_only_the_chosen_contenders_run_in_their_order(monkeypatch):
    import study.bench.peers as peers

    ran: list[str] = []

    def optuna_contender(name, settings, folder, sampler, pruner):
        ran.append(name)
        return ContenderRun(name, [FinishedTrial(10.0, 0.8, 2)], 12.0)

    def keras_tuner_contender(settings, folder):
        ran.append("keras_tuner")
        return ContenderRun("keras_tuner", [], 12.0)

    monkeypatch.setattr(peers, "_optuna_contender", optuna_contender)
    monkeypatch.setattr(peers, "_keras_tuner_contender", keras_tuner_contender)
    settings = peers_settings(budget_seconds=100.0, contenders=("random", "ours"))
    report = peers.run_peers(settings, log=io.StringIO())
    assert ran == ["random", "ours"]
    assert [c.name for c in report.contenders] == ["random", "ours"]
    assert [s.best_at for s in summarize(report)] == [[0.8, 0.8, 0.8]] * 2


@pytest.mark.parametrize(
    "flag",
    [["--budget", "10"], ["--preset", "accurate"], ["--workers", "1"], ["--contenders", "ours"]],
)
def test_peers_options_without_the_peers_section_exit_2_before_any_work(flag, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["bench", *flag])
    assert raised.value.code == 2
    assert f"{flag[0]}: only with bench peers" in capsys.readouterr().err


@pytest.mark.slow
def test_three_contenders_run_for_the_budget_and_report_their_curves(tmp_path, capfd):
    budget = 45  # seconds: each contender's start-up, then a few trials of 300 images
    path = tmp_path / "peers.json"
    argv = ["bench", "--section", "peers", "--budget", str(budget), "--epochs", "3"]
    argv += ["--train-limit", "300", "--val-limit", "100", "--json", str(path)]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    # One stream of our own lines: none of TensorFlow's start-up, no failed KerasTuner trial.
    assert [line for line in err.splitlines() if not line.startswith("peers: ")] == []
    report = json.loads(path.read_text())
    assert report["settings"]["budget_seconds"] == budget
    assert (report["settings"]["train_images"], report["settings"]["val_images"]) == (300, 100)
    assert [c["name"] for c in report["contenders"]] == ["ours", "random", "keras_tuner"]
    for contender in report["contenders"]:
        assert CONTENDERS[contender["name"]] in out
        trials = contender["trials"]
        assert [t["seconds"] for t in trials] == sorted(t["seconds"] for t in trials)
        counted = [t for t in trials if t["seconds"] <= budget and t["val_accuracy"] is not None]
        assert counted, f"{contender['name']}: no trial finished within {budget} s"
        assert all(1 <= t["epochs"] <= 3 and 0 < t["val_accuracy"] <= 1 for t in counted)
        best = contender["best_at_fractions"]
        assert best[-1] == max(t["val_accuracy"] for t in counted)
        known = [value for value in best if value is not None]
        assert known == sorted(known)
    random = report["contenders"][1]["trials"]
    assert all(t["epochs"] == 3 for t in random if t["val_accuracy"] is not None)  # no pruner
