"""Running a study: load the data once, open the storage, optimize, report each trial."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from lenet import Splits, backends, load_fashion_mnist, train_val_split
from study.artifacts import artifact_store
from study.devices import check_devices, gpu_count, worker_environment
from study.provenance import versions
from study.results import summarize_best
from study.samplers import SEED_RULE, make_pruner, make_sampler
from study.settings import RunSettings
from study.storage import (
    STARTED,
    create_or_load_study,
    open_storage,
    total_reached,
    trials_started,
)
from study.trial_notes import record_trial


def load_splits(settings: RunSettings) -> tuple[Splits, dict[str, str]]:
    data = load_fashion_mnist(settings.data_dir)
    splits = train_val_split(
        data, settings.val_size, settings.seed, settings.train_limit, settings.val_limit
    )
    return splits, data.checksums


def format_trial(trial: FrozenTrial) -> str:
    """One progress line: number, state, value, epochs run, seconds."""
    seconds = trial.duration.total_seconds() if trial.duration else float("nan")
    value = f"{trial.value:.4f}" if trial.value is not None else "-"
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = f"({max(trial.intermediate_values.values()):.4f})"
    epochs = trial.user_attrs.get("epochs_run", len(trial.intermediate_values))
    line = (
        f"trial {trial.number:>3}  {trial.state.name:<8}  val_accuracy {value:>8}  "
        f"epochs {epochs:>2}  {seconds:6.1f} s"
    )
    end = trial.user_attrs.get("end", "")
    if end.startswith("failed"):
        line += f"  {end}"
    return line


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turns SIGTERM into KeyboardInterrupt, which Optuna records as a failed trial."""

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; the exit code is 143."""


def run_study(
    settings: RunSettings,
    out: TextIO | None = None,
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
) -> optuna.Study:
    """Creates or resumes the study and runs ``settings.n_trials`` more trials.

    With ``settings.max_trials``, it stops once the study has started that many trials,
    counting every worker's: each worker of one study can be given the same total. Two workers
    finishing a trial in the same few milliseconds may both start one more, as with Optuna's
    ``MaxTrialsCallback``, which this uses.

    Raises:
        lenet.DataError: the data files are missing or corrupt.
        study.storage.StudyError: the storage is unusable or holds an incompatible study.
        KeyboardInterrupt: Ctrl-C or SIGTERM; the running trial is recorded as failed.
    """
    # Imported here: a supervisor of worker processes never loads Keras or its backend.
    import keras

    from lenet import OutOfDeviceMemory, TrainConfig, TrainingDiverged, set_threads
    from study.objective import Objective

    out = out or sys.stdout
    if settings.threads is not None:
        set_threads(settings.threads)
    space = settings.search_space()  # first: a bad space file fails before anything starts
    sampler = make_sampler(settings.sampler, settings.seed)
    pruner = make_pruner(settings.pruner, settings.epochs)
    # Before the data: a bad URL fails fast.
    storage = open_storage(settings.storage_url, settings.heartbeat_interval)
    splits, checksums = load_splits(settings)
    manifest = {
        "search_space": space.to_json(),
        "protocol": settings.protocol(),
        "data": checksums,
        "sampler": settings.sampler,
        "pruner": settings.pruner,
        "seed": settings.seed,
        "sampler_seed": SEED_RULE,
        "backend": keras.backend.backend(),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    study = create_or_load_study(storage, settings.study_name, sampler, pruner, manifest)
    for point in space.enqueue:  # once per study: a point already tried or waiting is skipped
        study.enqueue_trial(dict(point), skip_if_exists=True)
    objective = Objective(
        splits=splits,
        base_train=TrainConfig(epochs=settings.epochs, seed=settings.seed),
        space=space,
        artifact_store=artifact_store(settings.results_dir, create=True),
    )
    print(
        f"study {settings.study_name!r} in {settings.storage_url}: "
        f"{len(study.trials)} earlier trials; {splits.describe()}; "
        f"{settings.epochs} epochs per trial, {settings.sampler} sampler, "
        f"{settings.pruner} pruner",
        file=out,
        flush=True,
    )

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        print(format_trial(trial), file=out, flush=True)

    n_trials = settings.n_trials
    until: list[Callable[[optuna.Study, FrozenTrial], None]] = []
    if settings.max_trials is not None:
        started = trials_started(storage, settings.study_name)
        left = max(0, settings.max_trials - started)
        if not left:
            print(total_reached(started, settings.max_trials), file=out, flush=True)
        n_trials = left if n_trials is None else min(n_trials, left)
        # Last, so that it counts the other workers' trials as late as possible.
        until = [MaxTrialsCallback(settings.max_trials, states=STARTED)]

    backends.current().quiet_logs()
    # Our progress line reports each trial, failures with their reason; Optuna's own warning
    # for a failed trial repeats it with a traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # The backend, Keras and the data are loaded and live as long as the process. Freezing them
    # takes their ~300,000 objects out of every later collection: each trial's gc passes
    # (clear_session, gc_after_trial) drop from ~0.2 s to ~0.01 s each (`lenet-study bench`).
    gc.freeze()
    with sigterm_as_interrupt():
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=settings.timeout,
            catch=(TrainingDiverged, OutOfDeviceMemory),
            callbacks=[record_trial, progress, *(callbacks or []), *until],
            gc_after_trial=True,
        )
    return study


def run(settings: RunSettings, supervised: bool = False, out: TextIO | None = None) -> int:
    """``lenet-study run``: trains here, or supervises worker processes, then sums up.

    The trials run in this process when there is one worker and at most
    ``trials_per_process`` of them, and in worker processes otherwise (see
    ``study.workers``). A ``supervised`` process is one of those workers: it runs its trials
    and leaves the summary to its supervisor.

    Returns:
        The exit code: 0, or the first failed worker's.
    """
    out = out or sys.stdout
    if supervised:
        run_study(settings, out)
        return 0
    backend = settings.backend or backends.configured()
    devices = check_devices(settings.devices, gpu_count(backend))
    settings.search_space()  # a bad space file: one error here, not one per worker
    if settings.workers > 1 or settings.recycles:
        from study.storage import load_study
        from study.workers import run_workers

        code = run_workers(settings, devices)
        print(summarize_best(load_study(settings.storage_url, settings.study_name)), file=out)
        return code
    # Before the backend starts here: this process then sees only its GPU.
    os.environ.update(worker_environment(backend, devices, 1, 0))
    print(summarize_best(run_study(settings, out)), file=out)
    return 0
