"""Training a LeNet-5 variant: Adam, augmentation, best-epoch weights, on any Keras backend.

The input pipeline and other backend-specific parts live in ``lenet.backends``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import keras
import numpy as np

from lenet import backends
from lenet.data import Splits
from lenet.model import ModelConfig, build_model

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "one_cycle")
ONE_CYCLE_WARMUP = 0.3  # share of the run's steps the one-cycle schedule spends warming up


@dataclass(frozen=True)
class TrainConfig:
    """How one variant is trained. Field names are the Optuna parameter names."""

    learning_rate: float = 1e-3  # peak step size
    batch_size: int = 128  # images per step
    optimizer: str = "adam"  # one of OPTIMIZERS; "sgd" uses Nesterov momentum 0.9
    weight_decay: float = 0.0  # decoupled (as in AdamW), per step, scaled by the learning rate
    lr_schedule: str = "constant"  # one of SCHEDULES
    label_smoothing: float = 0.0  # share of each target spread over the other classes
    augment_flip: bool = False  # random left-right flips: garments are roughly symmetric
    augment_shift: int = 0  # random translations of up to this many pixels each way
    epochs: int = 10  # passes over the training images
    seed: int = 0  # weights init, dropout and shuffling
    steps_per_execution: int = 32  # steps per compiled-function call: less Python per step
    jit_compile: bool = False  # TensorFlow: XLA, slower on CPU (docs/performance.md); JAX: always
    eval_batch_size: int = 1000  # validation batches: larger is faster, no effect on results
    # JAX: one compiled call per epoch; None: on a GPU or TPU, not on a CPU, where it is slower
    compiled_epochs: bool | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.weight_decay < 1.0:
            raise ValueError(f"weight_decay must be in [0, 1), got {self.weight_decay}")
        if not 0 <= self.augment_shift <= 7:
            raise ValueError(f"augment_shift must be 0..7 pixels, got {self.augment_shift}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("batch_size", "epochs", "steps_per_execution", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")

    @classmethod
    def from_params(cls, params: dict[str, Any], **defaults: Any) -> TrainConfig:
        """Builds a config from a dict that may hold other (model) parameters too."""
        names = {f.name for f in fields(cls)}
        return cls(**{**defaults, **{k: v for k, v in params.items() if k in names}})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def warmup_epochs(self) -> int:
        """Epochs before the learning rate reaches its peak: accuracy there says little yet."""
        if self.lr_schedule != "one_cycle":
            return 0
        return math.ceil(ONE_CYCLE_WARMUP * self.epochs)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run's numbers are meaningless."""


class OutOfDeviceMemory(RuntimeError):
    """The accelerator ran out of memory during training; the message says what to change."""


@dataclass
class TrainResult:
    """A trained model (with its best validation epoch's weights) and its learning curves."""

    model: keras.Model
    history: dict[str, list[float]]  # per epoch: loss, accuracy, val_loss, val_accuracy
    best_epoch: int  # 1-based epoch with the highest val_accuracy
    seconds_per_epoch: list[float]

    @property
    def best_val_accuracy(self) -> float:
        return self.history["val_accuracy"][self.best_epoch - 1]


class _DivergenceGuard(keras.callbacks.Callback):
    """Stops at the first non-finite loss, with the epoch and batch in the message."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(
                f"loss became {float(loss)} in epoch {self._epoch} (batch {batch}); "
                "lower the learning rate"
            )


class EpochRecorder(keras.callbacks.Callback):
    """Keeps per-epoch logs and times, and the best val_accuracy epoch's weights in memory.

    Pass your own to ``train`` to read the curves of a run that a callback (pruning) ended
    with an exception: Keras' ``History`` is lost then. And
    ``EarlyStopping(restore_best_weights=True)`` restores only when it stops training early,
    so this keeps both itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.seconds: list[float] = []
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        accuracies = self.history.get("val_accuracy")
        # Strictly greater: on a tie the earlier (less trained) epoch stays the best.
        if accuracies and (self.best_epoch == 0 or accuracies[-1] > max(accuracies[:-1])):
            self.best_epoch = len(accuracies)
            self.best_weights = self.model.get_weights()


def set_threads(threads: int) -> None:
    """Caps the backend's CPU threads for this process; call before its first operation.

    Several worker processes can then share a machine without oversubscribing it.
    """
    if threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads}")
    backends.current().set_threads(threads)


def make_augmentation(config: TrainConfig) -> keras.layers.Layer | None:
    """Keras' random flip and translation layers, seeded, or None when both are off."""
    layers: list[keras.layers.Layer] = []
    if config.augment_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=config.seed))
    if config.augment_shift:
        factor = config.augment_shift / 28
        layers.append(
            keras.layers.RandomTranslation(factor, factor, fill_mode="constant", seed=config.seed)
        )
    return keras.Sequential(layers, name="augmentation") if layers else None


