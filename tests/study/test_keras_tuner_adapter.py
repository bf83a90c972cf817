"""KerasTuner on our search space: the translation, the parameter budget, Hyperband's rounds."""

from __future__ import annotations

import time

import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from lenet import ModelConfig, Splits, TrainConfig, count_params  # noqa: E402
from study.bench import keras_tuner_adapter as adapter  # noqa: E402
from study.space import _contains, default_space, parse_space  # noqa: E402

# Every kind of parameter a space file can declare.
EVERY_KIND = parse_space(
    """
[params]
activation = { choices = ["relu", "tanh", "elu"] }   # strings
batch_size = { choices = [64, 128, 256] }           # integers
batch_norm = { choices = [true, false] }             # booleans
augment_flip = { choices = [true] }                  # one boolean
c1_filters = { low = 4, high = 32, step = 2 }       # integers on a step
c5_units = { low = 16, high = 256, log = true }     # integers on a log scale
dropout_rate = { low = 0.0, high = 0.5, step = 0.1 } # floats on a step
learning_rate = { low = 1e-4, high = 1e-2, log = true }  # floats on a log scale
label_smoothing = { low = 0.0, high = 0.15 }        # floats
[fixed]
pooling = "max"
""",
    "every-kind.toml",
)


def _declared() -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    adapter.declare(hp, EVERY_KIND)
    return hp


def test_each_kind_of_parameter_becomes_its_keras_tuner_twin():
    declared = {p.name: p for p in _declared().space}
    kinds = {name: type(p).__name__ for name, p in declared.items()}
    assert kinds == {
        "activation": "Choice",
        "batch_size": "Choice",
        "batch_norm": "Boolean",
        "augment_flip": "Fixed",
        "c1_filters": "Int",
        "c5_units": "Int",
        "dropout_rate": "Float",
        "learning_rate": "Float",
        "label_smoothing": "Float",
    }
    config = {name: p.get_config() for name, p in declared.items()}
    assert config["activation"]["values"] == ["relu", "tanh", "elu"]
    assert config["batch_size"]["values"] == [64, 128, 256]
    assert config["augment_flip"]["value"] is True
    assert (config["c1_filters"]["min_value"], config["c1_filters"]["max_value"]) == (4, 32)
    assert (config["c1_filters"]["step"], config["c1_filters"]["sampling"]) == (2, "linear")
    assert (config["c5_units"]["step"], config["c5_units"]["sampling"]) == (None, "log")
    assert (config["dropout_rate"]["step"], config["dropout_rate"]["sampling"]) == (0.1, "linear")
    assert config["learning_rate"]["min_value"] == 1e-4
    assert config["learning_rate"]["max_value"] == 1e-2
    assert (config["learning_rate"]["step"], config["learning_rate"]["sampling"]) == (None, "log")
    assert (config["label_smoothing"]["step"], config["label_smoothing"]["sampling"]) == (
        None,
        "linear",
    )


def _samples(name: str, n: int = 400) -> list:
    declared = {p.name: p for p in _declared().space}
    return [declared[name].random_sample(seed) for seed in range(n)]


@pytest.mark.parametrize("name", sorted(EVERY_KIND.params))
def test_keras_tuner_samples_only_values_the_study_could_sample(name):
    distribution = EVERY_KIND.params[name]
    samples = _samples(name)
    outside = [value for value in samples if not _contains(distribution, value)]
    assert outside == []  # type included: a boolean must stay a bool, not 0 or 1
    choices = getattr(distribution, "choices", None)
    assert len(set(samples)) == len(choices) if choices else len(set(samples)) > 1


@pytest.mark.parametrize(("name", "geometric_mean"), [("learning_rate", 1e-3), ("c5_units", 64)])
def test_log_ranges_are_sampled_on_a_log_scale(name, geometric_mean):
    # Half the samples lie below the geometric mean on a log scale; on a linear one, a tenth
    # (learning_rate) or a fifth (c5_units).
    below = np.mean([value < geometric_mean for value in _samples(name)])
    assert 0.4 < below < 0.6


