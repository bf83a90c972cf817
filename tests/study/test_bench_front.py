"""``lenet-study bench front``: the per-run and per-contender figures, the settings, bad
input, and one real comparison on a few hundred images."""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict

import optuna
import pytest
from optuna.distributions import FloatDistribution

from study.bench.front import (
    CONTENDERS,
    FRONT_BUDGET,
    FRONT_QUICK_BUDGET,
    FRONT_RUN,
    FrontReport,
    bench_trial,
    front_settings,
    render,
)
from study.bench.front_summary import (
    HV_MAX_SIZE,
    HV_MIN_ACCURACY,
    BenchTrial,
    SeedRun,
    Spread,
    summarize,
    summarize_run,
)
from study.cli import main
from study.errors import UsageError
from study.objectives import Point, hypervolume
from study.space import SPACES_DIR

EPOCHS = 6
BUDGET = 100.0
RIGHT = math.log10(HV_MAX_SIZE)  # the box's right edge, in log10 parameters
TRIALS = [
    BenchTrial(20.0, "complete", 6, 0.85, 10_000),
    BenchTrial(30.0, "pruned", 2),
    BenchTrial(45.0, "complete", 6, 0.90, 100_000),
    BenchTrial(60.0, "over_budget", 0),
    BenchTrial(70.0, "complete", 6, 0.88, 1_000),  # smaller and more accurate than the first
    BenchTrial(80.0, "pruned", 3),
    BenchTrial(90.0, "failed", 1),
    BenchTrial(100.0, "complete", 6, 0.79, 500),  # on the deadline, below the box's floor
    BenchTrial(100.5, "complete", 6, 0.95, 2_000),  # after the deadline: not counted
]


def test_a_run_counts_only_trials_finished_within_the_budget():
    summary = summarize_run(TRIALS, BUDGET, EPOCHS)
    assert (summary.completed, summary.pruned) == (4, 2)
    assert summary.epochs_trained == 6 + 2 + 6 + 0 + 6 + 3 + 1 + 6
    assert summary.epochs_saved == (6 - 2) + (6 - 3)  # pruned ones only, not over budget


def test_the_hypervolume_grows_as_trials_finish_and_steps_like_the_front():
    at_25, at_50, at_100 = summarize_run(TRIALS, BUDGET, EPOCHS).hypervolume_at
    first = (RIGHT - 4) * (0.85 - HV_MIN_ACCURACY)  # the 10,000-parameter trial alone
    assert at_25 == pytest.approx(first)
    assert at_50 == pytest.approx(first + (RIGHT - 5) * (0.90 - 0.85))
    # The 1,000-parameter trial hides the 10,000 one; the 0.79 trial is outside the box.
    assert at_100 == pytest.approx((RIGHT - 3) * (0.88 - 0.80) + (RIGHT - 5) * (0.90 - 0.88))


def test_a_run_without_a_completed_trial_in_the_box_has_no_hypervolume():
    trials = [BenchTrial(5.0, "pruned", 1), BenchTrial(6.0, "complete", 6, 0.7, 900.0)]
    summary = summarize_run(trials, BUDGET, EPOCHS)
    assert summary.hypervolume_at == [0.0, 0.0, 0.0]
    assert (summary.completed, summary.pruned, summary.epochs_saved) == (1, 1, 5)


def test_a_spread_is_the_mean_and_sample_std_and_one_value_has_no_std():
    assert Spread.of([1.0, 2.0, 6.0]) == Spread(3.0, pytest.approx(math.sqrt(7.0)))
    assert Spread.of([4.0]) == Spread(4.0, None)


def _runs() -> list[SeedRun]:
    second = [BenchTrial(10.0, "complete", 6, 0.9, 1_000), BenchTrial(11.0, "pruned", 4)]
    return [
        SeedRun("front", 0, TRIALS, 120.0),
        SeedRun("random", 0, TRIALS[:1], 101.0),
        SeedRun("front", 1, second, 110.0),
        SeedRun("random", 1, [], 100.5),
    ]


def test_contenders_are_summarized_over_their_seeds_in_the_order_they_ran():
    front, random = summarize(_runs(), BUDGET, EPOCHS)
    assert (front.name, front.seeds, random.name, random.seeds) == (
        "front",
        [0, 1],
        "random",
        [0, 1],
    )
    assert front.completed == Spread(2.5, pytest.approx(math.sqrt(4.5)))
    assert front.pruned == Spread(1.5, pytest.approx(math.sqrt(0.5)))
    assert front.epochs_saved == Spread(4.5, pytest.approx(math.sqrt(12.5)))
    at_100 = [summarize_run(run.trials, BUDGET, EPOCHS).hypervolume_at[-1] for run in _runs()]
    assert front.hypervolume_at[-1].mean == pytest.approx((at_100[0] + at_100[2]) / 2)
    assert random.hypervolume_at[-1] == Spread(
        pytest.approx(at_100[1] / 2), pytest.approx(at_100[1] / math.sqrt(2))
    )


