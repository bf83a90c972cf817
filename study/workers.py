"""Several worker processes on one study: split the budget and the cores, forward signals.

Each worker is an ordinary ``lenet-study run`` process joining the study through the shared
storage, exactly as a worker on another machine would; this module only starts them here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from lenet import backends
from study.devices import worker_environment
from study.progress import VERBOSE, Progress, header
from study.settings import RunSettings
from study.storage import (
    manifest_of_existing,
    open_storage,
    stored_manifest,
    total_reached,
    trials_started,
)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def worker_settings(settings: RunSettings) -> list[RunSettings]:
    """Each worker's settings: its share of the cores.

    Every worker runs until the study reaches ``settings.max_trials`` (see
    ``RunSettings.until_total``), so a worker whose trials were pruned early takes on more,
    and none sits idle while another still has a fixed share to run.
    """
    if settings.workers < 1:
        raise ValueError(f"workers must be a positive integer, got {settings.workers}")
    threads = settings.threads or max(1, (os.cpu_count() or 1) // settings.workers)
    return [replace(settings, threads=threads, workers=1) for _ in range(settings.workers)]


def to_argv(settings: RunSettings, worker_index: int = 0) -> list[str]:
    """The ``lenet-study run`` arguments that reproduce ``settings`` in worker process
    ``worker_index`` (its slot among this supervisor's workers)."""
    options: dict[str, Any] = {
        "--study-name": settings.study_name,
        "--storage": settings.storage_url,
        "--results-dir": settings.results_dir,
        "--n-trials": settings.n_trials,
        "--timeout": settings.timeout,
        "--epochs": settings.epochs,
        "--sampler": settings.sampler,
        "--pruner": settings.pruner,
        "--startup-trials": settings.startup_trials,
        "--startup-epochs": settings.startup_epochs,
        "--seed": settings.seed,
        "--train-limit": settings.train_limit,
        "--val-limit": settings.val_limit,
        "--data-dir": settings.data_dir,
        "--threads": settings.threads,
        "--heartbeat": settings.heartbeat_interval,
        "--space": settings.space_file,
        "--max-trials": settings.max_trials,
        # Not --devices: the supervisor gives each worker its GPU as CUDA_VISIBLE_DEVICES.
        "--backend": settings.backend,
    }
    # A worker process runs its trials itself: it never supervises in turn.
    argv = ["run", "--supervised", "--workers", "1", "--worker-index", str(worker_index)]
    if settings.verbosity >= VERBOSE:
        argv.append("--verbose")  # its epoch lines; its supervisor prints the rest
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    return argv


def chunks(settings: RunSettings) -> Iterator[RunSettings]:
    """One worker's successive processes: runs of ``trials_per_process`` trials, endlessly.

    ``run_workers`` stops starting them once the study has its total, or at the deadline.
    """
    size = settings.trials_per_process
    if size is None:
        yield settings
        return
    while True:
        yield replace(settings, n_trials=size)


def _die_with_parent() -> None:
    """In a worker, before it runs: ask Linux for SIGTERM when the supervisor dies.

    The workers sit in their own sessions, so a supervisor killed outright (SIGKILL, out of
    memory) would otherwise leave them running unwatched. SIGTERM makes a worker record its
    trial as failed and exit 143, as if the supervisor had forwarded it. Elsewhere: no-op.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class FinishedTrials:
    """The study's trials that finished since this was made, read from the storage, which
    every worker process writes to."""

    def __init__(self, storage: BaseStorage, study_name: str) -> None:
        self.storage = storage
        self.study_name = study_name
        self.seen = {t.number for t in self._read()}

    def _study_id(self) -> int | None:
        try:
            return self.storage.get_study_id_from_name(self.study_name)
        except KeyError:  # not created yet: the workers create it
            return None

    def _read(self) -> list[FrozenTrial]:
        study_id = self._study_id()
        if study_id is None:
            return []
        return self.storage.get_all_trials(study_id, deepcopy=False, states=FINISHED)

    def new(self) -> list[FrozenTrial]:
        """The trials finished since the last call, by number."""
        study_id = self._study_id()
        # Counting is one cheap query; the trials are read only when there are new ones.
        if study_id is None or self.storage.get_n_trials(study_id, FINISHED) <= len(self.seen):
            return []
        fresh = sorted((t for t in self._read() if t.number not in self.seen), key=_number)
        self.seen.update(t.number for t in fresh)
        return fresh


def _number(trial: FrozenTrial) -> int:
    return trial.number


def run_workers(
    settings: RunSettings,
    progress: Progress | None = None,
    devices: tuple[int, ...] = (),
    since: float | None = None,
) -> int:
    """Runs ``settings.workers`` worker slots on the study and waits for them.

    Each slot runs trials until the study has started ``settings.n_trials`` more than it
    had (at most ``settings.max_trials``), in one process, or, with
    ``settings.trials_per_process``, in successive fresh processes, which give back whatever
    a library keeps from trial to trial (``lenet.clear_session`` frees the ~10 MiB per model
    that TensorFlow kept; a fresh process also bounds anything not yet found). Ctrl-C and
    SIGTERM are forwarded once to every running worker (which are in their own process
    groups, so a terminal's Ctrl-C does not reach them twice); each records its running
    trial as failed, and no further process starts. With ``devices`` (GPU indexes), the
    slots take them in turn (see ``study.devices.worker_environment``). ``settings.timeout``
    counts from ``since`` (``time.monotonic()``; default: now).

    The workers print nothing (but their epoch lines with -v): this process prints the
    header and, from the storage, each trial as it finishes, to ``progress``.

    Returns:
        0 if every process succeeded, else the first failing one's exit code.
    """
    # Create the tables here, once: workers starting together on a fresh database would race.
    storage = open_storage(settings.storage_url)
    manifest_of_existing(storage, settings.study_name)  # one error, before any worker starts
    started = trials_started(storage, settings.study_name)
    settings = settings.until_total(started)
    total = settings.max_trials
    if progress is None:
        progress = Progress(verbosity=settings.verbosity, bar=False)
    if total is not None:
        progress.total = max(0, total - started)
    finished = FinishedTrials(storage, settings.study_name)
    progress.header(header(settings, started, stored_manifest(storage, settings.study_name)))
    if total is not None:
        if total <= started:
            progress.note(total_reached(started, total))
            return 0
        # No idle process for a trial nobody runs.
        settings = replace(settings, workers=min(settings.workers, total - started))
    # Each slot's processes still to start; None once there are no more.
    pending: list[Iterator[RunSettings] | None] = [
        chunks(worker) for worker in worker_settings(settings)
    ]
    running: list[subprocess.Popen[bytes] | None] = [None] * len(pending)
    codes: list[int] = []
    stopping = False
    # Each worker is given what is left at its start and subtracts its own start-up.
    clock = time.monotonic() if since is None else since
    deadline = clock + settings.timeout if settings.timeout else None
    backend = settings.backend or backends.configured()

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in running:
            if process is not None and process.poll() is None:
                process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            for slot, process in enumerate(running):
                if process is not None and process.poll() is not None:
                    codes.append(process.returncode)
                    running[slot] = None
                    if process.returncode != 0:
                        pending[slot] = None  # a failed process: do not start its successors
                successors = pending[slot]
                if running[slot] is not None or successors is None or stopping:
                    continue
                chunk = next(successors, None)
                if total is not None and trials_started(storage, settings.study_name) >= total:
                    chunk = None  # the study has its total
                if chunk is not None and deadline is not None:
                    left = deadline - time.monotonic()
                    chunk = replace(chunk, timeout=left) if left > 1 else None
                if chunk is None:
                    pending[slot] = None
                    continue
                env = worker_environment(backend, devices, len(running), slot)
                running[slot] = subprocess.Popen(
                    [sys.executable, "-m", "study.cli", *to_argv(chunk, slot)],
                    env={**os.environ, **env},
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            for trial in finished.new():
                progress.trial(trial)
            if all(process is None for process in running) and (
                stopping or all(successors is None for successors in pending)
            ):
                break
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        progress.close()
    # A worker killed by signal N has returncode -N; report it as a shell would, 128 + N.
    return next((code if code > 0 else 128 - code for code in codes if code != 0), 0)