@keras.saving.register_keras_serializable(package="lenet")
class ResumedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` read ``offset`` steps later: a resumed run's new optimizer counts from 0."""

    def __init__(
        self, schedule: keras.optimizers.schedules.LearningRateSchedule, offset: int
    ) -> None:
        self.schedule = schedule
        self.offset = offset

    def __call__(self, step: Any) -> Any:
        return self.schedule(step + self.offset)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "offset": self.offset,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ResumedSchedule:
        schedule = keras.optimizers.schedules.deserialize(config["schedule"])
        return cls(schedule, config["offset"])


def make_schedule(
    config: TrainConfig, steps_per_epoch: int, start_epoch: int = 0
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate over the whole run: constant, cosine decay, or one cycle.

    With ``start_epoch``, the schedule as it stands after that many epochs: a run that
    continues an earlier one's model picks up the rates where it stopped.
    """
    total = max(1, steps_per_epoch * config.epochs)
    schedule: keras.optimizers.schedules.LearningRateSchedule
    if config.lr_schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total)
    elif config.lr_schedule == "one_cycle":
        # Warm up from lr/25 over the first 30% of steps, then anneal to zero (Smith 2018).
        warmup = int(ONE_CYCLE_WARMUP * total)
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate / 25,
            total - warmup,
            warmup_target=config.learning_rate,
            warmup_steps=warmup,
        )
    else:
        return config.learning_rate
    return ResumedSchedule(schedule, start_epoch * steps_per_epoch) if start_epoch else schedule


def make_optimizer(
    config: TrainConfig, steps_per_epoch: int, start_epoch: int = 0
) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its learning-rate schedule and weight decay."""
    rate = make_schedule(config, steps_per_epoch, start_epoch)
    decay = config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=decay)
    return keras.optimizers.RMSprop(rate, weight_decay=decay)


def compile_model(
    model: keras.Model, config: TrainConfig, steps_per_epoch: int = 1, start_epoch: int = 0
) -> keras.Model:
    """Compiles with the configured optimizer, loss and ``accuracy`` metric; ``start_epoch``
    as in ``make_schedule``."""
    loss: str | keras.losses.Loss = "sparse_categorical_crossentropy"
    if config.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch, start_epoch),
        loss=loss,
        metrics=["accuracy"],
        steps_per_execution=config.steps_per_execution,
        # JAX without XLA runs every op eagerly from Python: its fast path is always XLA.
        jit_compile=config.jit_compile or backends.current().XLA_ONLY,
    )
    return model


def epoch_trainer(
    model: keras.Model, config: TrainConfig, x: np.ndarray, y: np.ndarray
) -> Callable[[], None]:
    """Returns a function that trains ``model`` one more epoch on ``(x, y)`` per call, by the
    path ``train`` takes with ``config`` on this backend, without validation or callbacks.

    The input pipeline is made here and the training function compiled at the first call, so
    every later call takes one epoch's training: what a benchmark of the path times.

    Args:
        model: compiled by ``compile_model`` with ``config``.
        config: the batch size, seed, augmentation and (on JAX) ``compiled_epochs``;
            ``epochs`` is not used.
        x: training images, ``(n, 28, 28, 1)`` float32 in [0, 1].
        y: their labels, ``(n,)`` integers.

    Raises:
        ValueError: ``model`` is not compiled.
    """
    if not model.compiled:
        raise ValueError("compile the model first: lenet.training.compile_model(model, config)")
    fit_to = backends.current().make_fit(model, x, y, None, config)
    done = 0

    def next_epoch() -> None:
        nonlocal done
        fit_to(done + 1, (), done)
        done += 1

    return next_epoch


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    splits: Splits,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    validate: bool = True,
    recorder: EpochRecorder | None = None,
    model: keras.Model | None = None,
    initial_epoch: int = 0,
) -> TrainResult:
    """Trains one LeNet-5 variant, from scratch unless given a model to continue.

    Args:
        model_config: the variant's shape.
        train_config: optimizer, batch size, epochs and seed.
        splits: training and validation images.
        callbacks: extra Keras callbacks, run after the recorder (e.g. a pruning callback that
            reads ``val_accuracy``).
        validate: evaluate on ``splits.x_val`` after every epoch; without it the last epoch's
            weights are kept.
        recorder: records the epochs; one is made if not given.
        model: a ``model_config`` model to train instead of a new one, e.g. one whose
            weights a tuner reloaded to train it further; it is compiled anew.
        initial_epoch: epochs ``model`` was already trained for: training runs the epochs
            after it up to ``train_config.epochs``, on the learning-rate schedule from there.
            The optimizer's own state (momentum, Adam's moments) starts afresh.

    Returns:
        The model with its best validation epoch's weights, and per-epoch history; both count
        the epochs of this call only.

    Raises:
        ValueError: ``initial_epoch`` is not below ``train_config.epochs``, or is given
            without the model it continues.
        TrainingDiverged: the loss became NaN or infinite.
        OutOfDeviceMemory: the GPU ran out of memory.
    """
    if not 0 <= initial_epoch < train_config.epochs:
        raise ValueError(
            f"initial_epoch must be in [0, {train_config.epochs}) for "
            f"{train_config.epochs} epochs, got {initial_epoch}"
        )
    if initial_epoch and model is None:
        raise ValueError("initial_epoch continues a model: pass the model trained so far")
    backend = backends.current()
    backend.set_random_seed(train_config.seed)
    steps_per_epoch = math.ceil(len(splits.y_train) / train_config.batch_size)
    model = compile_model(
        build_model(model_config) if model is None else model,
        train_config,
        steps_per_epoch,
        start_epoch=initial_epoch,
    )
    recorder = recorder or EpochRecorder()
    try:
        validation = (splits.x_val, splits.y_val) if validate else None
        fit_to = backend.make_fit(model, splits.x_train, splits.y_train, validation, train_config)
        fit_to(train_config.epochs, [_DivergenceGuard(), recorder, *callbacks], initial_epoch)
    except Exception as exc:
        if backend.is_out_of_memory(exc):
            raise OutOfDeviceMemory(
                f"out of GPU memory at batch size {train_config.batch_size}; "
                "run fewer workers per GPU or smaller batches"
            ) from exc
        raise
    if validate and recorder.best_weights is not None:
        model.set_weights(recorder.best_weights)
        best_epoch = recorder.best_epoch
    else:
        best_epoch = len(recorder.seconds)
    return TrainResult(model, recorder.history, best_epoch, recorder.seconds)
