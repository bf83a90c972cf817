"""``lenet-study bench front``: what the front pruner buys a multi-objective study.

Three contenders on the study of accuracy against parameters (``--objectives
accuracy,params``), each a ``lenet-study run`` for the same wall-clock budget, space, epochs,
data, workers and seed:

- ``front``: TPE with the front pruner (``--pruner front``, ``study.samplers.FrontReach``);
- ``tpe``: TPE without a pruner, every trial trained in full;
- ``random``: Optuna's random sampler without a pruner.

The seeds run in turn, each seed's contenders back to back, so that a slow spell of the
machine falls on the contenders alike. Per run: trials completed and pruned, epochs trained,
the epochs the pruned trials did not train, and the hypervolume of the front of the trials
completed within 25 %, 50 % and 100 % of the budget, in one fixed box (``HV_MIN_ACCURACY``,
``HV_MAX_SIZE``) so that every run's number is on one scale; then each figure's mean and
standard deviation over the seeds.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
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
from study.bench.front_summary import (
    HV_MAX_SIZE,
    HV_MIN_ACCURACY,
    BenchTrial,
    ContenderSummary,
    SeedRun,
    Spread,
    summarize,
    summarize_run,
)
from study.errors import UsageError
from study.settings import RunSettings
from study.text import plural, table
from study.trial_record import OverBudget, TrialRecord

CONTENDERS = {  # name: (sampler, pruner, what it is)
    "front": ("tpe", "front", "TPE + front pruner"),
    "tpe": ("tpe", "none", "TPE, no pruner"),
    "random": ("random", "none", "random search, no pruner"),
}
FRONT_SEEDS = (0, 1, 2)
FRONT_BUDGET = 150.0  # seconds per contender and seed
# Sized for the 3 x 3 runs to take about half an hour on 2 cores, with room in each run for
# more trials than TPE's 10 random start-up draws and the 5 the front pruner waits for.
FRONT_RUN = {"train_limit": 10_000, "val_limit": 2_000, "epochs": 6}
FRONT_QUICK_BUDGET = 30.0  # --quick: a smoke test, not evidence
FRONT_QUICK_RUN = {"train_limit": 1_000, "val_limit": 500, "epochs": 2}
FRONT_QUICK_SEEDS = (0,)


@dataclass(frozen=True)
class FrontSettings:
    """The study's settings (space, epochs, data, workers; its seed is replaced by each of
    ``seeds``), the seconds each run gets, the seeds and the contenders, in this order."""

    run: RunSettings
    budget_seconds: float = FRONT_BUDGET
    seeds: tuple[int, ...] = FRONT_SEEDS
    contenders: tuple[str, ...] = tuple(CONTENDERS)

    def __post_init__(self) -> None:
        check_budget(self.budget_seconds)
        check_contenders(self.contenders, CONTENDERS)
        if not self.seeds or len(set(self.seeds)) < len(self.seeds):
            raise UsageError(
                "seeds must be distinct, at least one, got "
                f"{','.join(map(str, self.seeds)) or 'none'}"
            )
        if len(self.run.objectives) != 2:
            raise UsageError("bench front compares multi-objective studies: accuracy and size")

    def describe(self) -> dict[str, Any]:
        described = describe_run(self.run, self.budget_seconds)
        del described["seed"]
        return {
            **described,
            "objectives": list(self.run.objectives),
            "seeds": list(self.seeds),
            "contenders": list(self.contenders),
            "hypervolume_box": {
                "min_accuracy": HV_MIN_ACCURACY,
                "max_size": HV_MAX_SIZE,
                "size": "parameters, log10",
            },
        }


def front_settings(
    quick: bool = False,
    budget_seconds: float | None = None,
    seeds: Sequence[int] | None = None,
    contenders: Sequence[str] | None = None,
    **given: Any,
) -> FrontSettings:
    """The comparison's settings: the pareto preset with ``FRONT_RUN``'s data and epochs
    (``FRONT_QUICK_RUN``'s with ``quick``) and ``given`` run options on top, the budget,
    the seeds and the contenders (default: all three)."""
    run = RunSettings.pareto(**{**(FRONT_QUICK_RUN if quick else FRONT_RUN), **given})
    return FrontSettings(
        run,
        (FRONT_QUICK_BUDGET if quick else FRONT_BUDGET)
        if budget_seconds is None
        else budget_seconds,
        (FRONT_QUICK_SEEDS if quick else FRONT_SEEDS) if seeds is None else tuple(seeds),
        tuple(CONTENDERS) if contenders is None else tuple(contenders),
    )


@dataclass(frozen=True)
class FrontReport:
    machine: dict[str, Any]
    settings: dict[str, Any]
    runs: list[SeedRun]

    def summaries(self) -> list[ContenderSummary]:
        s = self.settings
        return summarize(self.runs, s["budget_seconds"], s["epochs_per_trial"])

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["fractions"] = list(FRACTIONS)
        s = self.settings
        for run, stored in zip(self.runs, record["runs"], strict=True):
            summary = summarize_run(run.trials, s["budget_seconds"], s["epochs_per_trial"])
            stored["summary"] = asdict(summary)
        record["contenders"] = [
            {**asdict(summary), "description": CONTENDERS[summary.name][2]}
            for summary in self.summaries()
        ]
        return record


# -- running --------------------------------------------------------------------------------


def run_front(settings: FrontSettings, log: TextIO | None = None) -> FrontReport:
    """Runs every contender at every seed, each for ``settings.budget_seconds``.

    Args:
        settings: the study's settings, the budget, the seeds and the contenders.
        log: where a line is printed as each run starts and ends (default: stderr).

    Raises:
        UsageError: the search space file is invalid.
        lenet.DataError: the data files are missing.
        StudyError: a run's worker processes failed.
    """
    from study.provenance import machine

    check_inputs(settings.run)  # a bad space file fails before half an hour of measuring
    out = log or sys.stderr
    budget = settings.budget_seconds
    info = machine()
    runs = []
    with tempfile.TemporaryDirectory(prefix="lenet-front-") as tmp:
        for seed in settings.seeds:
            for name in settings.contenders:
                where = f"front: seed {seed}: {name}"
                print(f"{where}: {CONTENDERS[name][2]}, {budget:.0f} s", file=out, flush=True)
                run = _run_contender(name, replace(settings.run, seed=seed), Path(tmp), budget)
                summary = summarize_run(run.trials, budget, settings.run.epochs)
                print(
                    f"{where}: {summary.completed} completed, {summary.pruned} pruned within "
                    f"the budget, {run.wall_seconds:.0f} s in all",
                    file=out,
                    flush=True,
                )
                runs.append(run)
    return FrontReport(info, settings.describe(), runs)


def _run_contender(name: str, run: RunSettings, folder: Path, budget: float) -> SeedRun:
    sampler, pruner, _ = CONTENDERS[name]
    timed = timed_run(run, f"{name}-seed{run.seed}", folder, budget, sampler, pruner)
    finished = []
    for trial in timed.trials:
        seconds = timed.seconds(trial)
        if seconds is not None:
            finished.append(bench_trial(trial, seconds))
    finished.sort(key=lambda t: t.seconds)
    return SeedRun(name, run.seed, finished, timed.wall_seconds)


def bench_trial(trial: FrozenTrial, seconds: float) -> BenchTrial:
    """A finished trial of a multi-objective study, as the comparison counts it."""
    record = TrialRecord.of(trial)
    epochs = int(record.epochs_run or 0)
    if trial.state == TrialState.COMPLETE and trial.values:
        accuracy, size = trial.values
        return BenchTrial(seconds, "complete", epochs, float(accuracy), float(size))
    if isinstance(record.end, OverBudget):
        return BenchTrial(seconds, "over_budget", 0)
    state = "pruned" if trial.state == TrialState.PRUNED else "failed"
    return BenchTrial(seconds, state, epochs)


# -- drawing --------------------------------------------------------------------------------


def _cell(spread: Spread, digits: int) -> str:
    mean = f"{spread.mean:.{digits}f}"
    return mean if spread.std is None else f"{mean} ± {spread.std:.{digits}f}"


def render(report: FrontReport) -> str:
    """The comparison as a plain-text table: each contender's figures, mean ± std over seeds."""
    s, m = report.settings, report.machine
    budget, box = s["budget_seconds"], s["hypervolume_box"]
    columns = [f"HV {100 * f:.0f} % ({f * budget:.0f} s)" for f in FRACTIONS]
    header = ("contender", "completed", "pruned", "epochs trained", "epochs saved", *columns)
    rows = [
        (
            CONTENDERS[c.name][2],
            _cell(c.completed, 1),
            _cell(c.pruned, 1),
            _cell(c.epochs_trained, 1),
            _cell(c.epochs_saved, 1),
            *(_cell(hv, 4) for hv in c.hypervolume_at),
        )
        for c in report.summaries()
    ]
    seeds = ",".join(map(str, s["seeds"]))
    over = f"mean ± std over seeds {seeds}" if len(s["seeds"]) > 1 else f"seed {seeds}"
    lines = [
        machine_line(m),
        f"{s['space']}, objectives {','.join(s['objectives'])}, {s['epochs_per_trial']} epochs "
        f"per trial, {s['train_images']:,} training and {s['val_images']:,} validation images, "
        f"{plural(s['workers'], 'worker')}; {budget:.0f} s per contender and seed",
        f"HV: the hypervolume of the completed trials' front in (val_accuracy, log10 "
        f"parameters) above val_accuracy {box['min_accuracy']:.2f} and below "
        f"{box['max_size']:,} parameters",
        f"{over}, counting the trials finished within the budget:",
        "",
        table([header, *rows], align="l" + "r" * (len(header) - 1)),
    ]
    return "\n".join(lines)
