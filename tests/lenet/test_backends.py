"""The backend modules: how the backend is chosen, JAX's input pipeline, out-of-memory errors,
and models and accuracy that agree across backends."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from lenet import ModelConfig, OutOfDeviceMemory, TrainConfig, backends, build_model, train
from lenet.training import compile_model

OTHER = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"


@pytest.mark.parametrize(
    ("env", "keras_json", "expected"),
    [
        ("jax", {"backend": "tensorflow"}, "jax"),
        (None, {"backend": "jax"}, "jax"),
        (None, None, "tensorflow"),
        (None, "not json", "tensorflow"),
    ],
    ids=["env-first", "keras-json", "default", "unreadable-json"],
)
def test_configured_backend_is_found_the_keras_way(
    monkeypatch, tmp_path, env, keras_json, expected
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    if env is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", env)
    if keras_json is not None:
        text = keras_json if isinstance(keras_json, str) else json.dumps(keras_json)
        (tmp_path / "keras.json").write_text(text)
    assert backends.configured() == expected


def test_by_name_refuses_a_backend_it_does_not_support():
    with pytest.raises(ValueError, match="tensorflow, jax"):
        backends.by_name("torch")


@pytest.mark.backends
def test_translation_keeps_each_image_within_its_shift_and_flips_mirror():
    jax_backend = pytest.importorskip("lenet.backends.jax")
    rng = np.random.default_rng(0)
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 10:18, 10:18] = 1.0  # a square: its centre of mass moves with the shift
    images = np.repeat(image, 200, axis=0)
    shifted = jax_backend.translate(images, 2.0, rng)
    rows = np.arange(28)[None, :, None, None]
    centre = (shifted * rows).sum(axis=(1, 2, 3)) / shifted.sum(axis=(1, 2, 3))
    assert np.all(np.abs(centre - 13.5) <= 2.0 + 1e-4)
    assert np.std(centre) > 0.5  # offsets differ from image to image
    assert shifted.sum(axis=(1, 2, 3)) == pytest.approx(64.0, abs=1e-3)  # nothing falls off
    x = rng.random((64, 28, 28, 1)).astype(np.float32)
    out = jax_backend.augment_batch(x, flip=True, shift=0, rng=rng)
    mirrored = [np.array_equal(o, a[:, ::-1]) for o, a in zip(out, x, strict=True)]
    unchanged = [np.array_equal(o, a) for o, a in zip(out, x, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 0 < sum(mirrored) < 64


@pytest.mark.backends
def test_jax_batches_reshuffle_every_epoch_reproducibly_and_cover_every_image():
    jax_backend = pytest.importorskip("lenet.backends.jax")
    x = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)

    def epochs(seed: int) -> list[list[int]]:
        batches = jax_backend.EpochBatches(x, np.arange(100), batch_size=32, seed=seed)
        labels = []
        for _ in range(2):
            labels.append(np.concatenate([batches[i][1] for i in range(len(batches))]).tolist())
            batches.on_epoch_end()
        return labels

    first, second = epochs(0)
    assert sorted(first) == list(range(100)) == sorted(second)
    assert first != second
    assert epochs(0) == [first, second] != epochs(1)


@pytest.mark.slow
@pytest.mark.backends
def test_fit_trains_on_the_jax_batches_in_their_own_order(small_splits, monkeypatch):
    # Keras reorders a PyDataset's batches unless told not to, from Python's random state,
    # which the TensorFlow and JAX trainers leave in different states before the first epoch.
    jax_backend = pytest.importorskip("lenet.backends.jax")
    asked: list[int] = []
    get = jax_backend.EpochBatches.__getitem__

    def record(self, index):
        asked.append(index)
        return get(self, index)

    monkeypatch.setattr(jax_backend.EpochBatches, "__getitem__", record)
    config = TrainConfig(epochs=2, batch_size=100, steps_per_execution=1)
    x, y = small_splits.x_train[:500], small_splits.y_train[:500]
    model = compile_model(build_model(ModelConfig()), config)
    model.fit(**jax_backend.fit_inputs(x, y, None, config, one_hot=False), epochs=2, verbose=0)
    assert asked[-10:] == [0, 1, 2, 3, 4] * 2  # peeks to build the model come before


@pytest.mark.backends
def test_an_out_of_memory_error_becomes_out_of_device_memory(small_splits, monkeypatch):
    backend = backends.current()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        error: Exception = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    else:
        error = type("XlaRuntimeError", (RuntimeError,), {})("RESOURCE_EXHAUSTED: out of memory")
    assert backend.is_out_of_memory(error)
    assert not backend.is_out_of_memory(RuntimeError("RESOURCE_EXHAUSTED"))

    def fit(*args, **kwargs):
        raise error

    monkeypatch.setattr(keras.Model, "fit", fit)
    with pytest.raises(OutOfDeviceMemory, match="out of GPU memory at batch size 128"):
        train(ModelConfig(), TrainConfig(epochs=1), small_splits)


@pytest.mark.slow
def test_a_model_saved_on_one_backend_loads_and_evaluates_on_the_other(
    small_splits, tmp_path, fresh_python
):
    pytest.importorskip(backends.LIBRARY[OTHER])
    result = train(ModelConfig(activation="relu"), TrainConfig(epochs=1), small_splits)
    path = tmp_path / "model.keras"
    result.model.save(path)
    _, here = result.model.evaluate(small_splits.x_val, small_splits.y_val, verbose=0)
    there = fresh_python(
        f"""
        import keras
        from lenet import evaluate_model, load_fashion_mnist, load_model, train_val_split
        splits = train_val_split(load_fashion_mnist(download=False), train_limit=2000,
                                 val_limit=500)
        model = load_model({str(path)!r})
        evaluation = evaluate_model(model, splits.x_val, splits.y_val)
        print(keras.backend.backend(), evaluation.accuracy)
        """,
        OTHER,
    )
    name, accuracy = there.split()
    assert name == OTHER
    assert float(accuracy) == pytest.approx(here, abs=1e-6)


# Each backend draws initial weights and shuffles from its own random streams; these runs
# take both from NumPy (uniform kernels, zero biases; the batches of lenet.backends.jax).
SAME_START = """
    import numpy as np
    import lenet.backends
    import lenet.training
    from lenet import ModelConfig, TrainConfig, load_fashion_mnist, train, train_val_split

    build_model = lenet.training.build_model

    def same_start(config):
        model = build_model(config)
        rng = np.random.default_rng(0)
        weights = []
        for w in model.get_weights():
            limit = np.sqrt(6 / (np.prod(w.shape[:-1]) + w.shape[-1])) if w.ndim > 1 else 0
            weights.append(rng.uniform(-limit, limit, w.shape).astype(w.dtype))
        model.set_weights(weights)
        return model

    lenet.training.build_model = same_start
    backend = lenet.backends.current()
    backend.fit_inputs = lenet.backends.by_name("jax").fit_inputs
    backend.prepare_training = lambda model, inputs: None
