from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from lenet import (
    ModelConfig,
    TrainConfig,
    TrainingDiverged,
    build_model,
    compile_model,
    epoch_trainer,
    train,
)

pytestmark = pytest.mark.backends
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the tf.data pipeline and tf.function"
)


@pytest.mark.slow
def test_training_returns_curves_and_the_best_epochs_weights(small_splits):
    result = train(ModelConfig(activation="relu"), TrainConfig(epochs=3), small_splits)
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(result.history["val_accuracy"]) == 3 == len(result.seconds_per_epoch)
    assert result.best_val_accuracy == max(result.history["val_accuracy"])
    assert result.best_val_accuracy > 0.5  # ten classes: chance is 0.1
    # The returned weights are the best epoch's, not the last one's.
    _, accuracy = result.model.evaluate(small_splits.x_val, small_splits.y_val, verbose=0)
    assert accuracy == pytest.approx(result.best_val_accuracy, abs=1e-6)


@pytest.mark.slow
def test_same_seed_gives_the_same_run(small_splits):
    config = TrainConfig(epochs=1, seed=3)
    a = train(ModelConfig(), config, small_splits)
    b = train(ModelConfig(), config, small_splits)
    assert a.history["val_accuracy"] == b.history["val_accuracy"]


@pytest.mark.slow
def test_diverging_loss_stops_with_training_diverged(small_splits):
    with pytest.raises(TrainingDiverged, match="learning rate"):
        train(
            ModelConfig(activation="relu"), TrainConfig(learning_rate=1e20, epochs=2), small_splits
        )


@tensorflow_only
def test_dataset_reshuffles_every_epoch_and_covers_every_image():
    from lenet import make_dataset

    x = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)
    ds = make_dataset(x, np.arange(100), batch_size=32, shuffle=True, seed=0)
    first = np.concatenate([b[1].numpy() for b in ds])
    second = np.concatenate([b[1].numpy() for b in ds])
    assert sorted(first) == list(range(100)) == sorted(second)
    assert first.tolist() != second.tolist()


@pytest.mark.parametrize(
    "bad",
    [
        {"learning_rate": 0.0},
        {"batch_size": 0},
        {"epochs": 0},
        {"optimizer": "adagrad"},
        {"lr_schedule": "step"},
        {"label_smoothing": 1.0},
        {"augment_shift": 9},
    ],
)
def test_invalid_training_config_raises_value_error(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainConfig(**bad)


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "adamw", "weight_decay": 1e-4, "lr_schedule": "one_cycle"},
        {"optimizer": "sgd", "learning_rate": 0.05, "lr_schedule": "cosine"},
        {"optimizer": "rmsprop", "weight_decay": 1e-5},
        {"label_smoothing": 0.1, "augment_flip": True, "augment_shift": 2},
    ],
    ids=["adamw-one-cycle", "sgd-cosine", "rmsprop", "smoothing-augmentation"],
)
def test_opt_in_training_options_learn(small_splits, options):
    result = train(ModelConfig(activation="relu"), TrainConfig(epochs=2, **options), small_splits)
    assert result.best_val_accuracy > 0.4  # ten classes: chance is 0.1
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_one_cycle_schedule_warms_up_then_anneals():
    from lenet.training import make_schedule

    schedule = make_schedule(TrainConfig(lr_schedule="one_cycle", epochs=10), 100)
    rates = [float(schedule(step)) for step in (0, 300, 999)]
    assert rates[0] == pytest.approx(1e-3 / 25)
    assert rates[1] == pytest.approx(1e-3, rel=1e-3)
    assert rates[2] < rates[0]


@pytest.mark.parametrize("lr_schedule", ["cosine", "one_cycle"])
def test_a_schedule_from_a_later_epoch_reads_the_whole_schedule_from_there(lr_schedule):
    from lenet.training import make_schedule

    config = TrainConfig(lr_schedule=lr_schedule, epochs=10)
    whole, resumed = make_schedule(config, 100), make_schedule(config, 100, start_epoch=4)
    for step in (0, 150, 599):
        assert float(resumed(step)) == pytest.approx(float(whole(step + 400)))
    assert make_schedule(TrainConfig(), 100, start_epoch=4) == 1e-3  # constant stays constant


