"""The command line end to end, on real data shrunk by --quick."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pandas as pd
import pytest

from study.cli import main

# One worker: these tests read what `run` prints, so it must run in this process.
TINY = ["--quick", "--n-trials", "2", "--epochs", "1", "--workers", "1"]


def _where(tmp_path) -> list[str]:
    return ["--storage", f"sqlite:///{tmp_path / 'db.sqlite'}", "--results-dir", str(tmp_path)]


@pytest.mark.slow
def test_run_resume_and_list_trials(tmp_path, capsys):
    assert main(["run", *TINY, *_where(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("trial ") >= 2
    assert "best: trial" in out
    assert main(["run", *TINY, *_where(tmp_path)]) == 0
    assert "2 earlier trials" in capsys.readouterr().out
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    assert len(study.trials) == 4
    assert all(t.state.is_finished() for t in study.trials)
    assert study.user_attrs["manifest"]["protocol"]["epochs"] == 1

    csv = tmp_path / "trials.csv"
    assert main(["trials", *_where(tmp_path), "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert table["number"].tolist() == [0, 1, 2, 3]
    assert {"val_accuracy", "learning_rate", "c1_filters", "epochs_run"} <= set(table.columns)


@pytest.mark.slow
def test_resuming_with_other_epochs_is_refused_and_keeps_the_trials(tmp_path, capsys):
    assert main(["run", *TINY, *_where(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", *TINY, "--n-trials", "1", "--epochs", "2", *_where(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lenet-study: error:") and "protocol" in err
    assert "\n" not in err
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    assert len(study.trials) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--n-trials", "-3"],
        ["run", "--n-trials", "many"],
        ["run", "--epochs", "0"],
        ["run", "--sampler", "grid"],
        ["run", "--pruner", "patient"],
        ["run", "--timeout", "-1"],
        ["run", "--workers", "0"],
        ["run", "--trials-per-process", "0"],
        ["run", "--max-trials", "0"],
        ["run", "--max-trials", "lots"],
        ["run", "--preset", "huge"],
        ["dashboard", "--port", "70000"],
        ["report", "--seeds", "0"],
        ["fly"],
    ],
)
def test_invalid_flags_exit_2_with_a_usage_line(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_unparsable_storage_url_exits_2_without_a_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "study.cli",
            "run",
            "--storage",
            "no-such-scheme:/x",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "cannot parse storage URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["trials"],
        ["export"],
        ["report"],
        ["dashboard"],
        ["studies"],
        ["delete-study", "--study-name", "s", "--yes"],
    ],
)
def test_read_commands_on_a_missing_storage_create_nothing(tmp_path, capsys, command):
    assert main([*command, *_where(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"no storage at {tmp_path / 'db.sqlite'}" in err
    assert list(tmp_path.iterdir()) == []


def test_trials_of_a_missing_study_exit_1(tmp_path, capsys):
    optuna.create_study(study_name="other", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert main(["trials", *_where(tmp_path), "--study-name", "nope"]) == 1
    assert "no study 'nope'" in capsys.readouterr().err


def test_trials_shows_a_dash_for_what_a_trial_does_not_have(tmp_path, capsys):
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    distribution = optuna.distributions.IntDistribution(4, 8)
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED,
            params={"c1_filters": 8},
            distributions={"c1_filters": distribution},
        )
    )
    assert main(["trials", *_where(tmp_path), "--study-name", "s"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "None" not in out
    header, row = out.splitlines()[:2]
    assert row.split()[header.split().index("val_accuracy")] == "-"


@pytest.mark.slow
def test_accurate_preset_runs_its_wide_space_within_the_budget(tmp_path):
    argv = [
        "run",
        "--preset",
        "accurate",
        "--n-trials",
        "3",
        "--epochs",
        "1",
        "--train-limit",
        "2000",
        "--val-limit",
        "500",
        "--workers",
        "1",
        *_where(tmp_path),
    ]
    assert main(argv) == 0
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    assert study.user_attrs["manifest"]["search_space"]["max_params"] == 100_000
    assert {"optimizer", "batch_norm", "lr_schedule"} <= set(study.trials[0].params)
    for trial in study.trials:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.user_attrs["n_params"] <= 100_000


def test_a_bad_space_file_exits_2_with_one_line(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text("[params]\nlearning_rate = { low = 0.0, high = 0.1, log = true }\n")
    assert main(["run", "--space", str(space), *_where(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "above zero" in err and err.count("\n") == 1
    assert not (tmp_path / "db.sqlite").exists()  # refused before touching the storage


@pytest.mark.slow
def test_enqueued_points_run_first_and_only_once_per_study(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(
        "[params]\n"
        "c1_filters = { low = 4, high = 8, step = 2 }\n"
        "learning_rate = { low = 1e-3, high = 1e-2, log = true }\n"
        "[[enqueue]]\nc1_filters = 6\nlearning_rate = 2e-3\n"
    )
    argv = ["run", *TINY, "--space", str(space), *_where(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 0  # resumed: the point is not queued again
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    assert study.trials[0].params == {"c1_filters": 6, "learning_rate": 2e-3}
    assert study.trials[0].system_attrs.get("fixed_params")
    assert not any(t.system_attrs.get("fixed_params") for t in study.trials[1:])
    assert len(study.trials) == 4


@pytest.mark.slow
def test_reading_a_study_and_supervising_workers_do_not_load_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from study.cli import main\n"
        "import study.workers\n"
        f"code = main(['trials', '--storage', 'sqlite:///{tmp_path / 'db.sqlite'}'])\n"
        "print(code, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1", "False"]  # no such study yet: exit 1, no TensorFlow


_TENSORFLOW_START_UP = (
    "absl::InitializeLog",
    "oneDNN custom operations",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "cpu_feature_guard",
)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])  # in the run process; in worker processes
def test_run_prints_no_tensorflow_start_up_lines(tmp_path, workers):
    argv = ["run", "--quick", "--n-trials", "2", "--epochs", "1", "--workers", workers]
    result = subprocess.run(
        [sys.executable, "-m", "study.cli", *argv, *_where(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "best: trial" in result.stdout  # it did train
    assert [m for m in _TENSORFLOW_START_UP if m in result.stderr] == []
    assert result.stderr == ""


@pytest.mark.slow
def test_workers_share_one_header_and_the_supervisor_prints_each_trial_once(tmp_path, capfd):
    argv = ["run", "--quick", "--n-trials", "3", "--epochs", "1", "--workers", "2"]
    assert main([*argv, *_where(tmp_path)]) == 0
    out = capfd.readouterr().out
    assert out.count("study 'lenet5-fashion-mnist'") == 1
    assert [line.split()[1] for line in out.splitlines() if line.startswith("trial ")] == [
        "0",
        "1",
        "2",
    ]


@pytest.mark.slow
def test_quiet_prints_only_the_summary(tmp_path, capsys):
    assert main(["run", *TINY, "--quiet", *_where(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 trials (") and "best: trial" in out
    assert "study '" not in out and "trial   0" not in out and "next:" not in out


@pytest.mark.slow
def test_verbose_adds_a_line_per_epoch(tmp_path, capsys):
    argv = ["run", *TINY, "--epochs", "2", "--pruner", "none", "--verbose"]
    assert main([*argv, *_where(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "trial   0  epoch  1/2  loss" in out and "trial   1  epoch  2/2  loss" in out


@pytest.mark.slow
def test_a_finished_run_ends_with_the_commands_that_show_its_result(tmp_path, capsys):
    assert main(["run", *TINY, "--study-name", "mine", *_where(tmp_path)]) == 0
    tail = capsys.readouterr().out.split("next:\n", 1)[1].splitlines()
    where = f"--study-name mine --storage sqlite:///{tmp_path / 'db.sqlite'} --results-dir"
    assert [line.split()[1] for line in tail] == ["dashboard", "export", "report"]
    assert all(where in line for line in tail)


def _subcommands() -> dict:
    import argparse

    from study.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_option_has_help_text(command):
    import argparse

    for action in _subcommands()[command]._actions:
        if action.help == argparse.SUPPRESS:
            continue  # --supervised and --worker-index: set by `run` for its workers
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        if action.default not in (None, False, argparse.SUPPRESS) and action.dest != "help":
            assert "%(default)s" in action.help or str(action.default) in action.help, (
                f"{command} {action.option_strings} does not show its default"
            )


def test_run_help_shows_the_defaults_of_run_settings_and_the_presets(capsys):
    from study.settings import RunSettings

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    default, quick = RunSettings(), RunSettings.quick()
    assert f"trials to add (default: {default.n_trials}; --quick: {quick.n_trials};" in text
    assert f"epochs per trial (default: {default.epochs}; --quick: {quick.epochs};" in text
    assert f"(default: {default.workers})" in text and f"(default: {default.sampler})" in text


@pytest.mark.slow
def test_resuming_with_another_sampler_says_so_in_the_header(tmp_path, capsys):
    assert main(["run", *TINY, "--n-trials", "1", *_where(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", *TINY, "--n-trials", "1", "--sampler", "random", *_where(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "resumed: created with sampler tpe, now random" in out
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    manifest = study.user_attrs["manifest"]
    assert (manifest["sampler"], manifest["pruner"]) == ("tpe", "hyperband")  # as created


@pytest.mark.slow
def test_a_multi_objective_run_ends_with_commands_that_list_and_export_its_front(tmp_path, capsys):
    argv = ["run", *TINY, "--objectives", "accuracy,params", "--pruner", "none"]
    assert main([*argv, *_where(tmp_path)]) == 0
    tail = capsys.readouterr().out.split("next:\n", 1)[1].splitlines()
    commands = [line.split("#")[0].split()[1:] for line in tail]
    assert [c[0] for c in commands] == ["dashboard", "trials", "export", "report"]
    assert commands[1][:2] == ["trials", "--front"]
    assert commands[2][:2] == ["export", "--smallest-above"]
    # The commands shown work as they are.
    assert main(commands[1]) == 0
    front = capsys.readouterr().out.splitlines()
    assert front[0].split()[2:5] == ["val_accuracy", "params", "front"]
    assert main([*commands[2], "--out", str(tmp_path / "export")]) == 0
    record = json.loads((tmp_path / "export" / "best_model.json").read_text())
    assert record["chosen"]["by"] == "smallest_above"
    assert record["objective_values"]["params"] == record["n_params"]
    assert str(record["trial_number"]) in [line.split()[0] for line in front[1:]]
