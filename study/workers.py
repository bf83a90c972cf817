"""Several worker processes on one study: split the budget and the cores, forward signals.

Each worker is an ordinary ``lenet-study run`` process joining the study through the shared
storage, exactly as a worker on another machine would; this module only starts them here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from study.settings import RunSettings
from study.storage import open_storage


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` trials over ``parts`` workers, the first ones taking the remainder."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def worker_settings(settings: RunSettings, workers: int) -> list[RunSettings]:
    """Each worker's settings: its share of trials and of the cores, its own sampler seed."""
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    threads = settings.threads or max(1, (os.cpu_count() or 1) // workers)
    shares: Sequence[int | None] = (
        split_evenly(settings.n_trials, workers) if settings.n_trials else [None] * workers
    )
    return [
        replace(settings, n_trials=share, threads=threads, worker_index=i)
        for i, share in enumerate(shares)
        if share != 0
    ]


def to_argv(settings: RunSettings) -> list[str]:
    """The ``lenet-study run`` arguments that reproduce ``settings`` in another process."""
    options: dict[str, Any] = {
        "--study-name": settings.study_name,
        "--storage": settings.storage_url,
        "--results-dir": settings.results_dir,
        "--n-trials": settings.n_trials,
        "--timeout": settings.timeout,
        "--epochs": settings.epochs,
        "--sampler": settings.sampler,
        "--pruner": settings.pruner,
        "--seed": settings.seed,
        "--train-limit": settings.train_limit,
        "--val-limit": settings.val_limit,
        "--data-dir": settings.data_dir,
        "--threads": settings.threads,
        "--worker-index": settings.worker_index,
        "--heartbeat": settings.heartbeat_interval,
        "--space": settings.space_file,
    }
    argv = ["run"]
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    return argv


def run_workers(settings: RunSettings, workers: int) -> int:
    """Runs ``workers`` processes on the study and waits for them.

    Ctrl-C and SIGTERM are forwarded once to every worker (which are in their own process
    groups, so a terminal's Ctrl-C does not reach them twice); each records its running trial
    as failed.

    Returns:
        0 if every worker succeeded, else the first failing worker's exit code.
    """
    # Create the tables here, once: workers starting together on a fresh database would race.
    open_storage(settings.storage_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "study.cli", *to_argv(worker)], start_new_session=True
        )
        for worker in worker_settings(settings, workers)
    ]

    def forward(signum: int, frame: Any) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [process.wait() for process in processes]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A worker killed by signal N has returncode -N; report it as a shell would, 128 + N.
    return next((code if code > 0 else 128 - code for code in codes if code != 0), 0)
