"""Faults of the environment while a study trains: a full disk, a read-only or locked database.

``describe`` turns such an exception into the one line the command line prints; ``RunGuard``
ends a run on one, having failed the trial it interrupted, so that none is left running.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TypeVar

import optuna
import sqlalchemy.exc
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from study.errors import StudyError
from study.trial_record import Failed, TrialRecord

T = TypeVar("T")  # what an objective returns: one value, or one per objective
_RERUN = "then run the same command again to resume the study"
# OSError numbers that mean "the file system refuses", as opposed to a bug of ours.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
# What a run's trial may raise for a fault of the disk or the database (Optuna wraps the
# database's errors in StorageInternalError).
_FAULTS = (OSError, optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError)


def lock_timeout() -> float:
    """The seconds a SQLite write waits for another process' lock (read when needed)."""
    from study import storage

    return float(storage.SQLITE_TIMEOUT_SECONDS)


class EnvironmentFault(StudyError):
    """The disk or the database failed under a running study; the message says what to do.

    Attributes:
        end: the short cause recorded as the interrupted trial's end.
    """

    def __init__(self, message: str, end: Failed) -> None:
        super().__init__(message)
        self.end = end

    @property
    def reason(self) -> str:
        """The end as the trial stores it: ``failed: ...``."""
        return str(self.end)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from, and so on (Optuna wraps the storage's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # The context too, even under `from None`: Keras re-raises every error from None to
        # shorten its traceback, which hides the storage's error behind Optuna's.
        current = current.__cause__ or current.__context__


def _database_text(exc: BaseException) -> str | None:
    """The driver's message of a database error in the chain, if there is one."""
    for cause in _causes(exc):
        # Operational: the database's state or connection, not a bad statement of ours.
        if isinstance(cause, sqlalchemy.exc.OperationalError):
            return str(cause.orig).strip()
        if isinstance(cause, sqlite3.OperationalError):
            return str(cause).strip()
    return None


def describe(exc: BaseException, where: str, lock_timeout: float) -> EnvironmentFault | None:
    """The fault ``exc`` stands for, as one line with what to do; None if it is none.

    Args:
        where: the storage, as it may be shown (its password masked).
        lock_timeout: the seconds a SQLite write waits for another process' lock.
    """
    if isinstance(exc, EnvironmentFault):
        return exc
    text = _database_text(exc)
    if text is not None:
        lowered = text.lower()
        if "locked" in lowered:
            return EnvironmentFault(
                f"the storage {where} stayed locked by another process for over "
                f"{lock_timeout:g} s; let that process finish or stop it, {_RERUN}",
                Failed("the storage stayed locked"),
            )
        if "readonly" in lowered or "read-only" in lowered:
            return EnvironmentFault(
                f"the storage {where} is read-only ({text}); make the database file and its "
                f"folder writable, {_RERUN}, or pass another --storage",
                Failed("the storage is read-only"),
            )
        if "disk is full" in lowered or "no space left" in lowered:
            return EnvironmentFault(
                f"no space left for the storage {where} ({text}); free some space, {_RERUN}",
                Failed("no space left for the storage"),
            )
        return EnvironmentFault(
            f"cannot write to the storage {where}: {text.splitlines()[0] if text else '?'}; "
            f"check the database, {_RERUN}",
            Failed("the storage could not be written"),
        )
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno is not None:
            name = f" {cause.filename}" if cause.filename else " a file"
            if cause.errno in _NO_SPACE:
                return EnvironmentFault(
                    f"no space left on the device to write{name} ({cause.strerror}); "
                    f"free some space, {_RERUN}",
                    Failed("no space left on the device"),
                )
            if cause.errno in _READ_ONLY:
                return EnvironmentFault(
                    f"cannot write{name}: {cause.strerror}; make the results folder writable, "
                    f"{_RERUN}, or pass another --results-dir",
                    Failed(f"cannot write a file ({cause.strerror})"),
                )
            if cause.errno == errno.EIO:
                return EnvironmentFault(
                    f"cannot write{name}: {cause.strerror}; check the disk, {_RERUN}",
                    Failed(str(cause.strerror)),
                )
    return None  # another OSError (a missing file, ...) is not the environment's: a bug


def fail_trial(storage: BaseStorage, trial_id: int, end: Failed) -> bool:
    """Marks a still running trial failed with ``end`` as its end; False if the
    storage cannot be written (the trial then fails once its heartbeats are missed)."""
    try:
        if storage.get_trial(trial_id).state != TrialState.RUNNING:
            return True
        TrialRecord(end=end).write_stored(storage, trial_id)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return True  # another worker failed it first, as stale
    except Exception:  # the same fault again: the heartbeat check is the fallback
        return False
    return True


def tolerate_missed_heartbeats(storage: BaseStorage) -> None:
    """Makes the storage's heartbeat skip a beat it cannot write instead of dying loudly.

    Optuna writes heartbeats from a thread, where a locked or read-only database would print
    a traceback and end the beats; the trial's own writes meet the same fault and report it.
    """
    record = getattr(storage, "record_heartbeat", None)
    if record is None:
        return

    def record_or_skip(trial_id: int) -> None:
        with suppress(Exception):  # the next beat tries again
            record(trial_id)

    storage.record_heartbeat = record_or_skip  # type: ignore[attr-defined]


@dataclass
class RunGuard:
    """Wraps a run's objective and its ``optimize`` call so that a fault ends the run cleanly.

    Attributes:
        storage: the run's storage.
        where: the storage as it may be shown.
        lock_timeout: seconds a write waits for a lock (for the message).
    """

    storage: BaseStorage
    where: str
    lock_timeout: float = field(default_factory=lock_timeout)
    trial_id: int | None = field(default=None, init=False)  # the trial being run, if any
    trial_number: int | None = field(default=None, init=False)

    def objective(self, objective: Callable[[optuna.Trial], T]) -> Callable[[optuna.Trial], T]:
        """``objective``, raising an ``EnvironmentFault`` with its reason recorded on the
        trial (when the storage still takes it) for a fault of the disk or the database."""

        def guarded(trial: optuna.Trial) -> T:
            self.trial_id, self.trial_number = trial._trial_id, trial.number
            try:
                return objective(trial)
            except _FAULTS as exc:
                fault = describe(exc, self.where, self.lock_timeout)
                if fault is None:
                    raise
                with suppress(Exception):  # the storage itself failed: fail_trial retries
                    TrialRecord(end=fault.end).write(trial)
                raise fault from None

        return guarded

    @contextmanager
    def ending_on_faults(self) -> Iterator[None]:
        """Turns a fault inside the block into an ``EnvironmentFault`` (exit 1, one line),
        after failing the interrupted trial if Optuna could not."""
        try:
            yield
        # Any exception: Optuna 5.1's optimize, failing to read back a trial it could not
        # tell, raises an UnboundLocalError whose context holds the storage's error.
        except Exception as exc:
            if isinstance(exc, StudyError) and not isinstance(exc, EnvironmentFault):
                raise  # a refusal, with its own line
            fault = describe(exc, self.where, self.lock_timeout)
            if fault is None:
                raise
            if self.trial_id is not None and not fail_trial(
                self.storage, self.trial_id, fault.end
            ):
                fault = EnvironmentFault(
                    f"{fault}; trial {self.trial_number} stays running until a later run "
                    "fails it for its missed heartbeats and reruns it",
                    fault.end,
                )
            raise fault from None
