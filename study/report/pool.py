"""Retraining runs spread over worker processes, each with its share of the cores.

LeNet-5's small ops do not spread over cores, so on a CPU machine two one-thread processes
train about twice the models of one two-thread process (docs/performance.md), as the study's
workers do. Each process gets the images once and then trains whole runs; only the scored
``RetrainRun`` records come back.

This module imports no Keras at the top: a spawned process must set its threads and quiet
TensorFlow's start-up before Keras loads its backend.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lenet import ModelConfig, Splits, TrainConfig
    from study.report.retrain import RetrainRun

# One process's data, set by _start: the training images and the scored test images.
_data: dict[str, Any] = {}


def default_workers(workers: int, backend: str) -> int:
    """``workers`` processes on a CPU machine; one where a GPU does the training, which a
    single LeNet-5 run already keeps busy and several processes would only share."""
    from study.devices import gpu_count

    return 1 if gpu_count(backend) else workers


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _start(threads: int, images: Splits, x_test: np.ndarray, y_test: np.ndarray) -> None:
    from study.quiet import quiet_tensorflow

    quiet_tensorflow()  # before lenet.training loads Keras and its backend
    from lenet import backends, set_threads

    set_threads(threads)
    backends.current().quiet_logs()  # each run builds a new model: retracing is expected
    _data.update(images=images, x_test=x_test, y_test=y_test)


def _retrain(model_config: ModelConfig, train_config: TrainConfig) -> RetrainRun:
    from study.report.retrain import retrain_one

    return retrain_one(
        model_config, train_config, _data["images"], _data["x_test"], _data["y_test"]
    )


def retrain_in_processes(
    runs: Sequence[tuple[ModelConfig, TrainConfig]],
    images: Splits,
    x_test: np.ndarray,
    y_test: np.ndarray,
    workers: int,
    finished: Callable[[int, RetrainRun], None] | None = None,
) -> list[RetrainRun]:
    """Trains every ``(model, training)`` pair of ``runs`` in ``workers`` fresh processes.

    Returns the results in the order of ``runs``; ``finished`` gets ``(index, result)`` as
    each run ends. A failed run raises its exception here, and the runs not started are
    cancelled.
    """
    context = multiprocessing.get_context("spawn")  # no forked copy of a loaded TensorFlow
    results: dict[int, RetrainRun] = {}
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start,
        initargs=(threads_per_worker(workers), images, x_test, y_test),
    ) as pool:
        futures = {pool.submit(_retrain, *run): index for index, run in enumerate(runs)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                if finished is not None:
                    finished(index, results[index])
        finally:
            for future in futures:
                future.cancel()
    return [results[index] for index in range(len(runs))]
