from __future__ import annotations

import gc

import pytest

from lenet import ModelConfig, TrainConfig, clear_session, train

# The workaround is TensorFlow's (lenet/backends/tensorflow.py); JAX keeps no such graphs.
ops = pytest.importorskip("tensorflow.python.framework.ops")


def _live_graphs() -> int:
    gc.collect()
    return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())


@pytest.mark.slow
def test_clear_session_frees_every_trained_models_graphs(small_splits):
    # keras.backend.clear_session() alone keeps each model's train graph alive through
    # TensorFlow's gradient registry: this count grew by two graphs per model.
    counts = []
    for seed in range(3):
        train(ModelConfig(), TrainConfig(epochs=1, seed=seed), small_splits)
        clear_session()
        counts.append(_live_graphs())
    assert counts[2] == counts[0]
    assert not [n for n in ops._gradient_registry._registry if n.startswith("CustomGradient-")]


@pytest.mark.slow
def test_a_model_trains_again_after_clear_session(small_splits):
    train(ModelConfig(), TrainConfig(epochs=1), small_splits)
    clear_session()
    history = train(ModelConfig(), TrainConfig(epochs=2), small_splits).history
    assert history["loss"][1] < history["loss"][0]
    assert history["val_accuracy"][1] > 0.3  # chance is 0.1
