"""The search space, declared once as Optuna distributions, and its translation to configs.

Parameter names equal the ``ModelConfig`` / ``TrainConfig`` field names, so a trial's
``params`` rebuild its model with ``ModelConfig.from_params(trial.params)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)

if TYPE_CHECKING:  # lenet imports TensorFlow; the CLI's --help should not wait for it
    from lenet import ModelConfig, TrainConfig

SearchSpace = Mapping[str, BaseDistribution]

DEFAULT_SPACE: SearchSpace = MappingProxyType(
    {
        "activation": CategoricalDistribution(("relu", "tanh", "elu", "swish")),
        "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
        "batch_size": CategoricalDistribution((32, 64, 128, 256)),
        "dropout_rate": FloatDistribution(0.0, 0.5),
        "c1_filters": IntDistribution(4, 32, step=2),  # classic: 6
        "c3_filters": IntDistribution(8, 64, step=4),  # classic: 16
    }
)


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Samples every parameter of ``space`` through the trial's public ``suggest_*`` API."""
    params: dict[str, Any] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        elif isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            raise ValueError(f"unsupported distribution for {name!r}: {dist!r}")
    return params


def to_configs(
    params: Mapping[str, Any], base_model: ModelConfig, base_train: TrainConfig
) -> tuple[ModelConfig, TrainConfig]:
    """Overlays sampled parameters on base configs; names not in either config are an error."""
    model_fields = base_model.to_dict()
    train_fields = base_train.to_dict()
    unknown = set(params) - set(model_fields) - set(train_fields)
    if unknown:
        raise ValueError(f"parameters {sorted(unknown)} are not ModelConfig or TrainConfig fields")
    return (
        type(base_model).from_params({**model_fields, **params}),
        type(base_train).from_params({**train_fields, **params}),
    )


def space_to_json(space: SearchSpace) -> dict[str, Any]:
    """A JSON-able description, stored in the study manifest to detect a changed space."""
    return {name: json.loads(distribution_to_json(dist)) for name, dist in sorted(space.items())}