def _report(runs: list[SeedRun] | None = None, seeds: list[int] | None = None) -> FrontReport:
    settings = front_settings(budget_seconds=BUDGET, seeds=seeds or [0, 1]).describe()
    settings["epochs_per_trial"] = EPOCHS
    machine = {"cpu_model": "CPU", "cores": 2, "keras": "3", "optuna": "5", "python": "3"}
    return FrontReport(machine, settings, _runs() if runs is None else runs)


def test_the_table_has_a_row_per_contender_with_mean_and_std_and_states_the_box():
    text = render(_report())
    rows = {
        name: line for line in text.splitlines() for name, c in CONTENDERS.items()
        if line.startswith(c[2])
    }  # fmt: skip
    assert set(rows) == {"front", "random"}
    assert "2.5 ± 2.1" in rows["front"] and "1.5 ± 0.7" in rows["front"]
    assert "HV 25 % (25 s)" in text and "HV 100 % (100 s)" in text
    assert f"above val_accuracy {HV_MIN_ACCURACY:.2f} and below {HV_MAX_SIZE:,} parameters" in text
    assert "mean ± std over seeds 0,1," in text and "study/spaces/pareto.toml" in text


def test_one_seed_shows_bare_means():
    text = render(_report([SeedRun("tpe", 3, TRIALS, 101.0)], seeds=[3]))
    (row,) = [line for line in text.splitlines() if line.startswith(CONTENDERS["tpe"][2])]
    assert "±" not in text and "seed 3, counting" in text
    assert row.split()[3:7] == ["4.0", "2.0", "30.0", "7.0"]


def test_the_json_keeps_every_trial_each_runs_figures_and_the_summaries():
    record = json.loads(json.dumps(_report().to_dict()))
    assert record["fractions"] == [0.25, 0.5, 1.0]
    assert record["settings"]["hypervolume_box"]["max_size"] == HV_MAX_SIZE
    assert record["settings"]["objectives"] == ["accuracy", "params"]
    first = record["runs"][0]
    assert (first["contender"], first["seed"], len(first["trials"])) == ("front", 0, len(TRIALS))
    assert first["summary"]["epochs_saved"] == 7
    assert [c["name"] for c in record["contenders"]] == ["front", "random"]
    assert record["contenders"][0]["completed"] == {
        "mean": 2.5,
        "std": pytest.approx(2.1213, 1e-4),
    }


def _frozen(state, values=None, **attrs) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        state=state,
        values=values,
        params={"dropout_rate": 0.1},
        distributions={"dropout_rate": FloatDistribution(0.0, 0.5)},
        user_attrs=attrs,
    )


@pytest.mark.parametrize(
    ("trial", "expected"),
    [
        (
            _frozen(optuna.trial.TrialState.COMPLETE, [0.875, 5376.0], epochs_run=6),
            BenchTrial(7.0, "complete", 6, 0.875, 5376.0),
        ),
        (
            _frozen(optuna.trial.TrialState.PRUNED, epochs_run=2, end="pruned at epoch 2"),
            BenchTrial(7.0, "pruned", 2),
        ),
        (
            _frozen(
                optuna.trial.TrialState.PRUNED,
                end="pruned before training: 600000 parameters > 500000",
            ),
            BenchTrial(7.0, "over_budget", 0),
        ),
        (
            _frozen(optuna.trial.TrialState.FAIL, epochs_run=1, end="failed: loss is nan"),
            BenchTrial(7.0, "failed", 1),
        ),
    ],
)
def test_a_stored_trial_is_counted_by_its_state_and_recorded_epochs(trial, expected):
    assert bench_trial(trial, 7.0) == expected


def test_the_settings_are_the_pareto_study_sized_for_half_an_hour():
    default, quick = front_settings(), front_settings(quick=True)
    assert (default.budget_seconds, default.seeds, default.contenders) == (
        FRONT_BUDGET, (0, 1, 2), ("front", "tpe", "random"),
    )  # fmt: skip
    assert default.run.objectives == ("accuracy", "params")
    assert default.run.space_file == SPACES_DIR / "pareto.toml"
    assert (default.run.train_limit, default.run.val_limit, default.run.epochs) == tuple(
        FRONT_RUN.values()
    )
    assert (quick.budget_seconds, quick.seeds) == (FRONT_QUICK_BUDGET, (0,))
    given = front_settings(True, 9.0, [4], ["random"], epochs=3, workers=1)
    assert (given.budget_seconds, given.seeds, given.contenders) == (9.0, (4,), ("random",))
    assert (given.run.epochs, given.run.workers, given.run.train_limit) == (3, 1, 1_000)
    assert "seed" not in given.describe() and given.describe()["seeds"] == [4]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"budget_seconds": 0.0}, "the budget must be positive"),
        ({"budget_seconds": -1.0}, "the budget must be positive"),
        ({"contenders": ["grid"]}, "contenders must be distinct names among front, tpe"),
        ({"contenders": []}, "contenders must be distinct names"),
        ({"contenders": ["tpe", "tpe"]}, "contenders must be distinct names"),
        ({"seeds": []}, "seeds must be distinct, at least one, got none"),
        ({"seeds": [1, 1]}, "seeds must be distinct, at least one"),
    ],
)
def test_bad_settings_are_refused(given, message):
    with pytest.raises(UsageError, match=message):
        front_settings(**given)


