"""What ``bench peers`` and ``bench front`` share: contenders run one after another, each a
``lenet-study run`` for the same wall-clock budget, judged at fractions of that budget.

Each run's clock starts when it is started, start-up included; a trial counts from the second
its ``datetime_complete`` says it finished. Light to import: no Keras until a run starts.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial

from study.errors import StudyError, UsageError
from study.settings import RunSettings
from study.space import SPACES_DIR

FRACTIONS = (0.25, 0.5, 1.0)  # of the budget, at which the contenders are compared


def check_budget(seconds: float) -> None:
    """Raises UsageError unless ``seconds`` is a positive number of seconds."""
    if not seconds > 0:
        raise UsageError(f"the budget must be positive seconds, got {seconds}")


def check_contenders(chosen: tuple[str, ...], known: Iterable[str]) -> None:
    """Raises UsageError unless ``chosen`` are distinct names among ``known``, at least one."""
    known = tuple(known)
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen or len(set(chosen)) < len(chosen):
        raise UsageError(
            f"contenders must be distinct names among {', '.join(known)}, got "
            f"{','.join(chosen) or 'none'}"
        )


def describe_run(run: RunSettings, budget_seconds: float) -> dict[str, Any]:
    """The settings every contender shares, as the JSON and the table name them."""
    from study.progress import data_sizes

    train_images, val_images = data_sizes(run)
    space = run.space_file or SPACES_DIR / "default.toml"
    shipped = space.parent.resolve() == SPACES_DIR.resolve()
    return {
        "budget_seconds": budget_seconds,
        "space": f"study/spaces/{space.name}" if shipped else str(space),
        "epochs_per_trial": run.epochs,
        "train_images": train_images,
        "val_images": val_images,
        "seed": run.seed,
        "workers": run.workers,
        "startup_trials": run.startup_trials,  # TPE's random draws
    }


def check_inputs(run: RunSettings) -> None:
    """Fails on a bad space file or missing data before any contender has run.

    Raises:
        UsageError: the search space file is invalid.
        lenet.DataError: the data files are missing.
    """
    from lenet.data import find_data_dir

    run.search_space()
    find_data_dir(run.data_dir)


@dataclass(frozen=True)
class TimedRun:
    """One contender's ``lenet-study run``, once it has ended."""

    trials: list[FrozenTrial]  # every trial of its study, finished or not
    start: float  # time.time() when it was started
    wall_seconds: float  # start to end; a trial running at the deadline ends after it

    def seconds(self, trial: FrozenTrial) -> float | None:
        """When ``trial`` finished, in seconds since the start; None while it has not."""
        if trial.datetime_complete is None:
            return None
        return trial.datetime_complete.timestamp() - self.start


def timed_run(
    run: RunSettings,
    name: str,
    folder: Path,
    budget_seconds: float,
    sampler: str,
    pruner: str,
) -> TimedRun:
    """``lenet-study run`` with this sampler and pruner as study ``name`` in ``folder``'s
    SQLite file, its timeout the budget: no trial starts after it, a running one finishes."""
    from study.progress import QUIET
    from study.runner import run as run_study
    from study.storage import load_study

    storage = f"sqlite:///{folder / 'contenders.db'}"
    settings = replace(
        run,
        study_name=name,
        storage=storage,
        results_dir=folder / name,
        sampler=sampler,
        pruner=pruner,
        n_trials=None,
        max_trials=None,
        timeout=budget_seconds,
        verbosity=QUIET,
    )
    start, clock = time.time(), time.monotonic()
    code = run_study(settings, out=io.StringIO(), started=clock)
    wall = time.time() - start
    if code != 0:
        raise StudyError(f"the {name!r} contender's workers failed (exit code {code})")
    return TimedRun(load_study(storage, name).trials, start, wall)


def machine_line(machine: Mapping[str, Any], *extra: str) -> str:
    """``CPU, N cores; TensorFlow x, Keras y, ..., Optuna z``: what the numbers are valid for."""
    libraries = [
        f"TensorFlow {machine.get('tensorflow', '-')}",
        f"Keras {machine['keras']}",
        *extra,
        f"Optuna {machine['optuna']}",
    ]
    return f"{machine['cpu_model']}, {machine['cores']} cores; {', '.join(libraries)}"
