"""JAX's compiled epochs: the same training as Keras' ``fit``, one XLA call per epoch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lenet import ModelConfig, TrainConfig, TrainingDiverged, backends, evaluate_model, train
from lenet.training import EpochRecorder, build_model, compile_model

pytestmark = pytest.mark.backends
on_jax = pytest.mark.skipif(keras.backend.backend() != "jax", reason="needs Keras on JAX")


def test_augmentation_flips_mirror_and_shifts_stay_within_their_pixels():
    jax_epochs = pytest.importorskip("lenet.backends.jax_epochs")
    import jax

    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 10:18, 10:18] = 1.0  # a square: its centre of mass moves with the shift
    images = np.repeat(image, 200, axis=0)
    shifted = np.asarray(jax_epochs.augment(images, jax.random.key(0), flip=False, shift=2))
    rows = np.arange(28)[None, :, None, None]
    centre = (shifted * rows).sum(axis=(1, 2, 3)) / shifted.sum(axis=(1, 2, 3))
    assert np.all(np.abs(centre - 13.5) <= 2.0 + 1e-4)
    assert np.std(centre) > 0.5  # offsets differ from image to image
    assert shifted.sum(axis=(1, 2, 3)) == pytest.approx(64.0, abs=1e-3)  # nothing falls off
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    out = np.asarray(jax_epochs.augment(x, jax.random.key(1), flip=True, shift=0))
    mirrored = [np.array_equal(o, a[:, ::-1]) for o, a in zip(out, x, strict=True)]
    unchanged = [np.array_equal(o, a) for o, a in zip(out, x, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 0 < sum(mirrored) < 64


@on_jax
def test_compiled_epochs_train_as_keras_fit_does(small_splits, monkeypatch):
    from lenet.backends import jax_epochs

    # Keras reads a PyDataset's first batch before training and then starts a new epoch, so
    # its epoch e sees the order of epoch e + 1.
    order = jax_epochs.epoch_order
    monkeypatch.setattr(jax_epochs, "epoch_order", lambda n, seed, e: order(n, seed, e + 1))
    backend = backends.current()
    # 2,000 images: the last of 16 batches has 80, so the filled-up last batch is checked too.
    config = TrainConfig(epochs=2, optimizer="adamw", weight_decay=1e-4, lr_schedule="cosine")
    validation = (small_splits.x_val, small_splits.y_val)
    runs = []
    for compiled in (False, True):
        backend.set_random_seed(0)
        model = compile_model(build_model(ModelConfig(activation="relu")), config, 16)
        recorder = EpochRecorder()
        if compiled:
            epochs = jax_epochs.CompiledEpochs(
                model, config, small_splits.x_train, small_splits.y_train, validation
            )
            epochs.fit(config.epochs, [recorder])
        else:
            inputs = backend.fit_inputs(
                small_splits.x_train, small_splits.y_train, validation, config, one_hot=False
            )
            model.fit(**inputs, epochs=2, callbacks=[recorder], verbose=0)
        runs.append((recorder.history, model.get_weights()))
    (fit_history, fit_weights), (history, weights) = runs
    assert history.keys() == fit_history.keys()
    for key, values in fit_history.items():
        assert history[key] == pytest.approx(values, abs=1e-4), key
    # Float sums in another order: 2e-5 here, where a step done differently moves 1e-2.
    assert (
        max(float(np.abs(a - b).max()) for a, b in zip(weights, fit_weights, strict=True)) < 1e-4
    )


@on_jax
def test_train_with_compiled_epochs_keeps_the_best_epoch_and_its_callbacks(small_splits):
    ended: list[int] = []

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ended.append(epoch)
            self.model.stop_training = epoch == 2

    config = TrainConfig(
        epochs=5,
        compiled_epochs=True,
        label_smoothing=0.1,
        augment_flip=True,
        augment_shift=2,
        lr_schedule="one_cycle",
    )
    model_config = ModelConfig(dropout_rate=0.2, batch_norm=True)
    result = train(model_config, config, small_splits, callbacks=[Stop()])
    assert ended == [0, 1, 2]
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(result.seconds_per_epoch) == 3
    assert result.best_val_accuracy == max(result.history["val_accuracy"]) > 0.5
    evaluation = evaluate_model(result.model, small_splits.x_val, small_splits.y_val)
    assert evaluation.accuracy == pytest.approx(result.best_val_accuracy, abs=1e-6)


@on_jax
def test_a_diverging_compiled_epoch_names_its_first_bad_batch(small_splits):
    config = TrainConfig(epochs=2, learning_rate=1e20, compiled_epochs=True)
    with pytest.raises(TrainingDiverged, match=r"in epoch 1 \(batch \d+\)"):
        train(ModelConfig(activation="relu"), config, small_splits)


@on_jax
@pytest.mark.parametrize(("setting", "expected"), [(None, False), (True, True), (False, False)])
def test_compiled_epochs_are_the_default_on_accelerators_only(setting, expected):
    from lenet.backends.jax import uses_compiled_epochs

    assert uses_compiled_epochs(TrainConfig(compiled_epochs=setting)) is expected  # a CPU here


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's refusal")
def test_tensorflow_refuses_compiled_epochs(small_splits):
    with pytest.raises(ValueError, match="needs the JAX backend"):
        train(ModelConfig(), TrainConfig(epochs=1, compiled_epochs=True), small_splits)
