"""A database is used only when it is empty or proven Optuna's; every other one is refused by
every command with one line, and left byte for byte as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.storages._rdb import models

from study.cli import main
from study.schema import head_revision, read_schema
from study.storage import StudyError, check_storage, open_existing_storage, open_storage

NAME = "lenet5-fashion-mnist"
TINY = ["--quick", "--n-trials", "1", "--epochs", "1", "--workers", "1"]
TINY += ["--train-limit", "500", "--val-limit", "200"]
COMMANDS = {  # every command that takes --storage, with what it needs to get that far
    "studies": ["studies"],
    "trials": ["trials"],
    "export": ["export"],
    "report": ["report", "--no-pdf"],
    "dashboard": ["dashboard"],
    "delete-study": ["delete-study", "--study-name", NAME, "--yes"],
    "run": ["run", *TINY],
}
READ_ONLY = [name for name in COMMANDS if name != "run"]


def _foreign_trials(path: Path) -> None:
    """Another program's database whose one table happens to be called ``trials``."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, patient TEXT)")
    connection.execute("INSERT INTO trials (patient) VALUES ('Ada')")
    connection.commit()
    connection.close()


def _foreign_wal(path: Path) -> None:
    """Another program's database in WAL mode, closed: reading it must leave no -wal, -shm."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()
    assert not path.with_name(path.name + "-wal").exists()


def _lookalike(path: Path) -> None:
    """Every table of Optuna's schema, by name and shape, but no version records."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    models.BaseModel.metadata.create_all(engine)
    engine.dispose()


def _zero_bytes(path: Path) -> None:
    path.touch()


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its SHA-256 and modification time."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Runs the command; asserts exit 1 and one line on stderr, which it returns."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("lenet-study: error: "), err
    return lines[0]


MAKERS: dict[str, Callable[[Path], None]] = {
    "foreign-trials-table": _foreign_trials,
    "foreign-wal-database": _foreign_wal,
    "optuna-table-names-without-version": _lookalike,
    "zero-byte-file": _zero_bytes,
}
CASES = [
    (maker, command)
    for maker in MAKERS
    for command in COMMANDS
    if not (maker == "zero-byte-file" and command == "run")  # empty: run may create its study
]


@pytest.mark.parametrize(("maker", "command"), CASES)
def test_a_database_not_proven_optunas_is_refused_and_left_as_it_was(
    tmp_path, monkeypatch, capsys, maker, command
):
    # Tables named like Optuna's are watched for a creation in progress; not this long here.
    monkeypatch.setattr("study.schema.CREATION_WAIT_SECONDS", 0.3)
    MAKERS[maker](tmp_path / "their.db")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    line = _refused([*COMMANDS[command], "--storage", "sqlite:///their.db"], capsys)
    expected = "holds no studies" if maker == "zero-byte-file" else "belongs to another program"
    assert expected in line
    assert _snapshot(tmp_path) == before  # no -journal, -wal, results folder or new table


def test_a_zero_byte_file_counts_as_empty_and_gets_optunas_schema(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    open_storage(f"sqlite:///{path}")
    schema = read_schema(sqlalchemy.make_url(f"sqlite:///{path}"))
    assert schema.proven and schema.revision == head_revision()


def test_reading_an_optuna_database_changes_no_byte_and_leaves_no_file(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(storage=url, study_name="theirs").add_trial(
        optuna.trial.create_trial(value=1.0)
    )
    before = _snapshot(tmp_path)
    for argv in (["studies"], ["trials", "--study-name", "theirs"]):
        assert main([*argv, "--storage", url]) == 0
    assert "theirs" in capsys.readouterr().out
    assert _snapshot(tmp_path) == before


def test_a_missing_database_is_not_created_by_a_check(tmp_path, capsys):
    for command in READ_ONLY:
        _refused([*COMMANDS[command], "--storage", f"sqlite:///{tmp_path / 'typo.db'}"], capsys)
    check_storage(f"sqlite:///{tmp_path / 'new.db'}")
    assert list(tmp_path.iterdir()) == []


def test_an_optuna_schema_being_created_by_another_run_is_waited_for(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    _lookalike(tmp_path / "new.db")  # another run has created the tables, not yet its version

    def finish_creating() -> None:
        time.sleep(0.5)
        optuna.storages.RDBStorage(url)  # the other run's Optuna: its version records

    other = threading.Thread(target=finish_creating)
    other.start()
    try:
        check_storage(url)
    finally:
        other.join()
    assert read_schema(sqlalchemy.make_url(url)).proven


def test_a_schema_of_a_newer_optuna_is_refused_with_the_update_hint(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    open_storage(url)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num='v9.9.9.a'"))
    engine.dispose()
    with pytest.raises(StudyError, match="pip install -U optuna"):
        open_existing_storage(url)


def _admin(postgres_url: str, *statements: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(sqlalchemy.text(statement))
    engine.dispose()


def _pg_contents(url: str) -> list[object]:
    """Every table of the database's own schemas, with its rows, and its sequences' values."""
    engine = sqlalchemy.create_engine(url)
    contents: list[object] = []
    with engine.connect() as connection:
        tables = connection.execute(
            sqlalchemy.text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
        ).all()
        for schema, table in tables:
            rows = connection.execute(sqlalchemy.text(f'SELECT * FROM "{schema}"."{table}"'))
            contents.append((schema, table, sorted(map(tuple, rows))))
        contents.append(
            connection.execute(
                sqlalchemy.text("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
            ).all()
        )
    engine.dispose()
    return contents


FOREIGN_PG = {
    # Shaped like Optuna's own studies table, as another program's might be.
    "studies-table": [
        "CREATE TABLE studies (study_id SERIAL PRIMARY KEY, study_name VARCHAR(512) NOT NULL)",
        f"INSERT INTO studies (study_name) VALUES ('{NAME}')",
    ],
    # An empty public schema, and another program's tables in a schema of their own.
    "other-schema": [
        "CREATE SCHEMA crm",
        "CREATE TABLE crm.customers (id SERIAL PRIMARY KEY, name TEXT)",
        "INSERT INTO crm.customers (name) VALUES ('Ada')",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("database", FOREIGN_PG)
def test_a_postgresql_database_of_another_program_is_refused_untouched(
    postgres_url, capsys, tmp_path, monkeypatch, database
):
    monkeypatch.setattr("study.schema.CREATION_WAIT_SECONDS", 0.3)
    name = database.replace("-", "_")
    _admin(postgres_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    _admin(url, *FOREIGN_PG[database])
    before = _pg_contents(url)
    for command in COMMANDS:
        argv = [*COMMANDS[command], "--storage", url, "--results-dir", str(tmp_path)]
        line = _refused(argv, capsys)
        assert "belongs to another program" in line and "secret" not in line
        assert _pg_contents(url) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_storage_path_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path, capsys, kind
):
    path = tmp_path / "odd.db"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # opening it to read would wait for a writer
    for command in ("studies", "run"):
        line = _refused([*COMMANDS[command], "--storage", f"sqlite:///{path}"], capsys)
        assert "is not a regular file" in line
    assert [p.name for p in tmp_path.iterdir()] == ["odd.db"]