def test_the_hypermodel_builds_configs_from_a_trials_values_and_the_fixed_ones(small_splits):
    hp = _declared()
    hp.values.update(
        activation="elu", batch_norm=False, c1_filters=10, learning_rate=3e-3, batch_size=64
    )
    hypermodel = adapter.LeNetHyperModel(EVERY_KIND, small_splits, TrainConfig(epochs=2))
    model_config, train_config = hypermodel.configs(hp)
    assert (model_config.activation, model_config.c1_filters) == ("elu", 10)
    assert model_config.batch_norm is False and model_config.pooling == "max"
    assert (train_config.learning_rate, train_config.batch_size) == (3e-3, 64)
    assert train_config.epochs == 2


BUDGETED = parse_space(
    """
[params]
c5_units = { low = 60, high = 240, step = 20 }
[limits]
max_params = 50_000
""",
    "budgeted.toml",
)


def test_a_model_over_the_budget_is_refused_one_under_it_is_not(small_splits):
    hypermodel = adapter.LeNetHyperModel(BUDGETED, small_splits, TrainConfig())
    hp = keras_tuner.HyperParameters()
    adapter.declare(hp, BUDGETED)
    hp.values["c5_units"] = 60
    assert count_params(ModelConfig(c5_units=60)) <= 50_000
    hypermodel.check_budget(hp)
    hp.values["c5_units"] = 240
    over = count_params(ModelConfig(c5_units=240))
    assert over > 50_000
    with pytest.raises(keras_tuner.errors.FailedTrialError, match=f"{over} parameters"):
        hypermodel.check_budget(hp)


def test_the_tuner_never_trains_a_model_over_the_budget(small_splits, tmp_path, monkeypatch):
    space = parse_space(
        """
[params]
c5_units = { low = 200, high = 240, step = 20 }
[limits]
max_params = 10_000
""",
        "over.toml",
    )

    def refuse(*args, **kwargs):
        raise AssertionError("trained a model over the budget")

    monkeypatch.setattr(adapter, "train", refuse)
    start = time.time()
    finished = adapter.search(
        space, small_splits, TrainConfig(epochs=1), start, start + 3, tmp_path
    )
    assert finished  # the search ran trials, and refused each
    assert all(trial.val_accuracy is None for trial in finished)


@pytest.mark.slow
def test_hyperband_rounds_continue_their_models_through_lenet_train(
    small_splits, tmp_path, monkeypatch
):
    calls = []
    real_train = adapter.train

    def recorded(*args, **kwargs):
        result = real_train(*args, **kwargs)
        calls.append((kwargs["initial_epoch"], len(result.seconds_per_epoch)))
        return result

    monkeypatch.setattr(adapter, "train", recorded)
    splits = Splits(
        small_splits.x_train[:200],
        small_splits.y_train[:200],
        small_splits.x_val[:100],
        small_splits.y_val[:100],
    )
    start = time.time()
    tuner = adapter.DeadlineHyperband(
        adapter.LeNetHyperModel(default_space(), splits, TrainConfig(epochs=3)),
        start=start,
        deadline=start + 600,
        objective=adapter.OBJECTIVE,
        max_epochs=3,
        factor=3,
        hyperband_iterations=1,
        seed=0,
        directory=str(tmp_path),
        project_name="rounds",
    )
    tuner.search(verbose=0)
    # max_epochs 3, factor 3: three 1-epoch models, the best continued to epoch 3, and two
    # 3-epoch models.
    assert sorted(calls) == [(0, 1), (0, 1), (0, 1), (0, 3), (0, 3), (1, 2)]
    assert [trial.epochs for trial in tuner.finished] == [1, 1, 1, 3, 3, 3]
    assert all(0 < trial.val_accuracy <= 1 for trial in tuner.finished)
