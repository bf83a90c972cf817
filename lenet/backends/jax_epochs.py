"""Whole epochs as one compiled XLA call: the JAX backend's training loop.

Keras' JAX trainer calls its jitted train step from Python once per batch, even with
``steps_per_execution``, and copies each batch from host memory; for a model as small as
LeNet-5 on a GPU, that loop sets the pace rather than the arithmetic. Here the images stay on
the device and one jitted ``lax.scan`` runs a whole epoch: gather, augmentation, forward pass,
gradients and optimizer update, through Keras' stateless API (``stateless_call``,
``optimizer.stateless_apply``), so layers, initializers, optimizers and schedules are Keras'
own. Callbacks see the epochs and logs ``model.fit`` would give them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
from jax.scipy.ndimage import map_coordinates

if TYPE_CHECKING:
    from lenet.training import TrainConfig

State = tuple[list[jax.Array], list[jax.Array], list[jax.Array]]  # trainable, other, optimizer


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` training images in ``epoch``: a fresh permutation per epoch."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def augment(images: jax.Array, key: jax.Array, flip: bool, shift: int) -> jax.Array:
    """Random left-right flips (probability 1/2) and sub-pixel shifts of up to ``shift``
    pixels each way, resampled bilinearly with zeros filled in, as Keras'
    ``RandomTranslation(fill_mode="constant")`` does. ``images``: ``(n, 28, 28, 1)``."""
    flip_key, shift_key = jax.random.split(key)
    if flip:
        mirror = jax.random.bernoulli(flip_key, 0.5, (images.shape[0],))
        images = jnp.where(mirror[:, None, None, None], images[:, :, ::-1], images)
    if shift:
        offsets = jax.random.uniform(shift_key, (images.shape[0], 2), minval=-shift, maxval=shift)
        rows, cols = jnp.meshgrid(
            jnp.arange(images.shape[1], dtype=images.dtype),
            jnp.arange(images.shape[2], dtype=images.dtype),
            indexing="ij",
        )

        def move(image: jax.Array, offset: jax.Array) -> jax.Array:
            coords = [rows + offset[0], cols + offset[1]]
            return map_coordinates(image[..., 0], coords, order=1, cval=0.0)[..., None]

        images = jax.vmap(move)(images, offsets)
    return images


def per_image_loss(label_smoothing: float) -> Any:
    """The compiled loss, per image: the mean of a batch is what ``model.fit`` minimizes."""
    if label_smoothing:
        return lambda labels, probabilities: keras.losses.categorical_crossentropy(
            jax.nn.one_hot(labels, probabilities.shape[-1]),
            probabilities,
            label_smoothing=label_smoothing,
        )
    return keras.losses.sparse_categorical_crossentropy


class CompiledEpochs:
    """Trains ``model`` (compiled by ``lenet.training.compile_model``) on device-resident
    images, one jitted call per epoch, and validates in one more."""

    def __init__(
        self,
        model: keras.Model,
        config: TrainConfig,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        self.model = model
        self.config = config
        self.n = len(y)
        self.steps = math.ceil(self.n / config.batch_size)
        self.x, self.y = jnp.asarray(x), jnp.asarray(y, jnp.int32)
        self.validation = None
        if validation is not None:
            self.validation = _padded_batches(*validation, config.eval_batch_size)
        self.loss = per_image_loss(config.label_smoothing)
        model.optimizer.build(model.trainable_variables)
        self._epoch = jax.jit(self._run_epoch)
        self._evaluate = jax.jit(self._run_evaluation)

    def state(self) -> State:
        model = self.model
        return (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
        )

    def write_back(self, state: State) -> None:
        """Puts ``state`` into the model's variables, where callbacks and ``save`` read it."""
        model = self.model
        variables = (model.trainable_variables, model.non_trainable_variables)
        for group, values in zip((*variables, model.optimizer.variables), state, strict=True):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)

    def _step(
        self,
        state: State,
        images: jax.Array,
        labels: jax.Array,
        weights: jax.Array,
        key: jax.Array,
    ) -> tuple[State, jax.Array]:
        trainable, other, optimizer_state = state
        images = augment(images, key, self.config.augment_flip, self.config.augment_shift)

        def loss(trainable: list[jax.Array]) -> tuple[jax.Array, tuple[Any, ...]]:
            probabilities, new_other, extra = self.model.stateless_call(
                trainable, other, images, training=True, return_losses=True
            )
            # Weight 0: images that only fill the last batch up to the compiled shape.
            batch = jnp.sum(self.loss(labels, probabilities) * weights) / jnp.sum(weights)
            return batch + sum(extra, jnp.zeros(())), (probabilities, new_other)

        (value, (probabilities, other)), grads = jax.value_and_grad(loss, has_aux=True)(trainable)
        trainable, optimizer_state = self.model.optimizer.stateless_apply(
            optimizer_state, grads, trainable
        )
        correct = jnp.sum((jnp.argmax(probabilities, axis=-1) == labels) * weights)
        return (trainable, other, optimizer_state), jnp.stack([value, correct])

    def _run_epoch(
        self, state: State, x: jax.Array, y: jax.Array, order: jax.Array, key: jax.Array
    ) -> tuple[State, jax.Array]:
        size = self.config.batch_size
        # The last batch is filled up from the epoch's first images and weighted 0 there, so
        # every step has one shape; batch norm still sees those images in that step.
        rows = jnp.concatenate([order, order[: self.steps * size - self.n]])
        weights = (jnp.arange(self.steps * size) < self.n).astype(self.x.dtype)
        keys = jax.random.split(key, self.steps)
        rows = rows.reshape(self.steps, size)

        def step(state: State, inputs: tuple[jax.Array, ...]) -> tuple[State, jax.Array]:
            batch, weight, key = inputs
            return self._step(state, x[batch], y[batch], weight, key)

        return jax.lax.scan(step, state, (rows, weights.reshape(self.steps, size), keys))

    def _run_evaluation(
        self, state: State, batches: tuple[jax.Array, jax.Array, jax.Array]
    ) -> jax.Array:
        trainable, other, _ = state

        def batch(total: jax.Array, inputs: tuple[jax.Array, ...]) -> tuple[jax.Array, None]:
            images, labels, weights = inputs
            probabilities, _ = self.model.stateless_call(trainable, other, images)
            loss = jnp.sum(self.loss(labels, probabilities) * weights)
            correct = jnp.sum((jnp.argmax(probabilities, axis=-1) == labels) * weights)
            return total + jnp.stack([loss, correct]), None

        total, _ = jax.lax.scan(batch, jnp.zeros(2), batches)
        return total

    def fit(
        self,
        epochs: int,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        initial_epoch: int = 0,
    ) -> None:
        """Runs epochs ``initial_epoch`` to ``epochs`` with ``callbacks``, as
        ``model.fit(verbose=0)`` would.

        Callbacks get ``on_train_batch_end`` once per epoch, for its last step (or its first
        non-finite loss), as with ``steps_per_execution`` equal to the epoch's steps.
        """
        model = self.model
        hooks = keras.callbacks.CallbackList(
            list(callbacks), model=model, epochs=epochs, steps=self.steps, verbose=0
        )
        model.stop_training = False
        key = jax.random.key(self.config.seed)
        state = self.state()
        logs: dict[str, float] = {}
        hooks.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            hooks.on_epoch_begin(epoch)
            order = jnp.asarray(epoch_order(self.n, self.config.seed, epoch), jnp.int32)
            state, per_step = self._epoch(
                state, self.x, self.y, order, jax.random.fold_in(key, epoch)
            )
            self.write_back(state)
            per_step = np.asarray(per_step)  # (steps, 2): mean loss, correct images
            finite = np.isfinite(per_step[:, 0])
            last = self.steps - 1 if finite.all() else int(np.argmin(finite))
            hooks.on_train_batch_end(last, {"loss": float(per_step[last, 0])})
            sizes = np.full(self.steps, self.config.batch_size)
            sizes[-1] = self.n - self.config.batch_size * (self.steps - 1)
            logs = {
                "loss": float(per_step[:, 0] @ sizes / self.n),
                "accuracy": float(per_step[:, 1].sum() / self.n),
            }
            if self.validation is not None:
                loss, correct = np.asarray(self._evaluate(state, self.validation[0]))
                logs |= {
                    "val_loss": float(loss / self.validation[1]),
                    "val_accuracy": float(correct / self.validation[1]),
                }
            hooks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        hooks.on_train_end(logs)


def _padded_batches(
    x: np.ndarray, y: np.ndarray, size: int
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], int]:
    """Validation images on the device in batches of ``size``, the last filled with zeros
    weighted 0; and the number of real images."""
    n = len(y)
    batches = max(1, math.ceil(n / size))
    pad = batches * size - n
    images = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
    labels = np.concatenate([np.asarray(y, np.int32), np.zeros(pad, np.int32)])
    weights = (np.arange(batches * size) < n).astype(x.dtype)
    shape = (batches, size)
    return (
        (
            jnp.asarray(images.reshape(*shape, *x.shape[1:])),
            jnp.asarray(labels.reshape(shape)),
            jnp.asarray(weights.reshape(shape)),
        ),
        n,
    )
