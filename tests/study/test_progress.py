"""What `run` prints: the header, trial lines, the next commands."""

from __future__ import annotations

import io
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from study.objectives import Point, smallest_above
from study.progress import QUIET, VERBOSE, Progress, header, next_commands, resumed_with_other
from study.settings import RunSettings


def test_header_counts_epochs_and_trials_in_the_singular_and_plural():
    line = header(RunSettings.quick(epochs=1), earlier_trials=1)
    assert "1 earlier trial;" in line and "1 epoch per trial" in line
    assert "2 epochs per trial" in header(RunSettings.quick(), earlier_trials=2)


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        (RunSettings(), True),
        (RunSettings(startup_epochs=0), False),
        (RunSettings(pruner="none"), False),
        (RunSettings.quick(), False),  # 2 epochs per trial: a screen at epoch 2 stops nothing
    ],
)
def test_header_says_when_the_startup_trials_are_screened(settings, shown):
    assert ("start-up screened at epoch 2" in header(settings, 0)) == shown


def test_header_gives_the_data_sizes_the_run_will_use_without_loading_them():
    line = header(RunSettings.quick(), earlier_trials=0)
    assert "5,000 training and 1,000 validation images" in line
    assert "50,000 training and 10,000 validation images" in header(RunSettings(), 0)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"sampler": "tpe", "pruner": "hyperband"}, "created with sampler tpe, now random"),
        (
            {"sampler": "tpe", "pruner": "median"},
            "created with sampler tpe, now random and pruner median, now hyperband",
        ),
        ({"sampler": "random", "pruner": "hyperband"}, None),
        (
            {"sampler": "random", "pruner": "hyperband", "startup_epochs": 0},
            "created with startup epochs 0, now 2",
        ),
        (None, None),
    ],
)
def test_a_resumed_study_made_with_another_sampler_or_pruner_is_named(stored, expected):
    settings = RunSettings(sampler="random", pruner="hyperband")
    assert resumed_with_other(stored, settings) == expected
    line = header(settings, 3, stored)
    assert (f"\nresumed: {expected}" in line) if expected else "resumed" not in line


def test_next_commands_carry_only_the_places_that_are_not_the_defaults():
    assert next_commands(RunSettings())[0].startswith("lenet-study dashboard  #")
    other = RunSettings(study_name="mine", results_dir=Path("out dir"), storage="sqlite:///x.db")
    commands = next_commands(other)
    assert [c.split()[1] for c in commands] == ["dashboard", "export", "report"]
    for command in commands:
        assert "--study-name mine --storage sqlite:///x.db --results-dir 'out dir'" in command


@pytest.mark.parametrize(
    ("front", "accuracy"),
    [
        ([Point(0, 0.86, 6e4), Point(1, 0.905, 9e4)], "0.9"),  # the front reaches 0.9
        ([Point(0, 0.70, 1e3), Point(1, 0.86, 1e4), Point(2, 0.87, 1e6)], "0.86"),  # its knee
        ([Point(0, 0.8199999928474426, 6e4)], "0.81"),  # rounded down: the command works
    ],
)
def test_a_multi_objective_run_ends_with_the_front_and_an_export_of_a_point_on_it(front, accuracy):
    settings = RunSettings(
        objectives=("accuracy", "params"), pruner="none", study_name="mine", storage="sqlite:///x"
    )
    commands = next_commands(settings, front)
    assert [c.split("#")[0].split() for c in commands] == [
        ["lenet-study", *command, "--study-name", "mine", "--storage", "sqlite:///x"]
        for command in (
            ["dashboard"],
            ["trials", "--front"],
            ["export", "--smallest-above", accuracy],
            ["report"],
        )
    ]
    assert commands[2].endswith(
        f"# the smallest model at or above val_accuracy {accuracy}, and its record"
    )
    front_accuracy = float(accuracy)
    assert smallest_above(front, front_accuracy) is not None


def _trial(number: int, value: float | None, state: TrialState = TrialState.COMPLETE):
    trial = optuna.trial.create_trial(value=value, state=state)
    trial.number = number
    return trial


def test_plain_progress_prints_the_header_and_one_line_per_trial():
    out = io.StringIO()
    progress = Progress(total=2, out=out, bar=False)
    progress.header("study 'x'")
    progress.epoch("epoch 1/1")
    progress.trial(_trial(0, 0.5))
    progress.trial(_trial(1, None, TrialState.FAIL))
    lines = out.getvalue().splitlines()
    assert lines[0] == "study 'x'" and len(lines) == 3
    assert "trial   0  COMPLETE" in lines[1] and "trial   1  FAIL" in lines[2]
    assert progress.best == 0.5


def test_a_trial_over_the_parameter_budget_says_so_on_its_line():
    out = io.StringIO()
    over = _trial(2, None, TrialState.PRUNED)
    over.set_user_attr("end", "pruned before training: 120000 parameters > 100000")
    Progress(out=out, bar=False).trial(over)
    line = out.getvalue().strip()
    assert line.startswith("trial   2  PRUNED") and "epochs  0" in line
    assert line.endswith(" s  before training: 120000 parameters > 100000")


@pytest.mark.parametrize(
    ("verbosity", "worker", "expected"),
    [
        (QUIET, False, []),
        (VERBOSE, False, ["header", "epoch", "trial"]),
        (VERBOSE, True, ["epoch"]),  # a worker's supervisor prints its header and trials
        (QUIET, True, []),
    ],
)
def test_verbosity_decides_which_lines_are_printed(verbosity, worker, expected):
    out = io.StringIO()
    progress = Progress(verbosity=verbosity, out=out, bar=False, worker=worker)
    progress.header("header")
    progress.epoch("epoch")
    progress.trial(_trial(0, 0.5))
    kinds = [line.split()[0] for line in out.getvalue().splitlines()]
    assert kinds == expected


def test_the_bar_is_off_when_stderr_is_not_a_terminal(capsys):
    progress = Progress(total=1)  # pytest's captured stderr is no terminal
    progress.header("header")
    assert not progress.show_bar and progress._bar is None


class _FakeBar:
    def __init__(self) -> None:
        self.updates = 0
        self.postfix = ""

    def update(self, n: int) -> None:
        self.updates += n

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def write(self, line: str, file=None) -> None:
        print(line, file=file)


def test_under_a_bar_only_failed_trials_get_a_line_and_the_bar_shows_the_best():
    out = io.StringIO()
    progress = Progress(total=3, out=out, bar=False)
    progress._bar = bar = _FakeBar()  # what header() makes on a terminal
    progress.trial(_trial(0, 0.5))
    progress.trial(_trial(1, 0.7))
    progress.trial(_trial(2, None, TrialState.FAIL))
    assert bar.updates == 3 and bar.postfix == "best val_accuracy 0.7000"
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["2"]
