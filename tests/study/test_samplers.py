"""A resumed study, or two runs on one study at once, never repeats a configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from study.cli import main
from study.samplers import SEED_RULE, trial_seed

pytestmark = pytest.mark.slow  # every test here runs real studies

NAME = "lenet5-fashion-mnist"
# 4 trials of 1 epoch on 500 images, in this process: a few seconds per run.
SMALL = ["--quick", "--n-trials", "4", "--epochs", "1", "--workers", "1"]
SMALL += ["--train-limit", "500", "--val-limit", "200", "--pruner", "none"]


def _where(folder: Path) -> list[str]:
    return ["--storage", f"sqlite:///{folder / 'db.sqlite'}", "--results-dir", str(folder)]


def _configurations(folder: Path) -> list[tuple]:
    study = optuna.load_study(study_name=NAME, storage=f"sqlite:///{folder / 'db.sqlite'}")
    assert study.user_attrs["manifest"]["sampler_seed"] == SEED_RULE
    return [tuple(sorted(t.params.items())) for t in study.trials]


def test_trial_seeds_differ_per_trial_and_repeat_per_study_seed():
    assert len({trial_seed(0, n) for n in range(100)}) == 100
    assert trial_seed(0, 7) == trial_seed(0, 7) != trial_seed(1, 7)


def test_a_resumed_study_draws_new_configurations(tmp_path):
    argv = ["run", *SMALL, "--sampler", "tpe", *_where(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 0  # the same command again: 4 more trials, none a repeat
    configurations = _configurations(tmp_path)
    assert len(configurations) == 8
    assert len(set(configurations)) == 8


def test_two_runs_starting_together_on_a_new_database_both_run_new_configurations(tmp_path):
    argv = [sys.executable, "-m", "study.cli", "run", *SMALL, "--sampler", "random"]
    argv += _where(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in results]
    assert not [err for _, err in results if "ExperimentalWarning" in err]
    configurations = _configurations(tmp_path)
    assert len(configurations) == 8
    assert len(set(configurations)) == 8
