from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from lenet import ModelConfig, TrainConfig, count_macs, count_params
from study.artifacts import artifact_store
from study.objective import BUDGET_CONSTRAINT, Objective, PruningCallback

GOOD = {
    "activation": "relu",
    "learning_rate": 3e-3,
    "batch_size": 64,
    "dropout_rate": 0.0,
    "c1_filters": 6,
    "c3_filters": 16,
}


def _study(**kwargs) -> optuna.Study:
    return optuna.create_study(direction="maximize", **kwargs)


@pytest.mark.slow
@pytest.mark.backends
def test_one_real_trial_returns_its_best_epoch_and_keeps_its_model(small_splits, tmp_path):
    store = artifact_store(tmp_path, create=True)
    study = _study()
    study.enqueue_trial(GOOD)
    study.optimize(
        Objective(small_splits, TrainConfig(epochs=2), artifact_store=store), n_trials=1
    )
    trial = study.trials[0]
    history = trial.user_attrs["history"]
    assert trial.state == TrialState.COMPLETE
    assert trial.value == max(history["val_accuracy"]) > 0.5
    assert trial.user_attrs["best_epoch"] == 1 + history["val_accuracy"].index(trial.value)
    assert trial.user_attrs["n_params"] == 61_706
    assert trial.user_attrs["n_macs"] == 416_520  # the classic LeNet-5's, as GOOD is
    assert trial.user_attrs["epochs_run"] == 2
    assert trial.user_attrs["worker_rss_mib"] > 100  # TensorFlow alone takes more
    assert trial.user_attrs["end"] == "completed"
    assert "warmup_epochs" not in trial.user_attrs  # a constant learning rate
    metas = optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)
    assert [m.filename for m in metas] == ["trial-0.keras"]
    assert (tmp_path / "artifacts" / trial.user_attrs["model_artifact_id"]).stat().st_size > 0


@pytest.mark.slow
@pytest.mark.backends
def test_median_pruner_prunes_a_hopeless_trial_and_leaves_no_model(small_splits, tmp_path):
    study = _study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    study.enqueue_trial(GOOD)
    study.enqueue_trial({**GOOD, "learning_rate": 1e-4, "batch_size": 256, "activation": "tanh"})
    objective = Objective(
        small_splits, TrainConfig(epochs=3), artifact_store=artifact_store(tmp_path, create=True)
    )
    study.optimize(objective, n_trials=2)
    pruned = study.trials[1]
    assert pruned.state == TrialState.PRUNED
    assert pruned.user_attrs["end"] == "pruned at epoch 1"
    assert len(pruned.user_attrs["history"]["val_accuracy"]) == 1
    assert "model_artifact_id" not in pruned.user_attrs
    assert len(list((tmp_path / "artifacts").iterdir())) == 1


@pytest.mark.slow
@pytest.mark.backends
def test_a_trial_with_a_warmup_tells_the_pruner_how_long_it_is(small_splits):
    study = _study()
    study.enqueue_trial(GOOD)
    base = TrainConfig(epochs=1, lr_schedule="one_cycle")
    study.optimize(Objective(small_splits, base), n_trials=1)
    assert study.trials[0].user_attrs["warmup_epochs"] == base.warmup_epochs == 1


@pytest.mark.slow
@pytest.mark.backends
def test_diverging_trial_fails_with_its_reason_and_never_becomes_best(small_splits):
    from lenet import TrainingDiverged

    study = _study()
    study.enqueue_trial({**GOOD, "learning_rate": 1e20})
    study.optimize(
        Objective(small_splits, TrainConfig(epochs=1)), n_trials=1, catch=(TrainingDiverged,)
    )
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert "loss became" in trial.user_attrs["end"]
    with pytest.raises(ValueError):
        study.best_trial  # noqa: B018


