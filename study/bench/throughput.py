"""Epoch throughput of the classic LeNet-5: plain ``model.fit`` against our training path.

Both ``bench`` sections that time epochs use it: ``cost`` (TensorFlow, with the ceiling) and
``speed`` (any backend; on JAX both of its training paths). The paths alternate epoch by
epoch, after one warm-up epoch each, so that load from other processes hits them alike; the
speed-ups are medians of the per-round ratios. Nothing here imports TensorFlow unless Keras
runs on it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from lenet import ModelConfig, TrainConfig, backends, build_model, compile_model, epoch_trainer

BATCH_SIZE = 128  # the classic LeNet-5 setting
REFERENCE = "plain model.fit(x, y) on NumPy arrays, Adam, default settings"
OURS = "lenet.train's path here: "
# What each of our paths is, by the name it has in the figures.
PATHS = {
    "tf_data": "model.fit on a tf.data pipeline (make_dataset)",
    "numpy_batches": "model.fit on NumPy batches (EpochBatches)",
    "compiled_epochs": "one XLA call per epoch (CompiledEpochs)",
    "ceiling": "the bare train step on one resident batch, an epoch in one tf.function call",
}


@dataclass(frozen=True)
class Throughput:
    """Training images per second in the steady state (after a warm-up epoch)."""

    images: int
    ours_images_per_second: float  # median over rounds
    reference_images_per_second: float  # model.fit on NumPy arrays, default settings
    speedup: float  # median of per-round ratios reference_seconds / ours_seconds
    rounds: int
    batch_size: int
    # The same train step on one batch already in memory, an epoch's steps in one call: no
    # input pipeline, no Keras loop, no metrics. No change to those can beat it.
    ceiling_images_per_second: float | None = None  # None: not measured
    ceiling_speedup: float | None = None  # median of reference_seconds / ceiling_seconds
    seconds: dict[str, list[float]] = field(default_factory=dict)  # per round, each path
    paths: dict[str, str] = field(default_factory=dict)  # what each path is
    first_epoch_seconds: dict[str, float] = field(default_factory=dict)  # compiling included
    median_seconds: dict[str, float] = field(default_factory=dict)
    speedups: dict[str, float] = field(default_factory=dict)  # each path's, as `speedup`


def our_paths(config: TrainConfig) -> dict[str, tuple[str, TrainConfig]]:
    """Our training paths on this backend, ``lenet.train``'s first as ``"ours"``: name, what
    it is, and its config. On JAX the other path is there too, so a figure shows both."""
    if keras.backend.backend() != "jax":
        return {"ours": (f"{OURS}{PATHS['tf_data']}", config)}
    from lenet.backends.jax import uses_compiled_epochs

    compiled = uses_compiled_epochs(config)
    name, other = "compiled_epochs", "numpy_batches"
    if not compiled:
        name, other = other, name
    return {
        "ours": (f"{OURS}{PATHS[name]}", replace(config, compiled_epochs=compiled)),
        other: (PATHS[other], replace(config, compiled_epochs=not compiled)),
    }


def _ceiling_epoch(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> Any:
    """An epoch's train steps on one resident batch, in one ``tf.function`` call."""
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(TrainConfig().learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    x_batch, y_batch = tf.constant(x[:batch_size]), tf.constant(y[:batch_size])
    steps = len(y) // batch_size

    @tf.function
    def epoch() -> tf.Tensor:
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = loss_fn(y_batch, model(x_batch, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(gradients, model.trainable_variables)
        return loss

    return lambda: epoch().numpy()


def alternate(
    paths: dict[str, Callable[[], object]],
    rounds: int,
    step: Callable[[str], None] = lambda text: None,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Runs one epoch of each path per round, in turn: a warm-up round, then ``rounds``.

    Returns:
        Each path's warm-up seconds (tracing, compiling, first touches), and its seconds in
        each timed round; to the microsecond, so that figures computed from them match.
    """
    first: dict[str, float] = {}
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(rounds + 1):
        step("warm-up epoch of each path" if round_ == 0 else f"round {round_} of {rounds}")
        for name, epoch in paths.items():
            start = time.perf_counter()
            epoch()
            elapsed = round(time.perf_counter() - start, 6)
            if round_:
                seconds[name].append(elapsed)
            else:
                first[name] = elapsed
    return first, seconds


def median_speedup(reference: list[float], path: list[float]) -> float:
    """The median over rounds of the reference's seconds over the path's."""
    return statistics.median(r / p for r, p in zip(reference, path, strict=True))


def measure_throughput(
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
    batch_size: int = BATCH_SIZE,
    ceiling: bool = False,
    step: Callable[[str], None] = lambda text: None,
) -> Throughput:
    """Epochs of the classic LeNet-5: our training paths against plain ``model.fit``.

    Args:
        x: training images, ``(n, 28, 28, 1)`` float32 in [0, 1].
        y: their labels.
        rounds: timed epochs per path, after one warm-up epoch each.
        batch_size: images per step, for every path.
        ceiling: also time the bare train step (TensorFlow only), which bounds what any
            input pipeline or loop can reach.
        step: called with a line as each round starts.

    Raises:
        ValueError: ``ceiling`` on another backend than TensorFlow.
    """
    backend = backends.current()
    if ceiling and backend.NAME != "tensorflow":
        raise ValueError(f"the ceiling is a TensorFlow function; Keras runs on {backend.NAME}")
    config = TrainConfig(batch_size=batch_size)
    # The backend's own seeding: Keras' set_random_seed would import TensorFlow on JAX too.
    backend.set_random_seed(0)
    reference = build_model(ModelConfig.classic())
    reference.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    paths: dict[str, Callable[[], object]] = {
        "reference": lambda: reference.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    }
    descriptions = {"reference": REFERENCE}
    for name, (description, path_config) in our_paths(config).items():
        backend.set_random_seed(0)
        model = compile_model(build_model(ModelConfig.classic()), path_config)
        paths[name] = epoch_trainer(model, path_config, x, y)
        descriptions[name] = description
    if ceiling:
        backend.set_random_seed(0)
        paths["ceiling"] = _ceiling_epoch(build_model(ModelConfig.classic()), x, y, batch_size)
        descriptions["ceiling"] = PATHS["ceiling"]
    first, seconds = alternate(paths, rounds, step)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    speedups = {name: median_speedup(seconds["reference"], s) for name, s in seconds.items()}
    return Throughput(
        images=len(y),
        ours_images_per_second=len(y) / medians["ours"],
        reference_images_per_second=len(y) / medians["reference"],
        speedup=speedups["ours"],
        rounds=rounds,
        batch_size=batch_size,
        ceiling_images_per_second=len(y) / medians["ceiling"] if ceiling else None,
        ceiling_speedup=speedups["ceiling"] if ceiling else None,
        seconds=seconds,
        paths=descriptions,
        first_epoch_seconds=first,
        median_seconds=medians,
        speedups=speedups,
    )
