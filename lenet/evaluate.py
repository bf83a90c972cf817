"""Measuring a classifier: accuracy, loss, per-class precision/recall/F1, confusion matrix.

``summarize_predictions`` works on plain arrays, so it serves the test-set evaluation, the
report and the study's validation confusion matrix alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lenet.data import CLASS_NAMES

if TYPE_CHECKING:  # only annotations: exported models are scored here without Keras
    import keras

    from lenet.runtime import RuntimeModel


@dataclass(frozen=True)
class Evaluation:
    """How a model did on one labelled set."""

    accuracy: float
    loss: float  # mean sparse categorical cross-entropy
    per_class: list[dict[str, Any]]  # class, name, precision, recall, f1, support
    confusion: list[list[int]]  # confusion[true][predicted]
    n_images: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A fixed-width table for the terminal."""
        lines = [f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
        for row in self.per_class:
            lines.append(
                f"{row['name']:<12} {row['precision']:>9.4f} {row['recall']:>7.4f} "
                f"{row['f1']:>7.4f} {row['support']:>8}"
            )
        lines.append(
            f"accuracy {self.accuracy:.4f}  loss {self.loss:.4f}  ({self.n_images} images)"
        )
        lines.append("confusion matrix (rows: true class, columns: predicted class)")
        for name, counts in zip(CLASS_NAMES, self.confusion, strict=True):
            lines.append(f"{name:<12} " + " ".join(f"{n:>5}" for n in counts))
        return "\n".join(lines)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows the true class, columns the predicted one."""
    return np.bincount(
        np.asarray(y_true) * n_classes + np.asarray(y_pred), minlength=n_classes**2
    ).reshape(n_classes, n_classes)


def summarize_predictions(y_true: np.ndarray, probabilities: np.ndarray) -> Evaluation:
    """Scores class probabilities ``(n, 10)`` against integer labels ``(n,)``."""
    y_true = np.asarray(y_true)
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, probabilities.shape[1])
    true_positives = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    # Same clipping as Keras' sparse categorical cross-entropy on probabilities.
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    per_class = [
        {
            "class": c,
            "name": CLASS_NAMES[c],
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
        }
        for c in range(len(matrix))
    ]
    return Evaluation(
        accuracy=float((y_pred == y_true).mean()),
        loss=float(-np.log(picked).mean()),
        per_class=per_class,
        confusion=matrix.tolist(),
        n_images=len(y_true),
    )


def evaluate_model(
    model: keras.Model | RuntimeModel, x: np.ndarray, y: np.ndarray, batch_size: int = 1000
) -> Evaluation:
    """Predicts ``x`` (``(n, 28, 28, 1)`` float32 in [0, 1]) and scores it against ``y``;
    ``model`` is a Keras model or an exported one (``lenet.runtime``)."""
    return summarize_predictions(y, model.predict(x, batch_size=batch_size, verbose=0))
