from __future__ import annotations

import keras
import numpy as np
import pytest

from lenet import ModelConfig, build_model, count_macs, count_params
from lenet.model import ACTIVATIONS

pytestmark = pytest.mark.backends


def test_classic_lenet5_has_61706_parameters_and_lecun_layer_names():
    model = build_model(ModelConfig.classic())
    assert model.count_params() == 61_706
    names = [layer.name for layer in model.layers]
    for name in ("C1", "S2", "C3", "S4", "C5", "F6", "output"):
        assert name in names
    assert model.get_layer("C1").output.shape == (None, 28, 28, 6)
    assert model.get_layer("S4").output.shape == (None, 5, 5, 16)
    assert model.output.shape == (None, 10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pooling", ["average", "max"])
def test_every_variant_maps_images_to_class_probabilities(activation, pooling):
    config = ModelConfig(
        activation, c1_filters=8, c3_filters=12, dropout_rate=0.2, pooling=pooling
    )
    probabilities = np.asarray(build_model(config)(np.zeros((3, 28, 28, 1), np.float32)))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_dropout_layers_exist_only_when_dropout_is_on():
    names = [layer.name for layer in build_model(ModelConfig(dropout_rate=0.3)).layers]
    assert {"C5_dropout", "F6_dropout"} <= set(names)
    names = [layer.name for layer in build_model(ModelConfig()).layers]
    assert not any("dropout" in name for name in names)


@pytest.mark.parametrize(
    "bad",
    [{"activation": "sigmoidal"}, {"pooling": "min"}, {"c1_filters": 0}, {"dropout_rate": 1.0}],
)
def test_invalid_config_raises_value_error_naming_the_field(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ModelConfig(**bad)


def test_from_params_ignores_training_parameters():
    config = ModelConfig.from_params({"c1_filters": 10, "learning_rate": 0.1})
    assert config.c1_filters == 10


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig.classic(),
        ModelConfig(c1_filters=32, c3_filters=32, c5_units=80, batch_norm=True, dropout_rate=0.2),
        ModelConfig(c1_filters=4, c3_filters=64, c5_units=240, f6_units=168, pooling="max"),
    ],
)
def test_closed_form_parameter_count_matches_keras(config):
    assert count_params(config) == build_model(config).count_params()


def _macs_of_built(model) -> int:
    """Multiply-accumulates read off the built layers: output positions x kernel inputs x
    outputs, for every convolution and dense layer."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kh, kw, channels, _ = layer.kernel.shape
            total += height * width * kh * kw * channels * filters
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            total += inputs * units
    return total


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig.classic(),
        ModelConfig(c1_filters=32, c3_filters=32, c5_units=80, batch_norm=True, dropout_rate=0.2),
        ModelConfig(c1_filters=4, c3_filters=64, c5_units=240, f6_units=168, pooling="max"),
    ],
)
def test_closed_form_macs_match_the_built_layers(config):
    assert count_macs(config) == _macs_of_built(build_model(config))


def test_the_classic_lenet5_takes_416520_multiply_accumulates_per_image():
    assert count_macs(ModelConfig.classic()) == 416_520
