"""Parallel workers for ``lenet-study bench``: one process with two threads, or two with one.

The workers are real ``lenet-study run`` processes on one SQLite study, so the figure includes
what they share: the storage's lock and the two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from lenet import ModelConfig, TrainConfig
from study.settings import RunSettings
from study.space import searchable_fields
from study.storage import open_storage
from study.workers import to_argv, worker_env, worker_settings


@dataclass(frozen=True)
class Parallel:
    """The same fixed trials, run by one two-thread worker or two one-thread workers."""

    trials: int
    one_worker_trials_per_hour: float  # one process, --threads 2
    two_workers_trials_per_hour: float  # two processes, --threads 1 each, one study
    faster: str  # "one" or "two"


def _fixed_params(batch_size: int) -> dict[str, Any]:
    """The classic LeNet-5, every config field fixed: each parallel trial costs the same."""
    return {**ModelConfig.classic().to_dict(), **TrainConfig(batch_size=batch_size).to_dict()}


def _trials_per_hour(storage: str, study_name: str) -> float:
    study = optuna.load_study(study_name=study_name, storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RuntimeError(f"no trial of {study_name!r} completed; see the workers' output")
    # From the first trial's start to the last one's end: process start-up (importing
    # TensorFlow, loading the data) is paid once per worker, not per trial.
    start = min(t.datetime_start for t in done if t.datetime_start)
    end = max(t.datetime_complete for t in done if t.datetime_complete)
    return 3600 * len(done) / (end - start).total_seconds()


def _classic_space(folder: Path, batch_size: int) -> Path:
    """A space file whose every trial is the classic LeNet-5: each parallel trial costs the same.

    The workers create the study themselves, with its manifest, as `run` does; a single-choice
    parameter stands in for the search, since a space must search something.
    """
    fixed = {
        name: value
        for name, value in _fixed_params(batch_size).items()
        if name in searchable_fields() and name != "activation" and value is not None
    }
    lines = [
        "[params]",
        f"activation = {{ choices = [{json.dumps(ModelConfig.classic().activation)}] }}",
    ]
    lines += ["[fixed]", *(f"{name} = {json.dumps(value)}" for name, value in fixed.items())]
    path = folder / "classic.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_workers(
    folder: Path, name: str, workers: int, threads: int, trials: int, batch_size: int
) -> float:
    storage = f"sqlite:///{folder / 'parallel.db'}"
    open_storage(storage)  # the tables, once: workers starting together would race on them
    settings = RunSettings.quick(
        storage=storage,
        study_name=name,
        results_dir=folder / name,
        space_file=_classic_space(folder, batch_size),
        pruner="none",
        epochs=1,
        threads=threads,
        workers=workers,
        n_trials=None,
        max_trials=trials,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "study.cli", *to_argv(worker)],
            env={**env, **worker_env(worker)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for worker in worker_settings(settings)
    ]
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a bench worker failed: {err.decode().strip()[-500:]}")
    return _trials_per_hour(storage, name)


def measure_parallel(trials: int, batch_size: int = 128) -> Parallel:
    """Trials per hour: one worker with two threads against two workers with one each.

    Args:
        trials: how many trials each configuration runs; even, so two workers can finish together.
        batch_size: of the classic LeNet-5 trials.
    """
    if trials < 2 or trials % 2:
        raise ValueError(f"trials must be even and >= 2, got {trials}")
    with tempfile.TemporaryDirectory() as tmp:
        one = _run_workers(Path(tmp), "bench-one-worker", 1, 2, trials, batch_size)
        two = _run_workers(Path(tmp), "bench-two-workers", 2, 1, trials, batch_size)
    return Parallel(
        trials=trials,
        one_worker_trials_per_hour=one,
        two_workers_trials_per_hour=two,
        faster="two" if two > one else "one",
    )
