"""What ``lenet-study run`` prints: one header, one line per trial or a progress bar, and the
commands to run next. Light to import: the worker supervisor uses it without TensorFlow."""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from optuna.trial import FrozenTrial, TrialState

from study.masking import mask_url
from study.objectives import Point, knee
from study.results import trained_epochs
from study.samplers import screen_note
from study.settings import (
    DEFAULT_RESULTS_DIR,
    DEFAULT_STUDY_NAME,
    FASHION_MNIST_TRAIN_IMAGES,
    RunSettings,
)
from study.text import plural
from study.trial_record import Failed, OverBudget, TrialRecord

QUIET, NORMAL, VERBOSE = 0, 1, 2  # RunSettings.verbosity: -q, neither, -v
EXPORT_ACCURACY = 0.9  # the export a multi-objective run's end suggests, if the front reaches it


def format_trial(trial: FrozenTrial, sizes: bool = False) -> str:
    """One progress line: number, state, value, epochs run, seconds; with ``sizes`` (a
    study with a size objective), the model's parameters too."""
    seconds = trial.duration.total_seconds() if trial.duration else float("nan")
    record = TrialRecord.of(trial)
    value = f"{trial.values[0]:.4f}" if trial.values else "-"
    curve = list(trial.intermediate_values.values()) or (record.history or {}).get(
        "val_accuracy", []
    )
    if trial.state == TrialState.PRUNED and curve:
        value = f"({max(curve):.4f})"
    epochs = trained_epochs(trial)
    line = (
        f"trial {trial.number:>3}  {trial.state.name:<8}  val_accuracy {value:>8}  "
        f"epochs {epochs:>2}  {seconds:6.1f} s"
    )
    if sizes and record.n_params is not None:
        line += f"  params {record.n_params:>7,}"
    end = record.end
    if isinstance(end, Failed):
        line += f"  {end}"
    elif isinstance(end, OverBudget):  # "epochs 0" alone puzzles
        line += f"  {end.note}"
    return line


def data_sizes(settings: RunSettings) -> tuple[int, int]:
    """The training and validation images a run of ``settings`` uses, without loading them."""
    train = FASHION_MNIST_TRAIN_IMAGES - settings.val_size
    val = settings.val_size
    if settings.train_limit is not None:
        train = min(train, settings.train_limit)
    if settings.val_limit is not None:
        val = min(val, settings.val_limit)
    return train, val


def resumed_with_other(stored: Mapping[str, Any] | None, settings: RunSettings) -> str | None:
    """``created with sampler tpe, now random`` when a resumed study was made with another
    sampler or pruner than this run's; None for a new study or the same ones."""
    if not stored:
        return None
    ours = {
        "sampler": settings.sampler,
        "pruner": settings.pruner,
        "startup_trials": settings.startup_trials,
        "startup_epochs": settings.startup_epochs,
    }
    changes = [
        f"{name.replace('_', ' ')} {stored[name]}, now {value}"
        for name, value in ours.items()
        if stored.get(name) not in (None, value)
    ]
    return "created with " + " and ".join(changes) if changes else None


def objectives_note(objectives: Sequence[str]) -> str:
    """``accuracy against params (Pareto front); ``: a header's words for a size objective."""
    return f"accuracy against {objectives[1]} (Pareto front); "


def header(
    settings: RunSettings, earlier_trials: int, stored: Mapping[str, Any] | None = None
) -> str:
    """The run's one header line.

    Args:
        earlier_trials: the study's trials before this run.
        stored: the manifest the study was created with, if it exists.
    """
    train, val = data_sizes(settings)
    workers = f", {plural(settings.workers, 'worker')}" if settings.workers > 1 else ""
    line = (
        f"study {settings.study_name!r} in {mask_url(settings.storage_url)}: "
        f"{plural(earlier_trials, 'earlier trial')}; "
        f"{train:,} training and {val:,} validation images; "
        f"{'' if len(settings.objectives) == 1 else objectives_note(settings.objectives)}"
        f"{plural(settings.epochs, 'epoch')} per trial, {settings.sampler} sampler, "
        f"{settings.pruner} pruner"
        f"{_screen(settings)}{workers}"
    )
    other = resumed_with_other(stored, settings)
    return line + (f"\nresumed: {other}" if other else "")


