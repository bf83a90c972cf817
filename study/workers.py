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
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from lenet import backends
from study.devices import worker_environment
from study.errors import UsageError
from study.options import options_argv
from study.progress import Progress, header
from study.relay import WorkerLines, killed_line
from study.settings import STORAGE_ENV, RunSettings
from study.storage import (
    MISSED_HEARTBEATS,
    check_objectives,
    manifest_of_existing,
    open_storage,
    stored_manifest,
    total_reached,
    trials_started,
)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# What reading the storage raises while another process holds it locked.
STORAGE_ERRORS = (StorageInternalError, sqlalchemy.exc.SQLAlchemyError)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# A worker process' memory at its peak: under 2 GiB in every measured study (performance.md).
WORKER_MIB = 2048


def workers_at_most(settings: RunSettings) -> int:
    """The worker processes a run of ``settings`` can start: no more than its trials."""
    count = settings.workers
    for limit in (settings.n_trials, settings.max_trials):
        if limit is not None:
            count = min(count, max(1, limit))
    return count


def available_mib() -> float | None:
    """The memory Linux says new processes can take (MemAvailable); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024  # the file says kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_worker_count(settings: RunSettings) -> None:
    """Refuses more worker processes than this machine's free memory holds.

    As with joblib's and Optuna's ``n_jobs``, a count above the CPU count is allowed (the
    processes then share the cores), and only as many start as there are trials. But each is
    a whole Python process with its backend, which peaks near ``WORKER_MIB``.

    Raises:
        UsageError: ``settings.workers`` would start more workers than the memory holds.
    """
    count, free = workers_at_most(settings), available_mib()
    if free is None or count == 1:
        return
    fits = max(1, int(free // WORKER_MIB))
    if count > fits:
        raise UsageError(
            f"--workers {settings.workers}: {count} worker processes need about "
            f"{count * WORKER_MIB / 1024:.0f} GiB of memory and {free / 1024:.1f} GiB is "
            f"available; give --workers {fits} or fewer"
        )


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


def to_argv(settings: RunSettings) -> list[str]:
    """The ``lenet-study run`` arguments that reproduce ``settings`` in a worker process.

    Every option but two: the storage URL, which may hold a password, goes in the worker's
    environment (``worker_env``), and the GPUs go as its ``CUDA_VISIBLE_DEVICES``.
    """
    # A worker process runs its trials itself: it never supervises in turn. It prints its
    # epoch lines with -v; its supervisor prints the rest, so it never needs -q.
    worker = replace(settings, workers=1, verbosity=max(settings.verbosity, 1))
    return ["run", "--supervised", *options_argv(worker, leave_out=("storage", "devices"))]


def worker_env(settings: RunSettings) -> dict[str, str]:
    """What a worker process of ``settings`` finds in its environment besides its GPU."""
    return {STORAGE_ENV: settings.storage_url}


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
    # One error, before any worker starts.
    check_objectives(
        manifest_of_existing(storage, settings.study_name),
        settings.objectives,
        settings.study_name,
    )
    started = trials_started(storage, settings.study_name)
    settings = settings.until_total(started)
    total = settings.max_trials
    if progress is None:
        progress = Progress(
            verbosity=settings.verbosity, bar=False, sizes=len(settings.objectives) > 1
        )
    if total is not None:
        progress.total = max(0, total - started)
    finished = FinishedTrials(storage, settings.study_name)
    if total is not None:
        # No idle process for a trial nobody runs; the header names those that run.
        settings = replace(settings, workers=max(1, min(settings.workers, total - started)))
    progress.header(header(settings, started, stored_manifest(storage, settings.study_name)))
    if total is not None and total <= started:
        progress.note(total_reached(started, total))
        return 0
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
    lines = WorkerLines()
    grace = MISSED_HEARTBEATS * settings.heartbeat_interval

    def have_total() -> bool | None:
        """Whether the study has its total; None while the storage cannot say (locked)."""
        if total is None:
            return False
        try:
            return trials_started(storage, settings.study_name) >= total
        except STORAGE_ERRORS:  # the workers meet the same fault and report it
            return None

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
                    lines.ended(process)
                    if process.returncode != 0:
                        pending[slot] = None  # a failed process: do not start its successors
                    if process.returncode < 0:  # killed outright: it could say nothing
                        others = any(p is not None for p in running) and not stopping
                        lines.say(killed_line(slot, process, grace, others))
                successors = pending[slot]
                if running[slot] is not None or successors is None or stopping:
                    continue
                reached = have_total()
                if reached is None:
                    continue  # ask again at the next poll
                chunk = next(successors, None)
                if reached:
                    chunk = None  # the study has its total
                if chunk is not None and deadline is not None:
                    left = deadline - time.monotonic()
                    chunk = replace(chunk, timeout=left) if left > 1 else None
                if chunk is None:
                    pending[slot] = None
                    continue
                env = worker_environment(backend, devices, len(running), slot)
                running[slot] = subprocess.Popen(
                    [sys.executable, "-m", "study.cli", *to_argv(chunk)],
                    env={**os.environ, **env, **worker_env(chunk)},
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                    stderr=subprocess.PIPE,
                )
                lines.watch(running[slot])
            try:
                fresh = finished.new()
            except STORAGE_ERRORS:  # a locked database: these trials show at the next poll
                fresh = []
            for trial in fresh:
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
