"""The JAX backend: NumPy batches fed to ``model.fit``, seeding and threads without TensorFlow.

Imported only when Keras runs on JAX (see ``lenet.backends``). Nothing here imports
TensorFlow: Keras' own ``set_random_seed`` would, to seed it too.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import jax
import keras
import numpy as np

from lenet.backends import keras_fit

if TYPE_CHECKING:
    from lenet.backends import Fit
    from lenet.training import TrainConfig

NAME = "jax"
XLA_ONLY = True  # the train step is compiled with XLA whatever TrainConfig.jit_compile says


def library_versions() -> dict[str, str]:
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


def set_random_seed(seed: int) -> None:
    """Seeds Python, NumPy and Keras' global seed generator, as Keras' own function does.

    Keras seeds TensorFlow as well whenever it is installed, which imports it: a JAX run has
    no use for it (~1 s and ~300 MiB), so Keras is told it is absent first.
    """
    from keras.src.utils import rng_utils

    lazy_tf = getattr(rng_utils, "tf", None)
    if lazy_tf is not None and getattr(lazy_tf, "module", None) is None:
        lazy_tf._available = False
    keras.utils.set_random_seed(seed)


def set_threads(threads: int) -> None:
    """Asks XLA for single-threaded CPU kernels when ``threads`` is 1.

    XLA reads its flags when JAX creates its CPU client, at the first array operation, so
    this counts only before that; later it changes nothing (JAX offers no setting for it).
    """
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()


def quiet_logs() -> None:
    """Nothing to silence: JAX does not warn about retracing."""


def clear_session() -> None:
    """``keras.backend.clear_session()``, and JAX's compiled-function caches, which hold each
    trained model's executables for the life of the process otherwise."""
    keras.backend.clear_session()
    jax.clear_caches()


def translate(images: np.ndarray, max_shift: float, rng: np.random.Generator) -> np.ndarray:
    """Shifts each image by its own random offset of up to ``max_shift`` pixels each way.

    Offsets are uniform and sub-pixel, resampled bilinearly with zeros filled in, as Keras'
    ``RandomTranslation(max_shift / 28, max_shift / 28, fill_mode="constant")`` does on the
    TensorFlow backend.

    Args:
        images: ``(n, height, width, channels)``.
    """
    n, height, width, _ = images.shape
    pad = math.ceil(max_shift) + 1
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    # Output pixel i reads source position i + offset: floor part k, fraction t.
    offsets = rng.uniform(-max_shift, max_shift, size=(2, n))
    k = np.floor(offsets).astype(np.int64)
    t = (offsets - k).astype(images.dtype)
    rows = k[0][:, None] + pad + np.arange(height)[None, :]  # (n, height)
    cols = k[1][:, None] + pad + np.arange(width)[None, :]  # (n, width)
    which = np.arange(n)[:, None, None]
    out = np.zeros_like(images)
    for dr, wr in ((0, 1 - t[0]), (1, t[0])):
        for dc, wc in ((0, 1 - t[1]), (1, t[1])):
            window = padded[which, (rows + dr)[:, :, None], (cols + dc)[:, None, :]]
            out += (wr * wc)[:, None, None, None] * window
    return out


def augment_batch(
    images: np.ndarray, flip: bool, shift: int, rng: np.random.Generator
) -> np.ndarray:
    """Random left-right flips (each image with probability 1/2) and translations."""
    if flip:
        mirror = rng.random(len(images)) < 0.5
        images = np.where(mirror[:, None, None, None], images[:, :, ::-1], images)
    if shift:
        images = translate(images, float(shift), rng)
    return images


class EpochBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches from NumPy arrays, reshuffled every epoch.

    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``, and ``fit_inputs`` has Keras
    take them in order, so the seed alone fixes what each training step sees.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        seed: int,
        flip: bool = False,
        shift: int = 0,
        one_hot: bool = False,
    ) -> None:
        super().__init__()
        from lenet.model import NUM_CLASSES

        self.x = x
        self.y = np.eye(NUM_CLASSES, dtype=np.float32)[y] if one_hot else y
        self.batch_size = batch_size
        self.seed = seed
        self.flip = flip
        self.shift = shift
        self.epoch = 0
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[idx]
        if self.flip or self.shift:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            images = augment_batch(images, self.flip, self.shift, rng)
        return images, self.y[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._permutation()


def fit_inputs(
    x_train: np.ndarray,
    y_train: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: TrainConfig,
    one_hot: bool,
) -> dict[str, Any]:
    """``model.fit`` keyword arguments: NumPy batches, taken in ``EpochBatches``' order; Keras
    runs ``steps_per_execution`` jitted steps per call, and validates on the arrays in
    ``eval_batch_size`` batches."""
    from lenet.model import NUM_CLASSES

    batches = EpochBatches(
        x_train,
        y_train,
        config.batch_size,
        config.seed,
        flip=config.augment_flip,
        shift=config.augment_shift,
        one_hot=one_hot,
    )
    # EpochBatches shuffles; Keras' default would reorder its batches again with Python's random.
    inputs: dict[str, Any] = {"x": batches, "validation_data": None, "shuffle": False}
    if validation is not None:
        x_val, y_val = validation
        if one_hot:
            y_val = np.eye(NUM_CLASSES, dtype=np.float32)[y_val]
        inputs["validation_data"] = (x_val, y_val)
        inputs["validation_batch_size"] = config.eval_batch_size
    return inputs


def prepare_training(model: keras.Model, inputs: dict[str, Any]) -> None:
    """Nothing: ``fit`` builds the optimizer and metrics before its first (only) trace."""


def uses_compiled_epochs(config: TrainConfig) -> bool:
    """``config.compiled_epochs``, or by default whether JAX computes on an accelerator: on
    a CPU, Keras' step-by-step ``fit`` trains faster (docs/performance.md)."""
    if config.compiled_epochs is not None:
        return config.compiled_epochs
    return jax.default_backend() != "cpu"


def make_fit(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: TrainConfig,
) -> Fit:
    """Prepares training once: whole compiled epochs on an accelerator
    (``lenet.backends.jax_epochs``), otherwise ``model.fit`` on NumPy batches. The function it
    returns trains from ``initial_epoch`` up to ``epochs`` with ``callbacks`` on every call."""
    if uses_compiled_epochs(config):
        from lenet.backends.jax_epochs import CompiledEpochs

        return CompiledEpochs(model, config, x_train, y_train, validation).fit
    inputs = fit_inputs(x_train, y_train, validation, config, one_hot=config.label_smoothing > 0)

    return keras_fit(model, inputs)


def gpu_count() -> int:
    """GPUs JAX can use here (after ``CUDA_VISIBLE_DEVICES``); 0 without a CUDA plugin."""
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def accelerator() -> str | None:
    """The kind of device JAX computes on ("NVIDIA H200", "TPU v4"), or None on the CPU."""
    device = jax.devices()[0]
    return None if device.platform == "cpu" else str(device.device_kind)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is XLA running out of device memory (``RESOURCE_EXHAUSTED``)."""
    return type(exc).__name__ in ("XlaRuntimeError", "JaxRuntimeError") and (
        "RESOURCE_EXHAUSTED" in str(exc)
    )