"""
# Deterministic on both backends: label smoothing and the NumPy flips (no dropout).
SAME_CONFIG = "TrainConfig(epochs={epochs}, seed=0, augment_flip=True, label_smoothing=0.1)"


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


@pytest.mark.slow
@pytest.mark.backends
def test_the_backends_compute_the_same_gradients_and_training_steps(tmp_path, fresh_python):
    # Float32 rounding alone: gradients 2.8e-6 apart at most per tensor, weights after 10
    # steps 4e-8; with Keras reordering the batches on each backend, weights were 3.6e-2 apart.
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    code = (
        SAME_START
        + f"""
    import keras
    from lenet.training import compile_model

    splits = train_val_split(load_fashion_mnist(download=False), train_limit=1280,
                             val_limit=100)
    model_config, config = ModelConfig(activation="relu"), {SAME_CONFIG.format(epochs=1)}
    model = compile_model(same_start(model_config), config)
    x, y = backend.fit_inputs(splits.x_train, splits.y_train, None, config, True)["x"][0]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.loss(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
    else:
        import jax

        def loss_of(values):
            return model.loss(y, model.stateless_call(values, [], x, training=True)[0])

        gradients = jax.grad(loss_of)([v.value for v in model.trainable_variables])
    weights = train(model_config, config, splits, validate=False).model.get_weights()
    path = {str(tmp_path)!r} + "/" + keras.backend.backend() + ".npz"
    np.savez(path, *[np.asarray(g) for g in gradients], *weights)
    print(path)
    """
    )
    runs = {b: np.load(fresh_python(code, b)) for b in ("tensorflow", "jax")}
    tf_run, jax_run = ([run[f"arr_{i}"] for i in range(len(run.files))] for run in runs.values())
    n = len(tf_run) // 2  # the gradients, then the weights after 10 steps
    gaps = [_relative(t, j) for t, j in zip(tf_run[:n], jax_run[:n], strict=True)]
    assert max(gaps) < 2e-5, gaps  # per tensor, in the model's weight order
    tf_weights, jax_weights = (
        np.concatenate([w.ravel() for w in r[n:]]) for r in (tf_run, jax_run)
    )
    assert _relative(tf_weights, jax_weights) < 1e-5, _relative(tf_weights, jax_weights)


@pytest.mark.slow
@pytest.mark.backends
def test_one_seeded_configuration_reaches_the_same_accuracy_on_both_backends(fresh_python):
    # The float32 differences above grow from about step 25 on; 4 epochs later the backends
    # were 0.04 to 0.24 points apart (seeds 0-9), where seeds spread each by 0.6 points (std).
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    code = (
        SAME_START
        + f"""
    splits = train_val_split(load_fashion_mnist(download=False), train_limit=8000,
                             val_limit=5000)
    config = {SAME_CONFIG.format(epochs=4)}
    print(train(ModelConfig(activation="relu"), config, splits).best_val_accuracy)
    """
    )
    accuracies = {backend: float(fresh_python(code, backend)) for backend in ("tensorflow", "jax")}
    assert accuracies["tensorflow"] > 0.7  # ten classes: chance is 0.1
    assert abs(accuracies["tensorflow"] - accuracies["jax"]) <= 0.005, accuracies


@pytest.mark.slow
@pytest.mark.backends
def test_with_their_own_random_streams_the_backends_differ_by_about_what_seeds_do(fresh_python):
    # Each backend's own initial weights, shuffles, flips and dropout masks: seeds 0-9 put
    # two runs of one backend up to 2.2 points apart, a run of each up to 2.1 (seed 0: 1.5).
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    code = """
        from lenet import ModelConfig, TrainConfig, load_fashion_mnist, train, train_val_split

        splits = train_val_split(load_fashion_mnist(download=False), train_limit=8000,
                                 val_limit=5000)
        config = TrainConfig(epochs=4, seed=0, augment_flip=True, label_smoothing=0.1)
        model_config = ModelConfig(activation="relu", dropout_rate=0.3)
        print(train(model_config, config, splits).best_val_accuracy)
    """
    accuracies = {backend: float(fresh_python(code, backend)) for backend in ("tensorflow", "jax")}
    assert accuracies["tensorflow"] > 0.7
    assert abs(accuracies["tensorflow"] - accuracies["jax"]) <= 0.025, accuracies