def test_the_seeds_run_in_turn_with_the_contenders_back_to_back(monkeypatch):
    import study.bench.front as front

    ran: list[tuple[str, int]] = []

    def run_contender(name, run, folder, budget):
        ran.append((name, run.seed))
        assert (run.objectives, budget) == (("accuracy", "params"), 50.0)
        return SeedRun(name, run.seed, [BenchTrial(10.0, "complete", 6, 0.9, 1_000)], 51.0)

    monkeypatch.setattr(front, "_run_contender", run_contender)
    settings = front_settings(budget_seconds=50.0, seeds=[2, 5], contenders=["random", "front"])
    report = front.run_front(settings, log=io.StringIO())
    assert ran == [("random", 2), ("front", 2), ("random", 5), ("front", 5)]
    assert [(s.name, s.seeds) for s in report.summaries()] == [
        ("random", [2, 5]), ("front", [2, 5]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "flags",
    [
        ["--contenders", "front,grid"],
        ["--contenders", ","],
        ["--budget", "0"],
        ["--budget", "-5"],
        ["--seeds", ""],
        ["--seeds", "0,,1"],
        ["--seeds", "1,1"],
        ["--seeds", "x"],
        ["--preset", "quick"],  # peers' option
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(flags, tmp_path, capsys):
    path = tmp_path / "front.json"
    path.write_text('{"kept": true}\n')
    argv = ["bench", "front", *flags, "--json", str(path)]
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(("lenet-study: error:", "lenet-study bench front: error:")), line
    assert path.read_text() == '{"kept": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.json"]


@pytest.mark.slow
def test_three_contenders_run_for_the_budget_and_report_their_fronts(tmp_path, capfd):
    budget, epochs = 40, 3  # seconds: each run's start-up, then a few trials of 300 images
    path = tmp_path / "front.json"
    argv = ["bench", "front", "--budget", str(budget), "--seeds", "0", "--epochs", str(epochs)]
    argv += ["--train-limit", "300", "--val-limit", "100", "--workers", "1", "--json", str(path)]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    # One stream of our own lines: none of TensorFlow's start-up, nothing from the workers.
    assert [line for line in err.splitlines() if not line.startswith("front: seed 0: ")] == []
    report = json.loads(path.read_text())
    settings = report["settings"]
    assert (settings["budget_seconds"], settings["seeds"]) == (budget, [0])
    assert (settings["train_images"], settings["val_images"], settings["workers"]) == (300, 100, 1)
    assert report["machine"]["optuna"] == optuna.__version__
    assert [r["contender"] for r in report["runs"]] == ["front", "tpe", "random"]
    for run in report["runs"]:
        assert CONTENDERS[run["contender"]][2] in out
        trials = [BenchTrial(**t) for t in run["trials"]]
        assert [t.seconds for t in trials] == sorted(t.seconds for t in trials)
        counted = [t for t in trials if t.seconds <= budget]
        completed = [t for t in counted if t.state == "complete"]
        assert completed, f"{run['contender']}: no trial completed within {budget} s"
        assert all(t.epochs == epochs and 0 < t.accuracy <= 1 and t.size > 0 for t in completed)
        if run["contender"] != "front":  # no pruner: every trial trains in full
            assert all(t.state == "complete" for t in counted)
        assert all(1 <= t.epochs < epochs for t in counted if t.state == "pruned")
        summary = run["summary"]
        assert summary == asdict(summarize_run(trials, budget, epochs))
        points = [Point(i, t.accuracy, t.size) for i, t in enumerate(completed)]
        expected = hypervolume(points, HV_MIN_ACCURACY, HV_MAX_SIZE)
        assert summary["hypervolume_at"][-1] == pytest.approx(expected)
        assert summary["hypervolume_at"] == sorted(summary["hypervolume_at"])
    assert [c["name"] for c in report["contenders"]] == ["front", "tpe", "random"]
    assert all(c["completed"]["std"] is None for c in report["contenders"])  # one seed
