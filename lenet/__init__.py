"""LeNet-5 on Fashion-MNIST: data, model and training, with no knowledge of any tuner.

Names are imported on first use, so ``lenet.errors`` and ``lenet.data`` load without Keras
or its backend (the CLI's study-reading commands and the worker supervisor never need them).
Training runs on Keras' TensorFlow or JAX backend; ``lenet.backends`` holds what differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, so that mypy checks their users
    from lenet.backends.tensorflow import make_dataset
    from lenet.data import CLASS_NAMES, FashionMNIST, Splits, load_fashion_mnist, train_val_split
    from lenet.errors import DataError, ModelFileError
    from lenet.evaluate import Evaluation, evaluate_model, summarize_predictions
    from lenet.model import ModelConfig, build_model, count_macs, count_params
    from lenet.predict import NoGarment, classify_file
    from lenet.saving import is_blank, load_model, prepare_image
    from lenet.session import clear_session
    from lenet.training import (
        EpochRecorder,
        OutOfDeviceMemory,
        TrainConfig,
        TrainingDiverged,
        TrainResult,
        compile_model,
        epoch_trainer,
        set_threads,
        train,
    )

_HOMES = {
    "CLASS_NAMES": "lenet.data",
    "FashionMNIST": "lenet.data",
    "Splits": "lenet.data",
    "load_fashion_mnist": "lenet.data",
    "train_val_split": "lenet.data",
    "DataError": "lenet.errors",
    "ModelFileError": "lenet.errors",
    "Evaluation": "lenet.evaluate",
    "evaluate_model": "lenet.evaluate",
    "summarize_predictions": "lenet.evaluate",
    "ModelConfig": "lenet.model",
    "build_model": "lenet.model",
    "count_macs": "lenet.model",
    "count_params": "lenet.model",
    "NoGarment": "lenet.predict",
    "classify_file": "lenet.predict",
    "is_blank": "lenet.saving",
    "load_model": "lenet.saving",
    "prepare_image": "lenet.saving",
    "clear_session": "lenet.session",
    "EpochRecorder": "lenet.training",
    "OutOfDeviceMemory": "lenet.training",
    "TrainConfig": "lenet.training",
    "TrainingDiverged": "lenet.training",
    "TrainResult": "lenet.training",
    "compile_model": "lenet.training",
    "epoch_trainer": "lenet.training",
    "make_dataset": "lenet.backends.tensorflow",
    "set_threads": "lenet.training",
    "train": "lenet.training",
}

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "EpochRecorder",
    "Evaluation",
    "FashionMNIST",
    "ModelConfig",
    "ModelFileError",
    "NoGarment",
    "OutOfDeviceMemory",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "build_model",
    "classify_file",
    "clear_session",
    "compile_model",
    "count_macs",
    "count_params",
    "epoch_trainer",
    "evaluate_model",
    "is_blank",
    "load_fashion_mnist",
    "load_model",
    "make_dataset",
    "prepare_image",
    "set_threads",
    "summarize_predictions",
    "train",
    "train_val_split",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lenet' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
