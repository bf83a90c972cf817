"""Screening TPE's random start-up trials, and the pruners ``run --pruner`` builds."""

from __future__ import annotations

import optuna
import pytest

from study.samplers import FrontReach, ScreenedStartup, make_pruner, make_sampler


def _study(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    return optuna.create_study(direction="maximize", pruner=pruner)


def _train(study: optuna.Study, curve: list[float]) -> str:
    """One trial reporting ``curve`` epoch by epoch, asking the pruner after each as the
    objective's callback does; returns ``"pruned at N"`` or ``"complete"``."""
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(value, step)
        if step + 1 < len(curve) and trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return f"pruned at {step + 1}"
    study.tell(trial, curve[-1])
    return "complete"


def test_a_startup_trial_goes_on_past_the_screen_only_while_it_leads():
    study = _study(ScreenedStartup(optuna.pruners.NopPruner(), trials=4, epochs=2))
    assert _train(study, [0.5, 0.6, 0.7, 0.8]) == "complete"  # nothing to trail yet
    assert _train(study, [0.5, 0.55, 0.9, 0.95]) == "pruned at 2"  # behind at epoch 2
    assert _train(study, [0.4, 0.65, 0.7, 0.75]) == "complete"  # ahead at epoch 2
    assert _train(study, [0.4, 0.65, 0.7, 0.75]) == "complete"  # a tie does not trail
    # Past the start-up trials, only the inner pruner decides: here, never.
    assert _train(study, [0.1, 0.1, 0.1, 0.1]) == "complete"


def test_a_startup_trial_is_screened_against_later_reports_of_earlier_trials():
    # Two workers: trial 1 passes epoch 2 before trial 0 has got there, then trails it.
    study = _study(ScreenedStartup(optuna.pruners.NopPruner(), trials=10, epochs=2))
    first, second = study.ask(), study.ask()
    for step, value in enumerate([0.5, 0.6]):
        second.report(value, step)
    assert not second.should_prune()
    first.report(0.5, 0)
    first.report(0.7, 1)
    assert not first.should_prune()
    second.report(0.65, 2)
    assert second.should_prune()


def test_a_trial_with_a_warmup_is_screened_at_its_first_epoch_after_it():
    study = _study(ScreenedStartup(optuna.pruners.NopPruner(), trials=10, epochs=2))
    assert _train(study, [0.5, 0.8, 0.82, 0.84, 0.86, 0.87]) == "complete"
    for curve, outcome in [
        ([0.3, 0.4, 0.6, 0.85, 0.9, 0.92], "complete"),  # ahead at epoch 4, the screen
        ([0.3, 0.4, 0.6, 0.8, 0.9, 0.93], "pruned at 4"),  # behind there
    ]:
        trial = study.ask()
        trial.set_user_attr("warmup_epochs", 3)  # asked from epoch 4 on, as the objective does
        for step, value in enumerate(curve):
            trial.report(value, step)
            if 3 < step + 1 < len(curve) and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                assert outcome == f"pruned at {step + 1}"
                break
        else:
            study.tell(trial, curve[-1])
            assert outcome == "complete"


def test_enqueued_trials_are_never_screened():
    study = _study(ScreenedStartup(optuna.pruners.NopPruner(), trials=10, epochs=2))
    assert _train(study, [0.5, 0.9, 0.9]) == "complete"
    study.enqueue_trial({})
    assert _train(study, [0.5, 0.6, 0.7]) == "complete"


def test_the_inner_pruner_still_prunes_startup_trials_and_keeps_its_records():
    hyperband = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9)
    study = _study(ScreenedStartup(hyperband, trials=10, epochs=5))
    outcomes = [_train(study, [0.9 - 0.1 * k] * 9) for k in range(6)]
    assert "complete" in outcomes
    assert any(outcome in ("pruned at 2", "pruned at 4") for outcome in outcomes)
    # Hyperband wrote its rung values, which later trials are compared with.
    assert any(key.startswith("completed_rung_") for t in study.trials for key in t.system_attrs)


