"""``lenet-study bench peers``: our search against the tuners Keras users know.

Three contenders, one after another, each with the same wall-clock budget, search space,
epochs per trial, training and validation split, training code and machine:

- ``ours``: ``lenet-study run`` as it is (TPE sampler, Hyperband pruner and its start-up
  screen, its worker processes);
- ``random``: the same ``run`` with Optuna's random sampler and no pruner;
- ``keras_tuner``: ``keras_tuner.Hyperband`` (``study.bench.keras_tuner_adapter``), in a
  fresh process of its own, as each of ours runs in fresh worker processes.

Each contender's clock starts when it is started, start-up included. Every finished trial is
kept with the seconds at which it finished and its best epoch's validation accuracy (a pruned
trial's best epoch before it was stopped, as KerasTuner counts its short Hyperband rounds);
only trials finished within the budget count towards the best-so-far figures.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from optuna.trial import FrozenTrial, TrialState

from study.bench.contest import (
    FRACTIONS,
    check_budget,
    check_contenders,
    check_inputs,
    describe_run,
    machine_line,
    timed_run,
)
from study.errors import StudyError, UsageError
from study.settings import PEERS_BUDGET, PEERS_QUICK_BUDGET, RunSettings, run_settings
from study.text import table
from study.trial_record import TrialRecord

CONTENDERS = {
    "ours": "TPE + Hyperband pruner (lenet-study run)",
    "random": "random search, no pruner (lenet-study run)",
    "keras_tuner": "KerasTuner Hyperband, factor 3",
}


@dataclass(frozen=True)
class FinishedTrial:
    """One trial of a contender, once finished."""

    seconds: float  # since the contender's start, when the trial finished
    val_accuracy: float | None  # its best epoch's; None: over the parameter budget, or failed
    epochs: int  # epochs its model had trained by then; 0 without a value


@dataclass(frozen=True)
class ContenderRun:
    name: str  # a key of CONTENDERS
    trials: list[FinishedTrial]  # in order of finishing, those after the budget too
    wall_seconds: float  # start to end; a trial running at the deadline ends after it


@dataclass(frozen=True)
class PeersSettings:
    """One comparison: the study's settings (space, epochs, data, seed, workers), the
    seconds each contender gets, and the contenders, run in this order (default: all)."""

    run: RunSettings
    budget_seconds: float = PEERS_BUDGET
    contenders: tuple[str, ...] = tuple(CONTENDERS)

    def __post_init__(self) -> None:
        check_budget(self.budget_seconds)
        check_contenders(self.contenders, CONTENDERS)

    def describe(self) -> dict[str, Any]:
        # workers: ours and random, KerasTuner runs one process; startup_trials: ours only.
        return describe_run(self.run, self.budget_seconds)


@dataclass(frozen=True)
class PeersReport:
    machine: dict[str, Any]
    settings: dict[str, Any]
    contenders: list[ContenderRun]

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["fractions"] = list(FRACTIONS)
        for contender, summary in zip(record["contenders"], summarize(self), strict=True):
            contender["description"] = CONTENDERS[contender["name"]]
            contender["best_at_fractions"] = summary.best_at
            contender["trials_in_budget"] = summary.trials
        return record


def peers_settings(
    preset: str = "default",
    budget_seconds: float | None = None,
    contenders: Sequence[str] | None = None,
    **given: Any,
) -> PeersSettings:
    """The comparison's settings: ``run``'s preset and options, the budget (default
    ``PEERS_BUDGET``; ``PEERS_QUICK_BUDGET`` with the quick preset) and the contenders
    (default: all three)."""
    if budget_seconds is None:
        budget_seconds = PEERS_QUICK_BUDGET if preset == "quick" else PEERS_BUDGET
    chosen = tuple(CONTENDERS) if contenders is None else tuple(contenders)
    return PeersSettings(run_settings(preset, **given), budget_seconds, chosen)


# -- computing ------------------------------------------------------------------------------


def best_so_far(
    trials: Sequence[FinishedTrial], budget_seconds: float, fractions: Sequence[float] = FRACTIONS
) -> list[float | None]:
    """The best validation accuracy among trials finished by each fraction of the budget;
    None where no trial with a value had finished by then."""
    best: list[float | None] = []
    for fraction in fractions:
        values = [
            t.val_accuracy
            for t in trials
            if t.val_accuracy is not None and t.seconds <= fraction * budget_seconds
        ]
        best.append(max(values) if values else None)
    return best


@dataclass(frozen=True)
class ContenderSummary:
    name: str
    trials: int  # finished within the budget
    without_value: int  # of those: over the parameter budget or failed
    best_at: list[float | None]  # at each of FRACTIONS of the budget


def summarize(report: PeersReport) -> list[ContenderSummary]:
    budget = report.settings["budget_seconds"]
    summaries = []
    for run in report.contenders:
        counted = [t for t in run.trials if t.seconds <= budget]
        summaries.append(
            ContenderSummary(
                name=run.name,
                trials=len(counted),
                without_value=sum(t.val_accuracy is None for t in counted),
                best_at=best_so_far(counted, budget),
            )
        )
    return summaries


# -- running --------------------------------------------------------------------------------


def run_peers(settings: PeersSettings, log: TextIO | None = None) -> PeersReport:
    """Runs the contenders one after another, each for ``settings.budget_seconds``.

    Args:
        settings: the study's settings, the budget and the contenders.
        log: where a line is printed as each contender starts and ends (default: stderr).

    Raises:
        UsageError: KerasTuner is a contender but not installed, or the search space file is
            invalid.
        lenet.DataError: the data files are missing.
        StudyError: a contender's processes failed.
    """
    from importlib.metadata import PackageNotFoundError, version

    from study.provenance import machine

    try:
        tuner_version = version("keras-tuner")
    except PackageNotFoundError:
        if "keras_tuner" in settings.contenders:
            raise UsageError(
                "the peers comparison needs KerasTuner: pip install 'lenet-study[bench]'"
            ) from None
        tuner_version = "-"
    check_inputs(settings.run)  # a bad space file fails before an hour of measuring
    out = log or sys.stderr
    budget = settings.budget_seconds
    info = {**machine(), "keras_tuner": tuner_version}
    runs = []
    with tempfile.TemporaryDirectory(prefix="lenet-peers-") as tmp:
        folder = Path(tmp)
        contenders: dict[str, Callable[[], ContenderRun]] = {
            "ours": lambda: _optuna_contender("ours", settings, folder, "tpe", "hyperband"),
            "random": lambda: _optuna_contender("random", settings, folder, "random", "none"),
            "keras_tuner": lambda: _keras_tuner_contender(settings, folder),
        }
        for name in settings.contenders:
            print(f"peers: {name}: {CONTENDERS[name]}, {budget:.0f} s", file=out, flush=True)
            run = contenders[name]()
            counted = sum(t.seconds <= budget for t in run.trials)
            print(
                f"peers: {name}: {counted} trials within the budget, "
                f"{run.wall_seconds:.0f} s in all",
                file=out,
                flush=True,
            )
            runs.append(run)
    return PeersReport(info, settings.describe(), runs)


def _optuna_contender(
    name: str, settings: PeersSettings, folder: Path, sampler: str, pruner: str
) -> ContenderRun:
    """``lenet-study run`` with this sampler and pruner, its timeout the budget."""
    timed = timed_run(settings.run, name, folder, settings.budget_seconds, sampler, pruner)
    trials = [_finished(t, timed.seconds(t)) for t in timed.trials]
    finished = sorted((t for t in trials if t is not None), key=lambda t: t.seconds)
    return ContenderRun(name, finished, timed.wall_seconds)


def _finished(trial: FrozenTrial, seconds: float | None) -> FinishedTrial | None:
    """The trial as finished ``seconds`` after the start; None while it has not finished."""
    if seconds is None:
        return None
    value = trial.value if trial.state == TrialState.COMPLETE else None
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = max(trial.intermediate_values.values())
    epochs = TrialRecord.of(trial).epochs_run
    if epochs is None:
        epochs = len(trial.intermediate_values)
    return FinishedTrial(seconds, value, int(epochs) if value is not None else 0)


def _keras_tuner_contender(settings: PeersSettings, folder: Path) -> ContenderRun:
    """KerasTuner's Hyperband in a fresh process, which loads the data and TensorFlow on
    the contender's clock as each of our worker processes does."""
    results = folder / "keras_tuner.json"
    start = time.time()
    process = multiprocessing.get_context("spawn").Process(
        target=_keras_tuner_process,
        args=(settings, start, str(folder), str(results)),
        daemon=True,
    )
    process.start()
    process.join()
    wall = time.time() - start
    if process.exitcode != 0:
        raise StudyError(
            f"the KerasTuner contender failed (exit code {process.exitcode}); see its output"
        )
    trials = [FinishedTrial(**t) for t in json.loads(results.read_text())]
    return ContenderRun("keras_tuner", trials, wall)


