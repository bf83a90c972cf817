from __future__ import annotations

import hashlib
import threading

import optuna
import pytest

from study.cli import main
from study.storage import StudyError, create_or_load_study, load_study, open_storage

MANIFEST = {"search_space": {"x": 1}, "protocol": {"epochs": 2}, "data": {"f": "abc"}}


def _create(url, manifest=MANIFEST, name="s"):
    return create_or_load_study(
        open_storage(url),
        name,
        optuna.samplers.RandomSampler(),
        optuna.pruners.NopPruner(),
        manifest,
    )


def test_resuming_with_the_same_manifest_returns_the_same_study(storage_url):
    first = _create(storage_url)
    first.add_trial(optuna.create_trial(value=0.5))
    again = _create(storage_url)
    assert len(again.trials) == 1
    assert again.metric_names == ["val_accuracy"]


@pytest.mark.parametrize("key", ["search_space", "protocol", "data"])
def test_resuming_with_another_space_protocol_or_data_is_refused(storage_url, key):
    _create(storage_url)
    with pytest.raises(StudyError, match=key.replace("_", " ")):
        _create(storage_url, {**MANIFEST, key: {"changed": True}})


def test_resuming_a_minimizing_study_is_refused(storage_url):
    optuna.create_study(storage=storage_url, study_name="s", direction="minimize")
    with pytest.raises(StudyError, match="not created by lenet-study"):
        _create(storage_url)


def test_a_file_that_is_not_a_database_gives_one_line(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StudyError) as excinfo:
        open_storage(f"sqlite:///{path}")
    assert "\n" not in str(excinfo.value)
    assert path.read_text().startswith("these are my notes")


def test_a_database_of_another_optuna_schema_is_refused_with_the_upgrade_hint(storage_url):
    _create(storage_url)
    import sqlalchemy

    engine = sqlalchemy.create_engine(storage_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num='v0.9.0.a'"))
    with pytest.raises(StudyError, match="optuna storage upgrade"):
        open_storage(storage_url)


def test_unparsable_url_is_a_value_error_with_an_example():
    with pytest.raises(ValueError, match="sqlite:///"):
        open_storage("not a url")


def test_loading_a_missing_study_names_the_existing_ones(storage_url):
    _create(storage_url, name="mine")
    with pytest.raises(StudyError, match="'mine'"):
        load_study(storage_url, "other")


def test_a_study_without_a_manifest_is_not_resumed(storage_url):
    theirs = optuna.create_study(storage=storage_url, study_name="s", direction="maximize")
    theirs.add_trial(optuna.create_trial(value=0.5))
    with pytest.raises(StudyError, match="not created by lenet-study"):
        _create(storage_url)
    assert "manifest" not in optuna.load_study(study_name="s", storage=storage_url).user_attrs


def test_a_study_just_created_by_another_run_is_resumed_once_its_manifest_is_stored(
    storage_url,
):
    storage = open_storage(storage_url)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    timer = threading.Timer(
        0.3, lambda: storage.set_study_user_attr(study_id, "manifest", MANIFEST)
    )
    timer.start()
    try:
        assert _create(storage_url).user_attrs["manifest"] == MANIFEST
    finally:
        timer.join()


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    "argv",
    [
        ["export"],
        ["report", "--no-pdf"],
        ["run", "--quick", "--n-trials", "1", "--epochs", "1", "--workers", "1"],
        ["run", "--quick", "--n-trials", "2", "--epochs", "1", "--workers", "2"],
    ],
    ids=["export", "report", "run", "run-workers"],
)
def test_run_report_and_export_refuse_a_plain_optuna_study(tmp_path, capsys, argv):
    url = f"sqlite:///{tmp_path / 'lenet-study.db'}"
    theirs = optuna.create_study(
        storage=url, study_name="lenet5-fashion-mnist", direction="maximize"
    )
    theirs.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    before = _digests(tmp_path)
    assert main([*argv, "--results-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "was not created by lenet-study" in err
    assert _digests(tmp_path) == before  # no new study attribute, results folder or file


@pytest.mark.parametrize("command", ["studies", "trials"])
def test_studies_and_trials_list_a_plain_optuna_study(tmp_path, capsys, command):
    url = f"sqlite:///{tmp_path / 'lenet-study.db'}"
    theirs = optuna.create_study(
        storage=url, study_name="lenet5-fashion-mnist", direction="maximize"
    )
    theirs.add_trial(optuna.create_trial(value=0.25))
    assert main([command, "--results-dir", str(tmp_path)]) == 0
    assert "0.25" in capsys.readouterr().out