@pytest.mark.slow
def test_training_continues_a_given_model_for_the_remaining_epochs(small_splits):
    config = TrainConfig(epochs=3, lr_schedule="cosine", seed=1)
    first = train(ModelConfig(), replace(config, epochs=1), small_splits)
    before = [w.copy() for w in first.model.get_weights()]
    result = train(ModelConfig(), config, small_splits, model=first.model, initial_epoch=1)
    assert result.model is first.model
    assert len(result.seconds_per_epoch) == 2 == len(result.history["val_accuracy"])
    after = result.model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # The optimizer counted 2 epochs of steps, and the cosine reached the end of 3 epochs.
    assert float(result.model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("compiled_epochs", [False, True], ids=["fit", "compiled-epochs"])
def test_epoch_trainer_trains_one_more_epoch_per_call(small_splits, compiled_epochs):
    if compiled_epochs and keras.backend.backend() != "jax":
        pytest.skip("compiled epochs are JAX's")
    config = TrainConfig(batch_size=500, compiled_epochs=compiled_epochs)
    model = compile_model(build_model(ModelConfig()), config)
    next_epoch = epoch_trainer(model, config, small_splits.x_train, small_splits.y_train)
    weights = [w.copy() for w in model.get_weights()]
    for epochs in (1, 2):
        next_epoch()
        assert int(model.optimizer.iterations) == epochs * 4  # 2,000 images in 4 steps
        after = model.get_weights()
        assert any(not np.array_equal(a, b) for a, b in zip(weights, after, strict=True))
        weights = after


def test_epoch_trainer_refuses_a_model_not_compiled(small_splits):
    with pytest.raises(ValueError, match="compile_model"):
        epoch_trainer(
            build_model(ModelConfig()),
            TrainConfig(),
            small_splits.x_train[:10],
            small_splits.y_train[:10],
        )


@pytest.mark.parametrize(
    ("initial_epoch", "model_given", "message"),
    [(1, False, "pass the model"), (3, True, "initial_epoch must be"), (-1, True, "must be")],
)
def test_bad_initial_epoch_raises_value_error(small_splits, initial_epoch, model_given, message):
    from lenet import build_model

    model = build_model(ModelConfig()) if model_given else None
    with pytest.raises(ValueError, match=message):
        train(
            ModelConfig(),
            TrainConfig(epochs=3),
            small_splits,
            model=model,
            initial_epoch=initial_epoch,
        )


def test_flip_augmentation_mirrors_images_and_nothing_else(small_splits):
    from lenet.training import make_augmentation

    augment = make_augmentation(TrainConfig(augment_flip=True))
    x = small_splits.x_train[:64]
    out = np.asarray(augment(x, training=True))
    mirrored = [np.array_equal(o, a[:, ::-1]) for o, a in zip(out, x, strict=True)]
    unchanged = [np.array_equal(o, a) for o, a in zip(out, x, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 0 < sum(mirrored) < 64
    assert make_augmentation(TrainConfig()) is None


@pytest.mark.slow
def test_batch_norm_model_trains_and_keeps_layer_names(small_splits):
    result = train(
        ModelConfig(activation="relu", batch_norm=True), TrainConfig(epochs=2), small_splits
    )
    names = {layer.name for layer in result.model.layers}
    assert {"C1", "C1_bn", "C3", "C5", "F6", "F6_bn"} <= names
    assert result.best_val_accuracy > 0.4


@pytest.mark.slow
@tensorflow_only
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1], ids=["sparse-labels", "one-hot-labels"])
def test_each_model_traces_its_train_step_once_and_trains_as_keras_would(
    small_splits, monkeypatch, label_smoothing
):
    import lenet.backends.tensorflow

    traces = []
    train_step = keras.Model.train_step

    def counted(self, data):
        traces.append(self)
        return train_step(self, data)

    monkeypatch.setattr(keras.Model, "train_step", counted)
    config = TrainConfig(epochs=2, seed=5, label_smoothing=label_smoothing)
    ours = train(ModelConfig(dropout_rate=0.2), config, small_splits)
    # Variables created while tracing make tf.function trace a second time.
    assert len(traces) == 1
    # Without building the optimizer and metrics first, Keras builds them itself, the same.
    monkeypatch.setattr(lenet.backends.tensorflow, "prepare_training", lambda model, inputs: None)
    traces.clear()
    keras_own = train(ModelConfig(dropout_rate=0.2), config, small_splits)
    assert len(traces) == 2
    assert ours.history == keras_own.history
