from __future__ import annotations

import dataclasses

import optuna
import pytest

from lenet import ModelConfig, TrainConfig, build_model
from study.space import SPACES_DIR, default_space, load_space, parse_space, suggest, to_configs


def test_default_space_is_the_design_cards_six_parameters_named_as_config_fields():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    fields |= {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(default_space().params) == {
        "activation",
        "learning_rate",
        "batch_size",
        "dropout_rate",
        "c1_filters",
        "c3_filters",
    }
    assert set(default_space().params) <= fields
    assert default_space().max_params is None


@pytest.mark.parametrize("name", ["default.toml", "accurate.toml"])
def test_sampled_parameters_lie_in_the_space_and_build_valid_configs(name):
    space = load_space(SPACES_DIR / name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, space)
        for key, value in params.items():
            dist = space.params[key]
            assert dist._contains(dist.to_internal_repr(value))
        model_config, train_config = to_configs(
            {**space.fixed, **params}, ModelConfig(), TrainConfig(epochs=3)
        )
        assert train_config.epochs == 3
        assert model_config.c1_filters == params["c1_filters"]
        study.tell(trial, 0.5)


def test_accurate_space_keeps_lenet_topology_and_can_fit_the_budget():
    space = load_space(SPACES_DIR / "accurate.toml")
    assert space.max_params == 100_000
    smallest = {
        name: d.low if hasattr(d, "low") else d.choices[0] for name, d in space.params.items()
    }
    model_config, _ = to_configs(smallest, ModelConfig(), TrainConfig())
    model = build_model(model_config)
    assert model.count_params() <= 100_000
    assert [
        n
        for n in ("C1", "S2", "C3", "S4", "C5", "F6", "output")
        if n in {layer.name for layer in model.layers}
    ] == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]


def test_fixed_trial_rebuilds_the_same_configs_from_stored_params():
    params = {
        "activation": "relu",
        "learning_rate": 3e-3,
        "batch_size": 64,
        "dropout_rate": 0.25,
        "c1_filters": 8,
        "c3_filters": 24,
    }
    assert suggest(optuna.trial.FixedTrial(params), default_space()) == params
    assert ModelConfig.from_params(params).dropout_rate == 0.25