def study_flags(study_name: str, storage: str | None, results_dir: Path) -> list[str]:
    """The options that name a study and its places, those that are not the defaults; the
    storage's password masked."""
    where: list[str] = []
    if study_name != DEFAULT_STUDY_NAME:
        where += ["--study-name", study_name]
    if storage is not None:
        where += ["--storage", mask_url(storage)]  # the password is not shown
    if results_dir != DEFAULT_RESULTS_DIR:
        where += ["--results-dir", str(results_dir)]
    return where


def next_commands(settings: RunSettings, front: Sequence[Point] = ()) -> list[str]:
    """The commands that show this run's result, with its non-default study and places.

    Args:
        front: the study's accuracy-size front, for a study with a size objective: it has no
            single best, so the commands list the front and export a point of it.
    """
    where = study_flags(settings.study_name, settings.storage, settings.results_dir)
    chosen: list[tuple[list[str], str]] = [(["export"], "the best model and its record")]
    if len(settings.objectives) > 1:
        accuracy = export_threshold(front)
        chosen = [
            (["trials", "--front"], "the accuracy-size front, smallest first"),
            (
                ["export", "--smallest-above", f"{accuracy:g}"],
                f"the smallest model at or above val_accuracy {accuracy:g}, and its record",
            ),
        ]
    lines = {
        shlex.join(["lenet-study", *command, *where]): why
        for command, why in (
            (["dashboard"], "browse the trials"),
            *chosen,
            (["report"], "report.html and report.pdf"),
        )
    }
    width = max(map(len, lines))
    return [f"{line:<{width}}  # {why}" for line, why in lines.items()]


def export_threshold(front: Sequence[Point]) -> float:
    """The accuracy ``export --smallest-above`` is shown with: 0.9 if the front reaches it,
    else the knee's (or, with no knee, the most accurate trial's) accuracy rounded down to a
    hundredth, so the command shown works."""
    if not front or front[-1].accuracy >= EXPORT_ACCURACY:
        return EXPORT_ACCURACY
    point = knee(front) or front[-1]
    return max(math.floor(point.accuracy * 100) / 100, 0.01)


class Progress:
    """The lines of one run: a tqdm bar on a terminal's stderr, else plain lines on ``out``.

    Args:
        total: trials this run will add, if known (the bar's length).
        verbosity: ``QUIET`` prints nothing here (the summary is printed by the caller),
            ``NORMAL`` the header and one line per trial, ``VERBOSE`` also epoch lines.
        bar: draw a bar; default: when stderr is a terminal and not ``QUIET``.
        worker: a supervised worker process, whose supervisor prints the header and the
            trials: it prints its epoch lines with ``VERBOSE``, and nothing else.
    """

    def __init__(
        self,
        total: int | None = None,
        verbosity: int = NORMAL,
        out: TextIO | None = None,
        bar: bool | None = None,
        worker: bool = False,
        sizes: bool = False,
    ) -> None:
        self.out = out or sys.stdout
        self.sizes = sizes  # each trial line names its model's parameters
        self.worker = worker
        self.verbosity = verbosity
        self.total = total
        self.best: float | None = None
        self._bar: Any = None
        if bar is None:
            bar = verbosity > QUIET and not worker and sys.stderr.isatty()
        self.show_bar = bar

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.out)
        else:
            print(line, file=self.out, flush=True)

    def header(self, line: str) -> None:
        if self.verbosity > QUIET and not self.worker:
            self._write(line)
        if self.show_bar and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, unit="trial", file=sys.stderr, dynamic_ncols=True)

    def note(self, line: str) -> None:
        """A line worth seeing unless -q (e.g. nothing left to run)."""
        if self.verbosity > QUIET and not self.worker:
            self._write(line)

    def epoch(self, line: str) -> None:
        if self.verbosity >= VERBOSE:
            self._write(line)

    def trial(self, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE and trial.values:
            value = trial.values[0]
            self.best = value if self.best is None else max(self.best, value)
        if self._bar is not None:
            if self.best is not None:
                self._bar.set_postfix_str(f"best val_accuracy {self.best:.4f}", refresh=False)
            self._bar.update(1)
            # A failed trial's line says why; the bar alone would hide it.
            if self.verbosity >= VERBOSE or trial.state == TrialState.FAIL:
                self._write(format_trial(trial, self.sizes))
        elif self.verbosity > QUIET and not self.worker:
            self._write(format_trial(trial, self.sizes))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _screen(settings: RunSettings) -> str:
    return screen_note(
        settings.pruner, settings.startup_epochs, settings.epochs, settings.startup_trials
    )
