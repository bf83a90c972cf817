from __future__ import annotations

import numpy as np
import pytest

from lenet import ModelConfig, TrainConfig, evaluate_model, summarize_predictions, train
from lenet.evaluate import confusion_matrix

pytestmark = pytest.mark.backends


def test_perfect_and_wrong_predictions_score_as_expected():
    y = np.array([0, 1, 2, 2])
    probabilities = np.eye(10)[[0, 1, 2, 1]]
    evaluation = summarize_predictions(y, probabilities)
    assert evaluation.accuracy == 0.75
    assert evaluation.confusion[2][1] == 1 and evaluation.confusion[2][2] == 1
    row = evaluation.per_class[2]
    assert (row["precision"], row["recall"], row["support"]) == (1.0, 0.5, 2)
    assert row["f1"] == pytest.approx(2 / 3)
    assert evaluation.per_class[1]["precision"] == 0.5
    assert evaluation.per_class[5] == {
        "class": 5,
        "name": "Sandal",
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
    }


def test_confusion_matrix_counts_every_pair():
    matrix = confusion_matrix(np.array([3, 3, 4]), np.array([3, 4, 4]))
    assert matrix.sum() == 3 and matrix[3, 4] == 1 and matrix[4, 4] == 1


@pytest.mark.slow
def test_evaluation_matches_keras_own_evaluate(small_splits):
    model = train(ModelConfig(), TrainConfig(epochs=1), small_splits).model
    loss, accuracy = model.evaluate(small_splits.x_val, small_splits.y_val, verbose=0)
    ours = evaluate_model(model, small_splits.x_val, small_splits.y_val)
    assert ours.accuracy == pytest.approx(accuracy, abs=1e-6)
    assert ours.loss == pytest.approx(loss, rel=1e-4)
    assert "Ankle boot" in ours.table()
