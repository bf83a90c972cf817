"""The TensorFlow backend: a tf.data input pipeline, thread settings, a memory workaround.

Imported only when Keras runs on TensorFlow (see ``lenet.backends``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops

from lenet.backends import keras_fit

if TYPE_CHECKING:
    from lenet.backends import Fit
    from lenet.training import TrainConfig

NAME = "tensorflow"
XLA_ONLY = False  # XLA is opt-in (TrainConfig.jit_compile): slower for LeNet-5 on CPU
_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"  # the names tf.custom_gradient generates


def library_versions() -> dict[str, str]:
    return {"tensorflow": tf.__version__}


def set_random_seed(seed: int) -> None:
    """Seeds Python, NumPy, TensorFlow and Keras' global seed generator."""
    keras.utils.set_random_seed(seed)


def set_threads(threads: int) -> None:
    """Caps TensorFlow's CPU threads for this process; call before the first TensorFlow op.

    Each op uses up to ``threads`` cores and at most ``threads`` ops run side by side, so
    several worker processes can share a machine without oversubscribing it.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        raise RuntimeError(
            "set_threads() must run before TensorFlow executes its first operation"
        ) from None


def quiet_logs() -> None:
    """Every trial builds a new model, so Keras retraces its functions by design; TensorFlow
    warns about that as if it were a bug."""
    tf.get_logger().setLevel("ERROR")


def _gradient_registry() -> dict[str, Any]:
    """TensorFlow's registry of gradient functions by op type; a private detail, so an empty
    dict (nothing cleared) if a TensorFlow release stores it otherwise."""
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else {}


def clear_session() -> None:
    """``keras.backend.clear_session()``, after dropping the registered custom gradients.

    In graph mode every call of a ``tf.custom_gradient`` function registers its gradient in
    TensorFlow's process-wide registry under a fresh name that is never removed, and the
    registered closure holds the traced graph (see ``lenet.session``). A gradient entry is
    looked up only while a train step is traced, and every trace registers its own, so the
    entries of discarded graphs are never needed again.
    """
    registry = _gradient_registry()
    for name in [name for name in registry if name.startswith(_CUSTOM_GRADIENT_PREFIX)]:
        del registry[name]
    keras.backend.clear_session()  # also runs the garbage collector, which frees the graphs


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    one_hot: bool = False,
    augment: keras.layers.Layer | None = None,
) -> tf.data.Dataset:
    """An in-memory pipeline of ``(images, labels)`` batches.

    Shuffling permutes indices and gathers whole batches from one tensor, rather than
    shuffling a buffer of single images: one gather per batch instead of one element per image.

    Args:
        one_hot: labels as ``(batch, 10)`` one-hot rows (label smoothing needs them).
        augment: a Keras preprocessing layer applied to training batches, outside the model,
            so the exported model stays a plain classifier.
    """
    from lenet.model import NUM_CLASSES

    images, labels = tf.constant(x), tf.constant(y)
    ds = tf.data.Dataset.range(len(y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)

    def gather(idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch_x, batch_y = tf.gather(images, idx), tf.gather(labels, idx)
        if augment is not None:
            batch_x = augment(batch_x, training=True)
        if one_hot:
            batch_y = tf.one_hot(batch_y, NUM_CLASSES)
        return batch_x, batch_y

    ds = ds.batch(batch_size).map(gather, num_parallel_calls=2, deterministic=True)
    # No tf.data autotuning: with it, the end of each epoch's iterator waited on the autotune
    # thread's backing-off sleeps, seconds per epoch (docs/performance.md). A gather per
    # batch needs no tuning: two batches in flight.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def fit_inputs(
    x_train: np.ndarray,
    y_train: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: TrainConfig,
    one_hot: bool,
) -> dict[str, Any]:
    """``model.fit`` keyword arguments: tf.data pipelines that reshuffle every epoch."""
    from lenet.training import make_augmentation

    train_ds = make_dataset(
        x_train,
        y_train,
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        one_hot=one_hot,
        augment=make_augmentation(config),
    )
    val_ds = None
    if validation is not None:
        val_ds = make_dataset(*validation, config.eval_batch_size, False, one_hot=one_hot)
    return {"x": train_ds, "validation_data": val_ds, "shuffle": False}


def prepare_training(model: keras.Model, inputs: dict[str, Any]) -> None:
    """Creates the optimizer's slots and the metrics' variables before ``fit`` traces.

    Keras without a distribution strategy leaves them to the first trace of the train step,
    and a ``tf.function`` that creates variables while tracing traces again, so every new
    model would trace its train step twice (docs/performance.md). Both are created as
    ``fit`` would create them (zeros), so training is unchanged.
    """
    model.optimizer.build(model.trainable_variables)
    x_spec, y_spec = inputs["x"].element_spec
    x = tf.zeros((1, *x_spec.shape[1:]), x_spec.dtype)
    y = tf.zeros((1, *y_spec.shape[1:]), y_spec.dtype)
    model.compute_metrics(x, y, model(x), sample_weight=None)
    model.reset_metrics()


def make_fit(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: TrainConfig,
) -> Fit:
    """Prepares ``model.fit`` on tf.data pipelines once; the function it returns trains
    from ``initial_epoch`` up to ``epochs`` with ``callbacks`` on every call."""
    if config.compiled_epochs:
        raise ValueError("compiled_epochs needs the JAX backend (KERAS_BACKEND=jax)")
    inputs = fit_inputs(x_train, y_train, validation, config, one_hot=config.label_smoothing > 0)
    prepare_training(model, inputs)

    return keras_fit(model, inputs)


def gpu_count() -> int:
    """GPUs TensorFlow can use here (after ``CUDA_VISIBLE_DEVICES``)."""
    return len(tf.config.list_physical_devices("GPU"))


def accelerator() -> str | None:
    """The first GPU's name as its driver gives it ("NVIDIA H200"), or None without one."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return str(tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name))


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is TensorFlow running out of device memory."""
    return isinstance(exc, tf.errors.ResourceExhaustedError)
