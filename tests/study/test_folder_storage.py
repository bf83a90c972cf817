"""A study's folder belongs to one storage: a study of the same name in another storage
neither writes into it nor deletes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from study.cli import main
from study.errors import StudyError
from study.paths import check_folder_storage, folder_storage, study_folder
from study.storage import storage_identity


@pytest.fixture
def two_storages(tmp_path, monkeypatch, finished_study):
    """Study "x" in storages a.db and b.db sharing one results folder, whose folder for "x"
    holds an export and a report cache recorded from a.db."""
    monkeypatch.chdir(tmp_path)
    results = Path("results")
    urls = {name: f"sqlite:///{name}.db" for name in ("a", "b")}
    for url in urls.values():
        finished_study(url, "x", results)
    folder = study_folder(results, "x")
    folder.mkdir()
    owner = storage_identity(urls["a"])
    (folder / "best_model.json").write_text(json.dumps({"study_name": "x", "storage": owner}))
    (folder / "best_model.keras").write_bytes(b"a's model")
    (folder / "retrain.json").write_text(json.dumps({"storage": owner}))
    return urls, folder


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_the_same_sqlite_file_has_one_identity_however_it_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert storage_identity("sqlite:///a.db") == storage_identity(f"sqlite:///{tmp_path}/a.db")
    assert "secret" not in storage_identity("postgresql+psycopg://u:secret@host/db")


def test_a_folder_of_another_storage_is_refused_and_one_of_none_or_this_one_is_not(tmp_path):
    assert folder_storage(tmp_path) is None
    check_folder_storage(tmp_path, "sqlite:///b.db")  # nothing recorded yet: free
    (tmp_path / "retrain.json").write_text(json.dumps({"storage": "sqlite:///a.db"}))
    check_folder_storage(tmp_path, "sqlite:///a.db")
    with pytest.raises(StudyError, match="another storage"):
        check_folder_storage(tmp_path, "sqlite:///b.db")


@pytest.mark.parametrize("command", [["export"], ["report", "--no-pdf"]])
def test_export_and_report_refuse_the_folder_of_the_same_name_from_another_storage(
    two_storages, capsys, command
):
    urls, folder = two_storages
    before = _files(folder)
    assert main([*command, "--study-name", "x", "--storage", urls["b"]]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another storage" in err and "--out" in err
    assert _files(folder) == before


def test_delete_study_keeps_the_folder_of_the_same_name_from_another_storage(two_storages, capsys):
    urls, folder = two_storages
    before = _files(folder)
    assert main(["delete-study", "--study-name", "x", "--storage", urls["b"], "--yes"]) == 0
    assert _files(folder) == before
    assert str(folder) in capsys.readouterr().out
    assert main(["delete-study", "--study-name", "x", "--storage", urls["a"], "--yes"]) == 0
    assert not folder.exists()