def test_a_model_over_the_parameter_budget_is_pruned_before_training(small_splits):
    from study.space import parse_space

    space = parse_space(
        "[params]\nc3_filters = { low = 60, high = 64, step = 4 }\n[limits]\nmax_params = 100000"
    )
    study = _study()
    study.optimize(Objective(small_splits, TrainConfig(epochs=1), space=space), n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["n_params"] > 100_000
    assert trial.user_attrs["end"].startswith("pruned before training")
    assert "history" not in trial.user_attrs
    # The sampler is told how far over: Optuna's constrained TPE ranks it infeasible.
    assert trial.constraints[BUDGET_CONSTRAINT] == trial.user_attrs["n_params"] - 100_000


class _AlwaysPrune:
    """A trial stand-in whose pruner always says prune; it records what was reported."""

    def __init__(self) -> None:
        self.reported: dict[int, float] = {}

    def report(self, value: float, step: int) -> None:
        self.reported[step] = value

    def should_prune(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("schedule", "first_pruned_epoch"), [("constant", 1), ("cosine", 1), ("one_cycle", 4)]
)
def test_pruning_waits_for_the_learning_rate_warm_up(schedule, first_pruned_epoch):
    config = TrainConfig(epochs=10, lr_schedule=schedule)  # one_cycle warms up 3 of 10 epochs
    trial = _AlwaysPrune()
    callback = PruningCallback(trial, config.epochs, config.warmup_epochs)  # type: ignore[arg-type]
    for epoch in range(first_pruned_epoch - 1):
        callback.on_epoch_end(epoch, {"val_accuracy": 0.5})
    with pytest.raises(optuna.TrialPruned):
        callback.on_epoch_end(first_pruned_epoch - 1, {"val_accuracy": 0.5})
    assert sorted(trial.reported) == list(range(first_pruned_epoch))


@pytest.mark.slow
def test_a_trial_that_trained_every_epoch_is_never_pruned(small_splits):
    class PruneEverything(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = _study(pruner=PruneEverything())
    study.enqueue_trial(GOOD)
    study.optimize(Objective(small_splits, TrainConfig(epochs=1)), n_trials=1)
    assert study.trials[0].state == TrialState.COMPLETE
    assert study.trials[0].intermediate_values == {0: study.trials[0].value}


@pytest.mark.parametrize("failing", ["set_trial_system_attr", "set_trial_user_attr"])
def test_a_model_the_trial_cannot_register_leaves_no_file(tmp_path, monkeypatch, failing):
    from types import SimpleNamespace

    from lenet import ModelConfig, build_model
    from study.objective import save_trial_model

    store = artifact_store(tmp_path, create=True)
    study = _study()
    trial = study.ask()
    model = SimpleNamespace(model=build_model(ModelConfig.classic()))

    def storage_fails(*args, **kwargs):  # the database's write, after the file is written
        raise optuna.exceptions.StorageInternalError("database is locked")

    monkeypatch.setattr(optuna.storages.InMemoryStorage, failing, storage_fails)
    with pytest.raises(optuna.exceptions.StorageInternalError):
        save_trial_model(trial, model, store)  # type: ignore[arg-type]
    assert not list((tmp_path / "artifacts").iterdir())


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize(("size", "count"), [("params", count_params), ("macs", count_macs)])
def test_a_trial_with_a_size_objective_returns_its_accuracy_and_closed_form_size(
    small_splits, size, count
):
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(GOOD)
    study.optimize(
        Objective(small_splits, TrainConfig(epochs=2), objectives=("accuracy", size)),
        n_trials=1,
    )
    trial = study.trials[0]
    model = ModelConfig.from_params(GOOD)
    assert trial.values == [max(trial.user_attrs["history"]["val_accuracy"]), count(model)]
    assert trial.intermediate_values == {}  # Optuna takes no reports from such a trial


class _FrontSays:
    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after
        self.asked: list[tuple[float, list[float]]] = []

    def should_stop(self, study, size, curve):
        self.asked.append((size, list(curve)))
        return len(curve) >= self.stop_after


def test_a_multi_objective_trial_asks_the_front_pruner_with_its_curve_and_reports_nothing():
    trial = _AlwaysPrune()
    trial.study = None  # type: ignore[attr-defined]
    front = _FrontSays(stop_after=3)
    callback = PruningCallback(trial, 10, front=(front, 1234.0))  # type: ignore[arg-type]
    callback.on_epoch_end(0, {"val_accuracy": 0.5})
    callback.on_epoch_end(1, {"val_accuracy": 0.6})
    with pytest.raises(optuna.TrialPruned, match="epoch 3"):
        callback.on_epoch_end(2, {"val_accuracy": 0.55})
    assert front.asked[-1] == (1234.0, [0.5, 0.6, 0.55])
    assert trial.reported == {}
