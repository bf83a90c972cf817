"""A study's folder stays inside the results folder whatever its name; outputs checked first."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from study.cli import main
from study.errors import StudyError, UsageError
from study.paths import (
    MAX_STUDY_NAME,
    check_study_name,
    check_writable_file,
    check_writable_folder,
    is_study_file,
    study_folder,
    study_folder_name,
)

ODD_NAMES = ["../esc/x", "a/b", "..", ".", "", "x" * 1000, "a\x00b", "tab\there", "/etc", "é ü"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_study_name_maps_to_one_safe_folder_inside_the_results(tmp_path, name):
    folder = study_folder(tmp_path, name)
    assert folder.parent == tmp_path
    assert folder.name not in ("", ".", "..") and not folder.name.startswith(".")
    assert len(folder.name) <= 120
    assert set(folder.name) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
    )
    assert folder.resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("name", ["lenet5-fashion-mnist", "quick", "run_2.b"])
def test_a_plain_study_name_is_its_own_folder(name):
    assert study_folder_name(name) == name


def test_names_that_differ_only_in_unsafe_characters_get_different_folders():
    assert len({study_folder_name(n) for n in ["a/b", "a_b", "a b", "a\\b"]}) == 4


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "a\x00b", "line\nbreak", "del\x7f"])
def test_run_refuses_a_name_no_one_could_type_back(name):
    with pytest.raises(UsageError):
        check_study_name(name)


@pytest.mark.parametrize("name", ["../esc/x", "a/b", "é ü", "x" * 200])
def test_other_names_are_allowed(name):
    assert check_study_name(name) == name


def test_a_folder_below_a_file_is_refused_and_nothing_is_created(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StudyError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "deeper" / "out")
    with pytest.raises(StudyError, match="is a file, not a folder"):
        check_writable_file(tmp_path / "file" / "table.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_folder_given_as_a_file_is_refused(tmp_path):
    with pytest.raises(StudyError, match="it is a folder"):
        check_writable_file(tmp_path)


@pytest.mark.parametrize("suffix", ["", "-journal", "-wal", "-shm"])
def test_an_output_never_overwrites_a_database_or_its_journal(tmp_path, suffix):
    database = tmp_path / "any-name.csv"
    optuna.create_study(storage=f"sqlite:///{database}", study_name="s")
    target = database.with_name(database.name + suffix)
    if suffix:
        target.write_bytes(b"journal")
    with pytest.raises(StudyError, match="it is a SQLite database"):
        check_writable_file(target)


def test_trials_csv_onto_the_study_database_is_refused_and_the_database_kept(tmp_path, capsys):
    database = tmp_path / "lenet-study.db"
    optuna.create_study(storage=f"sqlite:///{database}", study_name="s")
    before = database.read_bytes()
    argv = ["trials", "--study-name", "s", "--storage", f"sqlite:///{database}"]
    assert main([*argv, "--csv", str(database)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SQLite database" in err
    assert database.read_bytes() == before


def test_a_new_folder_below_an_existing_one_is_fine_and_not_created(tmp_path: Path):
    check_writable_folder(tmp_path / "a" / "b")
    check_writable_file(tmp_path / "a" / "b.json")
    assert list(tmp_path.iterdir()) == []


_NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=MAX_STUDY_NAME)


@given(name=_NAMES)
@example(name="artifacts")
@example(name="ARTIFACTS")
@example(name="lenet-study.db")
@example(name="lenet-study.db-journal")
@example(name="x.sqlite3-wal")
@example(name=".")
@example(name="/tmp/x")
def test_no_name_gets_the_artifact_store_or_a_database_as_its_folder(name):
    folder = study_folder_name(name)
    assert folder == Path(folder).name and folder not in ("", ".", "..")
    assert folder.lower() != "artifacts"
    assert not folder.lower().endswith((".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm"))
    assert not is_study_file(folder)


@given(first=_NAMES, second=_NAMES)
@example(first="a/b", second="a_b")
@example(first="run-20240101", second="run-20240101-x")
def test_two_names_never_share_a_folder(first, second):
    assume(first != second)
    assert study_folder_name(first) != study_folder_name(second)


@given(name=_NAMES)
def test_the_folder_of_one_name_is_not_the_folder_of_that_folders_name(name):
    # A hashed folder name, given as a study name, gets a folder of its own.
    folder = study_folder_name(name)
    assume(folder != name)
    assert study_folder_name(folder) != folder


@pytest.mark.parametrize("name", ["run-20240101", "quick-deadbeef"])
def test_a_name_ending_like_a_hashed_folder_is_hashed_too(name):
    assert (
        study_folder_name(name).startswith(f"{name}-")
        and len(study_folder_name(name)) == len(name) + 9
    )