def test_a_space_file_with_fixed_values_and_a_budget_parses():
    space = parse_space(
        """
        [params]
        learning_rate = { low = 1e-3, high = 1e-1, log = true }
        augment_shift = { low = 0, high = 2 }
        optimizer = { choices = ["sgd", "adamw"] }
        [fixed]
        batch_norm = true
        [limits]
        max_params = 80_000
        """
    )
    assert isinstance(space.params["augment_shift"], optuna.distributions.IntDistribution)
    assert isinstance(space.params["learning_rate"], optuna.distributions.FloatDistribution)
    assert space.fixed == {"batch_norm": True}
    assert space.max_params == 80_000
    assert space.to_json()["fixed"] == {"batch_norm": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[params]\nmomentum = { low = 0.5, high = 0.9 }", "unknown parameter 'momentum'"),
        ("[params]\nepochs = { low = 1, high = 9 }", "unknown parameter 'epochs'"),
        ("[params]\ndropout_rate = { low = 0.5, high = 0.1 }", "empty range"),
        ("[params]\nlearning_rate = { low = 0.0, high = 0.1, log = true }", "above zero"),
        ("[params]\nlearning_rate = { low = -1e-3, high = 0.1, log = true }", "above zero"),
        ("[params]\nactivation = { choices = [] }", "non-empty list"),
        ("[params]\nc1_filters = { low = 4 }", "'low' and 'high'"),
        ("[params]\nc1_filters = { low = 4, high = 8, spread = 2 }", "'low' and 'high'"),
        ("[params]\nc1_filters = { low = 4, high = 8 }\n[fixed]\nc1_filters = 6", "both"),
        (
            "[params]\nc1_filters = { low = 4, high = 8 }\n[fixed]\nactivation = 'sigmoidal'",
            "activation must be one of",
        ),
        ("[params]\nc1_filters = { low = 4, high = 8 }\n[limits]\nmax_params = 0", "max_params"),
        ("[parameters]\nc1_filters = { low = 4, high = 8 }", "unknown section"),
        ("[params]\n", "empty"),
        ("[params\n", "not valid TOML"),
        ("enqueue = 3\n[params]\nc1_filters = { low = 4, high = 8 }", r"as \[\[enqueue"),
        ("[params]\nc1_filters = { low = 4, high = 8 }\n[[enqueue]]\nc3_filters = 8", "not a"),
        ("[params]\nc1_filters = { low = 4, high = 8 }\n[[enqueue]]\nc1_filters = 10", "outside"),
        (
            "[params]\nc1_filters = { low = 4, high = 8, step = 2 }\n[[enqueue]]\nc1_filters = 5",
            "outside",
        ),
        ("[params]\nc1_filters = { low = 4, high = 8 }\n[[enqueue]]\nc1_filters = 4.5", "outside"),
        (
            "[params]\nbatch_norm = { choices = [true, false] }\n[[enqueue]]\nbatch_norm = 1",
            "outside",
        ),
        (
            "[params]\ndropout_rate = { low = 0.0, high = 0.5, step = 0.1 }\n"
            "[[enqueue]]\ndropout_rate = 0.25",
            "outside",
        ),
    ],
)
def test_invalid_space_files_are_refused_with_one_line(text, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        parse_space(text, "my-space.toml")
    assert str(excinfo.value).startswith("my-space.toml")
    assert "\n" not in str(excinfo.value)


def test_enqueued_points_parse_partially_and_stay_out_of_the_space_identity():
    text = """
        [params]
        c1_filters = { low = 4, high = 8, step = 2 }
        dropout_rate = { low = 0.0, high = 0.5, step = 0.1 }
        activation = { choices = ["relu", "tanh"] }
        """
    points = """
        [[enqueue]]
        c1_filters = 6
        dropout_rate = 0.3
        [[enqueue]]
        activation = "tanh"
        """
    space = parse_space(text + points)
    assert [dict(p) for p in space.enqueue] == [
        {"c1_filters": 6, "dropout_rate": 0.3},
        {"activation": "tanh"},
    ]
    assert space.to_json() == parse_space(text).to_json()


def test_the_published_presets_leave_every_trial_to_the_sampler():
    for name in ("default.toml", "accurate.toml"):
        assert load_space(SPACES_DIR / name).enqueue == ()


def test_missing_space_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read search space"):
        load_space(tmp_path / "nope.toml")


def test_unknown_parameter_is_refused_by_to_configs():
    with pytest.raises(ValueError, match="momentum"):
        to_configs({"momentum": 0.9}, ModelConfig(), TrainConfig())


def test_space_description_is_stable_json():
    space = default_space()
    assert space.to_json()["params"]["learning_rate"]["attributes"]["log"] is True
    assert list(space.to_json()["params"]) == sorted(space.params)


def test_a_space_file_may_name_the_objectives_and_the_command_line_overrides_them(tmp_path):
    from study.settings import RunSettings

    path = tmp_path / "front.toml"
    path.write_text(
        'objectives = ["accuracy", "macs"]\n[params]\nc1_filters = { low = 4, high = 8 }\n'
    )
    assert parse_space(path.read_text()).objectives == ("accuracy", "macs")
    from_file = RunSettings(space_file=path)
    assert (from_file.objectives, from_file.pruner) == (("accuracy", "macs"), "front")
    given = RunSettings(space_file=path, objectives=("accuracy",))
    assert (given.objectives, given.pruner) == (("accuracy",), "hyperband")
    assert parse_space("[params]\nc1_filters = { low = 4, high = 8 }\n").objectives is None
    assert RunSettings().objectives == ("accuracy",)  # a study as before: accuracy alone
    assert RunSettings.pareto().objectives == ("accuracy", "params")
