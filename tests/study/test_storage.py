from __future__ import annotations

import optuna
import pytest

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
    with pytest.raises(StudyError, match="direction minimize"):
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