@pytest.mark.parametrize(
    ("name", "startup_epochs", "expected"),
    [
        ("hyperband", 2, ScreenedStartup),
        ("median", 2, ScreenedStartup),
        ("hyperband", 0, optuna.pruners.HyperbandPruner),
        ("none", 2, optuna.pruners.NopPruner),  # no pruner, no screen
    ],
)
def test_make_pruner_screens_the_startup_only_with_a_pruner(name, startup_epochs, expected):
    assert type(make_pruner(name, 10, startup_epochs)) is expected


def test_no_startup_trials_means_no_screen():
    assert (
        type(make_pruner("hyperband", 10, 2, startup_trials=0)) is optuna.pruners.HyperbandPruner
    )


def test_tpe_models_the_results_after_the_startup_trials():
    study = optuna.create_study(sampler=make_sampler("tpe", 0, startup_trials=2))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), 4)
    # TPE records each point it draws from its model; the random start-up draws have none.
    modelled = [any(k.startswith("tpe:") for k in t.system_attrs) for t in study.trials]
    assert modelled == [False, False, True, True]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_pruner("hyperband", 10, -1), "startup_epochs must be 0 or more"),
        (lambda: make_pruner("hyperband", 10, 2, -1), "startup_trials must be 0 or more"),
        (lambda: make_sampler("tpe", 0, -1), "startup_trials must be 0 or more"),
        (lambda: ScreenedStartup(optuna.pruners.NopPruner(), 10, 0), "epochs >= 1"),
        (lambda: make_pruner("patient", 10), "unknown pruner 'patient'"),
    ],
)
def test_bad_pruner_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _front_study(trials: list[tuple[float, list[float]]]) -> optuna.Study:
    """A multi-objective study with completed trials of (size, validation curve)."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for size, curve in trials:
        study.add_trial(
            optuna.trial.create_trial(
                values=[max(curve), size], user_attrs={"history": {"val_accuracy": curve}}
            )
        )
    return study


_FIVE = [  # sizes and curves of five completed trials: at most +0.05 after epoch 1
    (1_000, [0.80, 0.83, 0.85]),
    (5_000, [0.84, 0.86, 0.88]),
    (20_000, [0.86, 0.89, 0.90]),
    (50_000, [0.88, 0.90, 0.91]),
    (90_000, [0.89, 0.91, 0.92]),
]


@pytest.mark.parametrize(
    ("size", "curve", "stops"),
    [
        (60_000, [0.80], True),  # 0.80 + 0.05 cannot reach 0.91, the best at <= 60K
        (60_000, [0.87], False),  # 0.87 + 0.05 can
        (500, [0.10], False),  # smaller than every completed trial: on the front by size
        (20_000, [0.84, 0.85], True),  # after epoch 2 at most +0.02: 0.87 < 0.90
        (20_000, [0.84, 0.88], False),
        (20_000, [0.80, 0.81, 0.82], False),  # no trial trained past 3 epochs: no bound
    ],
)
def test_the_front_pruner_stops_a_trial_only_when_it_cannot_reach_the_front_at_its_size(
    size, curve, stops
):
    assert FrontReach().should_stop(_front_study(_FIVE), size, curve) is stops


def test_the_front_pruner_waits_for_its_minimum_of_completed_trials():
    study = _front_study(_FIVE[:4])
    assert not FrontReach(min_trials=5).should_stop(study, 60_000, [0.1])
    assert FrontReach(min_trials=4).should_stop(study, 60_000, [0.1])
    with pytest.raises(ValueError, match="min_trials"):
        FrontReach(min_trials=0)


def test_the_front_pruner_is_a_no_op_pruner_for_optuna():
    assert isinstance(make_pruner("front", epochs=10), optuna.pruners.NopPruner)
