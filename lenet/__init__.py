"""LeNet-5 on Fashion-MNIST: data, model and training, with no knowledge of any tuner."""

from __future__ import annotations

from lenet.data import (
    CLASS_NAMES,
    DataError,
    FashionMNIST,
    Splits,
    load_fashion_mnist,
    train_val_split,
)
from lenet.evaluate import Evaluation, evaluate_model, summarize_predictions
from lenet.model import ModelConfig, build_model
from lenet.saving import ModelFileError, load_model, prepare_image
from lenet.session import clear_session
from lenet.train import (
    EpochRecorder,
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    make_dataset,
    set_threads,
    train,
)

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "EpochRecorder",
    "Evaluation",
    "FashionMNIST",
    "ModelConfig",
    "ModelFileError",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "build_model",
    "clear_session",
    "evaluate_model",
    "load_fashion_mnist",
    "load_model",
    "make_dataset",
    "prepare_image",
    "set_threads",
    "summarize_predictions",
    "train",
    "train_val_split",
]
