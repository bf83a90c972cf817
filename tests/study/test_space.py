from __future__ import annotations

import dataclasses

import optuna
import pytest

from lenet import ModelConfig, TrainConfig
from study.space import DEFAULT_SPACE, space_to_json, suggest, to_configs


def test_parameter_names_are_config_field_names():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    fields |= {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(DEFAULT_SPACE) <= fields
    assert set(DEFAULT_SPACE) == {
        "activation",
        "learning_rate",
        "batch_size",
        "dropout_rate",
        "c1_filters",
        "c3_filters",
    }


def test_sampled_parameters_lie_in_the_space_and_build_valid_configs():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, DEFAULT_SPACE)
        for name, value in params.items():
            assert DEFAULT_SPACE[name]._contains(DEFAULT_SPACE[name].to_internal_repr(value))
        model_config, train_config = to_configs(params, ModelConfig(), TrainConfig(epochs=3))
        assert model_config.c1_filters == params["c1_filters"]
        assert train_config.learning_rate == params["learning_rate"]
        assert train_config.epochs == 3
        study.tell(trial, 0.5)


def test_fixed_trial_rebuilds_the_same_configs_from_stored_params():
    params = {
        "activation": "relu",
        "learning_rate": 3e-3,
        "batch_size": 64,
        "dropout_rate": 0.25,
        "c1_filters": 8,
        "c3_filters": 24,
    }
    assert suggest(optuna.trial.FixedTrial(params), DEFAULT_SPACE) == params
    assert ModelConfig.from_params(params).dropout_rate == 0.25


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="momentum"):
        to_configs({"momentum": 0.9}, ModelConfig(), TrainConfig())


def test_space_description_is_stable_json():
    assert space_to_json(DEFAULT_SPACE) == space_to_json(dict(reversed(DEFAULT_SPACE.items())))
    assert space_to_json(DEFAULT_SPACE)["learning_rate"]["attributes"]["log"] is True
