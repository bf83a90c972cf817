"""LeNet-5 (LeCun et al. 1998) for 28x28 grayscale images, with tunable widths and activation.

Layer names follow the paper's figure, so ``model.summary()`` reads C1, S2, C3, S4, C5, F6,
output. C5 is a 5x5 convolution over the 5x5 S4 maps, as in the paper (equivalent to a dense
layer over the flattened maps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import partial
from typing import Any

import keras

ACTIVATIONS = ("tanh", "relu", "elu", "selu", "swish", "gelu")
POOLINGS = ("average", "max")
INPUT_SHAPE = (28, 28, 1)  # Fashion-MNIST, channels last
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelConfig:
    """The shape of one LeNet-5 variant. Field names are the Optuna parameter names."""

    activation: str = "tanh"  # one of ACTIVATIONS; the paper used a scaled tanh
    c1_filters: int = 6  # 5x5 feature maps in C1
    c3_filters: int = 16  # 5x5 feature maps in C3
    c5_units: int = 120  # C5 feature maps (1x1 each)
    f6_units: int = 84  # F6 width
    dropout_rate: float = 0.0  # after C5 and F6; 0 disables the layers
    pooling: str = "average"  # S2/S4 subsampling: "average" (the paper's) or "max"
    batch_norm: bool = False  # normalize C1, C3, C5 and F6 before their activation

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("c1_filters", "c3_filters", "c5_units", "f6_units"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")

    @classmethod
    def classic(cls) -> ModelConfig:
        """The original LeNet-5 shape: 61,706 parameters."""
        return cls()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ModelConfig:
        """Builds a config from a dict that may hold other (training) parameters too."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stage(x: Any, make: Callable[..., keras.layers.Layer], name: str, config: ModelConfig) -> Any:
    """One trainable LeNet stage, named as in the paper: ``make(**kwargs)`` builds its layer."""
    if not config.batch_norm:
        return make(activation=config.activation, name=name)(x)
    x = make(use_bias=False, name=name)(x)  # batch normalization's shift replaces the bias
    # Momentum 0.9, not 0.99: short trials must get usable moving statistics in few steps.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.Activation(config.activation, name=f"{name}_act")(x)


def count_params(config: ModelConfig) -> int:
    """The parameter count ``build_model(config).count_params()`` gives, without building it.

    Each stage has its weights plus either a bias per unit or, with batch normalization, four
    per unit (scale, shift and the two moving statistics, which Keras counts too).
    """
    per_unit = 4 if config.batch_norm else 1
    stages = (  # (inputs per unit, units)
        (5 * 5 * 1, config.c1_filters),  # C1 over the one-channel image
        (5 * 5 * config.c1_filters, config.c3_filters),
        (5 * 5 * config.c3_filters, config.c5_units),  # C5 over the 5x5 S4 maps
        (config.c5_units, config.f6_units),
    )
    total = sum(units * (inputs + per_unit) for inputs, units in stages)
    return total + NUM_CLASSES * (config.f6_units + 1)  # the output layer keeps its bias


def count_macs(config: ModelConfig) -> int:
    """Multiply-accumulates per image of the convolutions and dense layers (pooling, biases,
    activations and batch normalization, a small fraction, left out), as papers count them.

    The classic LeNet-5 on 28x28 images: 416,520.
    """
    stages = (  # (output positions, inputs per output, outputs per position)
        (28 * 28, 5 * 5 * 1, config.c1_filters),  # "same" padding keeps 28x28
        (10 * 10, 5 * 5 * config.c1_filters, config.c3_filters),
        (1, 5 * 5 * config.c3_filters, config.c5_units),
        (1, config.c5_units, config.f6_units),
        (1, config.f6_units, NUM_CLASSES),
    )
    return sum(positions * inputs * outputs for positions, inputs, outputs in stages)


def build_model(config: ModelConfig) -> keras.Model:
    """Builds an uncompiled LeNet-5 variant.

    Args:
        config: the variant's shape.

    Returns:
        A functional Keras model from ``(batch, 28, 28, 1)`` float32 images in [0, 1] to
        ``(batch, 10)`` class probabilities.
    """
    pool = (
        keras.layers.AveragePooling2D if config.pooling == "average" else keras.layers.MaxPooling2D
    )
    inputs = keras.Input(INPUT_SHAPE, name="image")
    conv, dense = keras.layers.Conv2D, keras.layers.Dense
    # "same" padding at C1 maps 28x28 input the way the paper's 32x32 did: 28x28 C1 maps.
    x = _stage(inputs, partial(conv, config.c1_filters, 5, padding="same"), "C1", config)
    x = pool(2, name="S2")(x)  # (batch, 14, 14, c1_filters)
    x = _stage(x, partial(conv, config.c3_filters, 5), "C3", config)
    x = pool(2, name="S4")(x)  # (batch, 5, 5, c3_filters)
    x = _stage(x, partial(conv, config.c5_units, 5), "C5", config)
    x = keras.layers.Flatten(name="C5_flat")(x)  # (batch, c5_units)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name="C5_dropout")(x)
    x = _stage(x, partial(dense, config.f6_units), "F6", config)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name="F6_dropout")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="LeNet-5")
