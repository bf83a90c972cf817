from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.trial import TrialState

from lenet import TrainConfig
from study.artifacts import artifact_store
from study.objective import Objective
from study.trial_record import (
    Completed,
    Failed,
    OtherEnd,
    OverBudget,
    Pruned,
    TrialRecord,
    parse_end,
)

ROOT = Path(__file__).resolve().parents[2]
RECORD_MODULE = ROOT / "study" / "trial_record.py"
_SETTERS = {"set_user_attr", "set_trial_user_attr", "set_study_user_attr"}
_GETTERS = {"get_trial_user_attrs", "get_study_user_attrs"}

FULL = TrialRecord(
    n_params=61_706,
    n_macs=416_520,
    seed=42,
    worker="host:123",
    backend="tensorflow",
    warmup_epochs=1,
    history={"val_accuracy": [0.5, 0.625], "loss": [1.5, 1.25]},
    epochs_run=2,
    seconds_per_epoch=1.5,
    worker_rss_mib=512.5,
    best_epoch=2,
    val_confusion=[[3, 1], [0, 4]],
    end=Completed(),
    model_artifact_id="0b5d5b44-9f9e-4c4c-9c56-3d7f5a8f3a11",
)


def test_every_key_earlier_versions_stored_is_still_a_field():
    # Renaming or dropping a field would leave every existing database's attribute unread.
    stored = {
        "n_params", "n_macs", "seed", "worker", "backend", "warmup_epochs", "history",
        "epochs_run", "seconds_per_epoch", "worker_rss_mib", "best_epoch", "val_confusion",
        "end", "model_artifact_id",
    }  # fmt: skip
    assert stored <= {f.name for f in fields(TrialRecord)}


def test_a_record_round_trips_through_a_stored_trial(storage_url):
    study = optuna.create_study(storage=storage_url, direction="maximize")
    study.optimize(lambda trial: FULL.write(trial) or 0.5, n_trials=1)
    stored = optuna.load_study(study_name=study.study_name, storage=storage_url).trials[0]
    assert TrialRecord.of(stored) == FULL
    assert stored.user_attrs["end"] == "completed"  # as the dashboard shows it


def test_writing_leaves_unset_fields_and_other_keys_alone(storage_url):
    study = optuna.create_study(storage=storage_url)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("note", "mine")
        TrialRecord(n_params=10).write(trial)
        TrialRecord(epochs_run=1, end=Pruned(1)).write(trial)
        return 0.0

    study.optimize(objective, n_trials=1)
    assert study.trials[0].user_attrs == {
        "note": "mine",
        "n_params": 10,
        "epochs_run": 1,
        "end": "pruned at epoch 1",
    }


def test_a_trial_of_an_older_version_reads_with_missing_keys_as_none_and_extra_keys_ignored():
    trial = optuna.trial.create_trial(
        value=0.5,
        user_attrs={
            "epochs_run": 3,
            "end": "pruned before training: 120000 parameters > 100000",
            "written_by_someone_else": [1, 2],
        },
    )
    assert TrialRecord.of(trial) == TrialRecord(epochs_run=3, end=OverBudget(120_000, 100_000))
    assert TrialRecord.of(optuna.trial.create_trial(value=0.5)) == TrialRecord()


def test_the_fault_path_records_the_end_by_storage_id(storage_url):
    study = optuna.create_study(storage=storage_url)
    trial = study.ask()
    TrialRecord(end=Failed("the storage is read-only")).write_stored(
        study._storage, trial._trial_id
    )
    stored = study.trials[0]
    assert stored.user_attrs == {"end": "failed: the storage is read-only"}
    assert TrialRecord.of(stored).end == Failed("the storage is read-only")


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("completed", Completed()),
        ("pruned at epoch 3", Pruned(3)),
        ("pruned before training: 120000 parameters > 100000", OverBudget(120_000, 100_000)),
        ("failed: loss is nan at epoch 2", Failed("loss is nan at epoch 2")),
        ("failed: ", Failed("")),
        ("pruned at epoch 03", OtherEnd("pruned at epoch 03")),
        ("pruned before training", OtherEnd("pruned before training")),
        ("", OtherEnd("")),
    ],
)
def test_stored_end_texts_parse_to_typed_ends(text, end):
    assert parse_end(text) == end