def _keras_tuner_process(settings: PeersSettings, start: float, folder: str, results: str) -> None:
    from study.quiet import quiet_tensorflow

    quiet_tensorflow()
    import gc

    from lenet import TrainConfig, backends
    from study.bench.keras_tuner_adapter import search
    from study.runner import load_splits

    splits, _ = load_splits(settings.run)
    backends.current().quiet_logs()
    # As in a study's worker: the libraries and data live as long as the process, and
    # freezing them keeps them out of every later garbage collection (study.runner).
    gc.freeze()
    trials = search(
        settings.run.search_space(),
        splits,
        TrainConfig(epochs=settings.run.epochs, seed=settings.run.seed),
        start=start,
        deadline=start + settings.budget_seconds,
        directory=Path(folder),
    )
    Path(results).write_text(json.dumps([asdict(t) for t in trials]))


# -- drawing --------------------------------------------------------------------------------


def render(report: PeersReport) -> str:
    """The comparison as a plain-text table: best validation accuracy so far per contender."""
    s, m = report.settings, report.machine
    budget = s["budget_seconds"]
    columns = [f"{100 * f:.0f} % ({f * budget:.0f} s)" for f in FRACTIONS]
    rows = [
        (
            CONTENDERS[summary.name],
            f"{summary.trials} ({summary.without_value})",
            *(f"{value:.4f}" if value is not None else "-" for value in summary.best_at),
        )
        for summary in summarize(report)
    ]
    header = ("contender", "trials (no value)", *columns)
    lines = [
        machine_line(m, f"KerasTuner {m.get('keras_tuner', '-')}"),
        f"{s['space']}, {s['epochs_per_trial']} epochs per trial, {s['train_images']:,} "
        f"training and {s['val_images']:,} validation images, seed {s['seed']}; "
        f"{budget:.0f} s per contender",
        "best val_accuracy so far, among the trials finished by then:",
        "",
    ]
    lines.append(table([header, *rows], align="l" + "r" * (len(header) - 1)))
    return "\n".join(lines)
