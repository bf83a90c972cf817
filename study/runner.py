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
from optuna.trial import FrozenTrial

from lenet import Splits, backends, load_fashion_mnist, train_val_split
from study.artifacts import artifact_store
from study.devices import check_devices, gpu_count, worker_environment
from study.errors import StudyError
from study.faults import RunGuard, tolerate_missed_heartbeats
from study.masking import mask_url
from study.objectives import pareto_front, trial_points
from study.paths import check_writable_folder
from study.progress import QUIET, VERBOSE, Progress, header, next_commands
from study.provenance import versions
from study.results import best_trial_or_none, summarize_best
from study.samplers import SEED_RULE, FrontReach, make_pruner, make_sampler
from study.settings import RunSettings
from study.storage import (
    STARTED,
    check_storage,
    create_or_load_study,
    open_storage,
    stored_manifest,
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


# Exit codes of a worker that refused to run (study.errors): its line says why, nothing ran.
REFUSED = (1, 2)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; the exit code is 143."""


def run_study(
    settings: RunSettings,
    out: TextIO | None = None,
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
    progress: Progress | None = None,
    started: float | None = None,
) -> optuna.Study:
    """Creates or resumes the study and runs ``settings.n_trials`` more trials.

    ``settings.timeout`` counts from ``started`` (``time.monotonic()``; default: when the
    trials start), so that loading the backend and the data uses up part of it.

    Its header and trial lines go to ``progress`` (default: plain lines on ``out``).

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

    several = len(settings.objectives) > 1
    if progress is None:
        progress = Progress(
            settings.n_trials, settings.verbosity, out or sys.stdout, bar=False, sizes=several
        )
    if settings.threads is not None:
        set_threads(settings.threads)
    space = settings.search_space()  # first: a bad space file fails before anything starts
    sampler = make_sampler(settings.sampler, settings.seed, settings.startup_trials)
    pruner = make_pruner(
        settings.pruner, settings.epochs, settings.startup_epochs, settings.startup_trials
    )
    # Before the data, so that a bad URL fails fast; and nothing is written until the data
    # have loaded, so that a refused run leaves no new database or folder behind.
    check_storage(settings.storage_url)
    check_writable_folder(settings.results_dir, "results folder")
    splits, checksums = load_splits(settings)
    storage = open_storage(settings.storage_url, settings.heartbeat_interval)
    tolerate_missed_heartbeats(storage)
    # From here, a full disk or a read-only or locked database ends the run with one line and
    # the interrupted trial failed (study.faults).
    guard = RunGuard(storage, mask_url(settings.storage_url))
    manifest = {
        "objectives": list(settings.objectives),
        "search_space": space.to_json(),
        "protocol": settings.protocol(),
        "data": checksums,
        "sampler": settings.sampler,
        "pruner": settings.pruner,
        "startup_trials": settings.startup_trials,
        "startup_epochs": settings.startup_epochs,
        "seed": settings.seed,
        "sampler_seed": SEED_RULE,
        "backend": keras.backend.backend(),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with guard.ending_on_faults():
        stored = stored_manifest(storage, settings.study_name)
        study = create_or_load_study(storage, settings.study_name, sampler, pruner, manifest)
        store = artifact_store(settings.results_dir, create=True)  # once the study is accepted
        progress.header(header(settings, len(study.trials), stored))
        for point in space.enqueue:  # once per study: a point tried or waiting is skipped
            study.enqueue_trial(dict(point), skip_if_exists=True)
        objective = Objective(
            splits=splits,
            base_train=TrainConfig(epochs=settings.epochs, seed=settings.seed),
            space=space,
            artifact_store=store,
            epoch_lines=progress.epoch if settings.verbosity >= VERBOSE else None,
            objectives=settings.objectives,
            front_pruner=FrontReach() if settings.pruner == "front" else None,
        )

        def report_trial(study: optuna.Study, trial: FrozenTrial) -> None:
            progress.trial(trial)

        n_trials = settings.n_trials
        until: list[Callable[[optuna.Study, FrozenTrial], None]] = []
        if settings.max_trials is not None:
            so_far = trials_started(storage, settings.study_name)
            left = max(0, settings.max_trials - so_far)
            if not left:
                progress.note(total_reached(so_far, settings.max_trials))
            n_trials = left if n_trials is None else min(n_trials, left)
            # Last, so that it counts the other workers' trials as late as possible.
            until = [MaxTrialsCallback(settings.max_trials, states=STARTED)]

        backends.current().quiet_logs()
        # Our progress line reports each trial, failures with their reason; Optuna's own
        # warning for a failed trial repeats it with a traceback.
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        # The backend, Keras and the data are loaded and live as long as the process. Freezing
        # them takes their ~300,000 objects out of every later collection: each trial's gc
        # passes (clear_session, gc_after_trial) drop from ~0.2 s to ~0.01 s each (`bench`).
        gc.freeze()
        timeout = settings.timeout
        if timeout is not None and started is not None:
            timeout = max(0.0, timeout - (time.monotonic() - started))
        with sigterm_as_interrupt():
            study.optimize(
                guard.objective(objective),
                n_trials=n_trials,
                timeout=timeout,
                catch=(TrainingDiverged, OutOfDeviceMemory),
                callbacks=[record_trial, report_trial, *(callbacks or []), *until],
                gc_after_trial=True,
            )
    return study


def run(
    settings: RunSettings,
    supervised: bool = False,
    out: TextIO | None = None,
    started: float | None = None,
) -> int:
    """``lenet-study run``: trains here, or supervises worker processes, then sums up.

    The trials run in this process when there is one worker and at most
    ``trials_per_process`` of them, and in worker processes otherwise (see
    ``study.workers``). A ``supervised`` process is one of those workers: it runs its trials
    and prints nothing but its epoch lines with -v; its supervisor prints the header, each
    finished trial and the summary.

    Returns:
        The exit code: 0, or the first failed worker's.
    """
    out = out or sys.stdout
    if supervised:
        worker = Progress(verbosity=settings.verbosity, out=out, bar=False, worker=True)
        run_study(settings, out, progress=worker, started=started)
        return 0
    backend = settings.backend or backends.configured()
    devices = check_devices(settings.devices, gpu_count(backend))
    progress = Progress(
        settings.n_trials, settings.verbosity, out, sizes=len(settings.objectives) > 1
    )
    if settings.workers > 1 or settings.recycles:
        from study.storage import load_study
        from study.workers import check_worker_count, run_workers

        # One error here, not one per worker, and before the workers' database is created;
        # in one process, run_study makes the same checks in the same order.
        check_worker_count(settings)
        settings.search_space()
        check_storage(settings.storage_url)
        check_writable_folder(settings.results_dir, "results folder")
        # Read and checked in full (without Keras), so that corrupt data create no database.
        load_fashion_mnist(settings.data_dir)
        code = run_workers(settings, progress, devices, since=started)
        if code in REFUSED:  # the workers said why, in one line; the study did not run
            return code
        try:
            study = load_study(settings.storage_url, settings.study_name)
        except StudyError:
            if code:  # killed before it made the study; the supervisor said so
                return code
            raise
    else:
        # Before the backend starts here: this process then sees only its GPU.
        os.environ.update(worker_environment(backend, devices, 1, 0))
        try:
            study = run_study(settings, out, progress=progress, started=started)
        finally:
            progress.close()
        code = 0
    print(summarize_best(study), file=out)
    if settings.verbosity > QUIET and best_trial_or_none(study) is not None:
        several = len(settings.objectives) > 1  # no single best: the commands name the front
        front = pareto_front(trial_points(study, settings.objectives)) if several else []
        lines = next_commands(settings, front)
        print("next:\n" + "\n".join(f"  {line}" for line in lines), file=out)
    return code