_ENDS = st.one_of(
    st.just(Completed()),
    st.builds(Pruned, st.integers(min_value=0)),
    st.builds(OverBudget, st.integers(min_value=0), st.integers(min_value=0)),
    st.builds(Failed, st.text()),
)


@given(_ENDS)
def test_an_end_reads_back_as_written(end):
    assert parse_end(str(end)) == end


@given(st.text())
def test_any_stored_end_text_is_kept_as_it_is(text):
    assert str(parse_end(text)) == text


def test_the_objective_writes_a_record_that_reads_back(small_splits, tmp_path):
    from study.space import parse_space

    store = artifact_store(tmp_path, create=True)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    study.enqueue_trial({"c3_filters": 64})  # 100,000 parameters at most: over
    study.enqueue_trial({"c3_filters": 16})
    space = parse_space(
        "[params]\nc3_filters = { low = 16, high = 64, step = 48 }\n[limits]\nmax_params = 100000"
    )
    objective = Objective(small_splits, TrainConfig(epochs=1), space=space, artifact_store=store)
    study.optimize(objective, n_trials=2)
    over, trained = (TrialRecord.of(t) for t in study.trials)
    assert study.trials[0].state == TrialState.PRUNED
    assert over.end == OverBudget(over.n_params or 0, 100_000)
    assert over.history is None and over.n_params and over.n_params > 100_000
    assert study.trials[1].state == TrialState.COMPLETE
    assert trained.end == Completed()
    assert (trained.epochs_run, trained.best_epoch) == (1, 1)
    assert trained.seed == TrainConfig().seed + 1  # the study's seed + the trial's number
    assert trained.history and len(trained.history["val_accuracy"]) == 1
    assert trained.val_confusion and sum(map(sum, trained.val_confusion)) == 500
    assert trained.model_artifact_id
    assert (tmp_path / "artifacts" / trained.model_artifact_id).is_file()
    assert trained.warmup_epochs is None  # a constant learning rate
    stored = study.trials[1].user_attrs
    assert {f.name: getattr(trained, f.name) for f in fields(TrialRecord)} == {
        **dict.fromkeys(f.name for f in fields(TrialRecord)),
        **stored,
        "end": Completed(),
    }


def _literal_keys(tree: ast.AST) -> list[int]:
    """Lines that name a user attribute by a string literal: ``x.user_attrs["k"]``,
    ``x.user_attrs.get("k")``, ``"k" in x.user_attrs``, ``set_user_attr("k", ...)`` and
    the storage's ``get_*_user_attrs(...)`` / ``set_*_user_attr(...)``; or that binds
    ``x.user_attrs`` to a name, whose reads the other patterns would miss."""

    def is_attrs(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "user_attrs":
            return True
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _GETTERS
        )

    def literal(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    found = []
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Subscript):
            hit = is_attrs(node.value) and literal(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _SETTERS:
                hit = any(map(literal, node.args[:2]))
            elif node.func.attr in ("get", "pop", "setdefault"):
                hit = is_attrs(node.func.value) and bool(node.args) and literal(node.args[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign):  # an alias hides the keys read
            hit = node.value is not None and is_attrs(node.value)
        elif isinstance(node, ast.Compare):
            hit = literal(node.left) and any(
                isinstance(op, ast.In | ast.NotIn) and is_attrs(right)
                for op, right in zip(node.ops, node.comparators, strict=True)
            )
        if hit:
            found.append(node.lineno)
    return found


@pytest.mark.parametrize(
    "code",
    [
        'trial.user_attrs["end"]',
        'trial.user_attrs.get("epochs_run", 0)',
        '"seed" in trial.user_attrs',
        'trial.set_user_attr("end", "completed")',
        'storage.set_trial_user_attr(trial_id, "end", reason)',
        'storage.get_study_user_attrs(study_id).get("manifest")',
        "attrs = trial.user_attrs",
    ],
)
def test_the_key_check_finds_a_literal_key(code):
    assert _literal_keys(ast.parse(code)) == [1]


def test_no_user_attribute_key_is_a_string_literal_outside_the_record_module():
    sources = sorted((ROOT / "study").rglob("*.py")) + sorted((ROOT / "lenet").rglob("*.py"))
    assert RECORD_MODULE in sources
    offending = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources
        if path != RECORD_MODULE
        for line in _literal_keys(ast.parse(path.read_text(), str(path)))
    ]
    assert offending == []
