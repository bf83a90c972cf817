"""Faults of the environment while `run` trains: a full disk, a locked or read-only database.

Each ends the run with its exit code and one line on stderr, leaves no trial running and no
partial file, and keeps the trials already stored. A full disk is simulated where the model
file is written (root ignores file modes, and no small file system can be mounted here); the
lock is a real second SQLite connection; read-only is a real immutable (``chattr +i``) or
mode-444 file.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from study.artifacts import artifact_store
from study.cli import main
from study.faults import describe
from study.files import temporary_target

NAME = "lenet5-fashion-mnist"
TINY = ["run", "--quick", "--n-trials", "1", "--epochs", "2", "--workers", "1"]
TINY += ["--train-limit", "1000", "--val-limit", "500", "--pruner", "none"]


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _trials(db: Path) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=NAME, storage=f"sqlite:///{db}").trials


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def stored(tmp_path, capsys) -> Path:
    """A results folder holding a study with one completed trial and its model."""
    assert main([*TINY, "--results-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert [t.state for t in _trials(tmp_path / "lenet-study.db")] == [TrialState.COMPLETE]
    return tmp_path


def _check_consistent(results: Path, before: list[optuna.trial.FrozenTrial]) -> None:
    """No trial running, the earlier trials intact, no partial file anywhere."""
    trials = _trials(results / "lenet-study.db")
    assert TrialState.RUNNING not in [t.state for t in trials]
    for old, now in zip(before, trials, strict=False):
        assert (old.state, old.value, old.params, old.user_attrs) == (
            now.state,
            now.value,
            now.params,
            now.user_attrs,
        )
    assert not [p for p in results.rglob("*") if temporary_target(p.name)]
    named = {
        t.user_attrs["model_artifact_id"] for t in trials if "model_artifact_id" in t.user_attrs
    }
    assert {p.name for p in (results / "artifacts").iterdir()} == named


# --- describe: real errors of SQLite and the OS, one line each ---------------------------


def _sqlite_error(tmp_path: Path, setup: str, statement: str, uri: str = "") -> sqlite3.Error:
    path = tmp_path / "x.db"
    if not path.exists():
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x BLOB)")
    connection = sqlite3.connect(uri or path, timeout=0, uri=bool(uri), isolation_level=None)
    try:
        for command in filter(None, setup.split(";")):
            connection.execute(command)
        connection.execute(statement)
    except sqlite3.Error as exc:
        return exc
    finally:
        connection.close()
    raise AssertionError(f"{statement} succeeded")


def test_a_locked_database_is_described_in_one_line(tmp_path):
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x BLOB)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _sqlite_error(tmp_path, "", "INSERT INTO t VALUES (1)")
    finally:
        holder.rollback()
        holder.close()
    fault = describe(error, "sqlite:///x.db", 60)
    assert fault is not None and "\n" not in str(fault)
    assert "stayed locked by another process for over 60 s" in str(fault)
    assert fault.reason == "failed: the storage stayed locked"


def test_a_read_only_database_is_described_in_one_line(tmp_path):
    uri = f"file:{tmp_path / 'x.db'}?mode=ro"
    error = _sqlite_error(tmp_path, "", "INSERT INTO t VALUES (1)", uri=uri)
    fault = describe(error, "sqlite:///x.db", 60)
    assert fault is not None and "is read-only" in str(fault) and "\n" not in str(fault)


def test_a_full_database_is_described_in_one_line(tmp_path):
    # SQLite's own "disk full" (SQLITE_FULL), reached by capping the file at 2 pages.
    error = _sqlite_error(
        tmp_path, "PRAGMA max_page_count = 2", "INSERT INTO t VALUES (zeroblob(100000))"
    )
    fault = describe(error, "sqlite:///x.db", 60)
    assert fault is not None and "no space left for the storage" in str(fault)


def test_a_full_disk_is_described_and_other_errors_are_not():
    fault = describe(OSError(errno.ENOSPC, "No space left on device", "m.keras"), "db", 60)
    assert fault is not None and str(fault).startswith("no space left on the device to write")
    assert describe(ValueError("a bug"), "db", 60) is None


# --- the artifact store ------------------------------------------------------------------


def _full_after(count: int):
    """A ``shutil.copyfileobj`` that writes ``count`` bytes, then finds the disk full."""

    def copy(source, target, length=0):
        target.write(source.read(count))
        target.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    return copy


def test_a_model_file_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    import io

    store = artifact_store(tmp_path, create=True)
    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copyfileobj", _full_after(10))
        with pytest.raises(OSError, match="No space left"):
            store.write("model-1", io.BytesIO(b"x" * 1000))
    assert not list((tmp_path / "artifacts").iterdir())
    store.write("model-1", io.BytesIO(b"x" * 1000))
    assert _files(tmp_path / "artifacts") == {"model-1": hashlib.sha256(b"x" * 1000).hexdigest()}


# --- runs that meet the fault ------------------------------------------------------------


@pytest.mark.slow
def test_a_full_disk_while_saving_a_model_ends_the_run_in_one_line(stored, capsys, monkeypatch):
    before = _trials(stored / "lenet-study.db")
    models = _files(stored / "artifacts")
    monkeypatch.setattr(shutil, "copyfileobj", _full_after(4096))
    code, lines = _run([*TINY, "--results-dir", str(stored)], capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("lenet-study: error: no space left on the device")
    _check_consistent(stored, before)
    failed = _trials(stored / "lenet-study.db")[-1]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["end"] == "failed: no space left on the device"
    assert _files(stored / "artifacts") == models


@contextmanager
def _locked(db: Path) -> Iterator[sqlite3.Connection]:
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.rollback()
        holder.close()


@pytest.mark.slow
def test_a_database_locked_during_a_trial_ends_the_run_in_one_line(stored, capsys, monkeypatch):
    import study.faults
    import study.objective
    import study.storage

    db = stored / "lenet-study.db"
    before = _trials(db)
    monkeypatch.setattr(study.storage, "SQLITE_TIMEOUT_SECONDS", 1)
    with _locked(db) as holder:
        report = study.objective.PruningCallback.on_epoch_end

        def lock_then_report(self, epoch, logs=None):
            if not holder.in_transaction:
                holder.execute("BEGIN EXCLUSIVE")  # another process' long write
            return report(self, epoch, logs)

        describe_fault = study.faults.describe

        def release_once_seen(*args, **kwargs):
            if holder.in_transaction:
                holder.rollback()  # that process finishes, after the trial's write gave up
            return describe_fault(*args, **kwargs)

        monkeypatch.setattr(study.objective.PruningCallback, "on_epoch_end", lock_then_report)
        monkeypatch.setattr(study.faults, "describe", release_once_seen)
        code, lines = _run([*TINY, "--results-dir", str(stored)], capsys)
    assert code == 1 and len(lines) == 1, lines
    assert "stayed locked by another process for over 1 s" in lines[0]
    _check_consistent(stored, before)
    failed = _trials(db)[-1]
    assert (failed.state, failed.user_attrs["end"]) == (
        TrialState.FAIL,
        "failed: the storage stayed locked",
    )


@pytest.mark.slow
def test_a_database_locked_to_the_end_leaves_the_trial_to_the_next_run(
    stored, capsys, monkeypatch
):
    import time

    import study.objective
    import study.storage

    db = stored / "lenet-study.db"
    before = _trials(db)
    monkeypatch.setattr(study.storage, "SQLITE_TIMEOUT_SECONDS", 0.5)
    with _locked(db) as holder:
        report = study.objective.PruningCallback.on_epoch_end

        def lock_then_report(self, epoch, logs=None):
            if not holder.in_transaction:
                holder.execute("BEGIN EXCLUSIVE")  # held until the run has ended
            return report(self, epoch, logs)

        monkeypatch.setattr(study.objective.PruningCallback, "on_epoch_end", lock_then_report)
        code, lines = _run([*TINY, "--results-dir", str(stored)], capsys)
    monkeypatch.undo()
    assert code == 1 and len(lines) == 1, lines
    assert "stayed locked" in lines[0]
    assert "trial 1 stays running until a later run fails it" in lines[0]
    # The storage refused every write: the trial could only be left running...
    assert [t.state for t in _trials(db)] == [TrialState.COMPLETE, TrialState.RUNNING]
    # ...until its heartbeats are missed; then the next run fails it and reruns it.
    watcher = optuna.load_study(
        study_name=NAME, storage=study.storage.open_storage(f"sqlite:///{db}", 1)
    )
    deadline = time.monotonic() + 60
    while watcher.trials[1].state == TrialState.RUNNING and time.monotonic() < deadline:
        optuna.storages.fail_stale_trials(watcher)
        time.sleep(0.2)
    code, lines = _run([*TINY, "--results-dir", str(stored)], capsys)
    assert code == 0 and not lines
    _check_consistent(stored, before)
    locked, rerun = _trials(db)[1:]
    assert locked.state == TrialState.FAIL and rerun.state == TrialState.COMPLETE
    assert rerun.params == locked.params


def test_a_heartbeat_that_meets_a_lock_is_skipped_not_raised(tmp_path, monkeypatch):
    import study.storage
    from study.faults import tolerate_missed_heartbeats

    monkeypatch.setattr(study.storage, "SQLITE_TIMEOUT_SECONDS", 0.1)
    db = tmp_path / "db.sqlite"
    storage = study.storage.open_storage(f"sqlite:///{db}", heartbeat_interval=1)
    trial = optuna.create_study(storage=storage).ask()
    with _locked(db) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        # Optuna's heartbeat thread would die of this, printing a traceback.
        with pytest.raises(optuna.exceptions.StorageInternalError):
            storage.record_heartbeat(trial._trial_id)
        tolerate_missed_heartbeats(storage)
        storage.record_heartbeat(trial._trial_id)


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file or folder made read-only for this process: mode 444 (555 for a folder), or,
    for root (whom modes do not stop), immutable with ``chattr +i``."""
    import os

    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a file read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "workers", "message"),
    [
        ("lenet-study.db", "1", "is read-only"),
        ("lenet-study.db", "2", "is read-only"),
        (".", "1", "cannot write the results folder"),  # the database's folder, too
    ],
)
def test_a_read_only_database_is_refused_in_one_line(stored, capsys, target, workers, message):
    before = _files(stored)
    with _read_only(stored / target):
        code, lines = _run([*TINY, "--workers", workers, "--results-dir", str(stored)], capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("lenet-study: error:") and message in lines[0]
    assert "best:" not in capsys.readouterr().out
    assert _files(stored) == before


@pytest.mark.slow
def test_a_read_only_artifact_folder_ends_the_run_in_one_line(stored, capsys):
    before = _trials(stored / "lenet-study.db")
    models = _files(stored / "artifacts")
    with _read_only(stored / "artifacts"):
        code, lines = _run([*TINY, "--results-dir", str(stored)], capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("lenet-study: error: cannot write")
    assert "make the results folder writable" in lines[0]
    _check_consistent(stored, before)
    assert _trials(stored / "lenet-study.db")[-1].user_attrs["end"].startswith("failed: cannot")
    assert _files(stored / "artifacts") == models
