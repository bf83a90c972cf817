"""Opening the study's storage and creating or resuming the study, refusing mixed trials."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import optuna
import sqlalchemy
import sqlalchemy.exc
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from study.errors import StudyError, UsageError
from study.paths import check_writable_folder

DIRECTION: Literal["maximize"] = "maximize"
METRIC = "val_accuracy"  # what every trial reports and the study maximizes
MISSED_HEARTBEATS = 3  # a trial whose worker missed this many beats is failed and retried
MAX_RETRY = 2  # a killed trial is rerun with the same parameters at most this often
SQLITE_TIMEOUT_SECONDS = 60  # wait this long for another process' write lock
_CREATE_ATTEMPTS = 5
# Tables every Optuna RDB storage has; a database with tables but not these is not Optuna's.
_OPTUNA_TABLES = {"studies", "trials", "version_info"}
# Every table of Optuna's schema: a database holding only some of them is one whose schema
# another process is creating right now (two runs starting on one new database), not foreign.
_OPTUNA_SCHEMA = _OPTUNA_TABLES | {
    "alembic_version", "study_directions", "study_user_attributes", "study_system_attributes",
    "trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes",
    "trial_system_attributes", "trial_heartbeats",
}  # fmt: skip


# The trials a study's total counts: every one a worker has started. A waiting trial (enqueued,
# or a killed worker's trial queued for its retry) counts once it runs.
STARTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

_COMPARED = {  # manifest keys that must match to resume, and how the user knows them
    "search_space": "search space",
    "protocol": "protocol (epochs, data sizes, split seed)",
    "data": "data files",
}


def parse_storage_url(url: str) -> sqlalchemy.engine.URL:
    """Parses a SQLAlchemy URL.

    Raises:
        UsageError: the URL cannot be parsed; the message shows good ones.
    """
    try:
        return sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(
            f"cannot parse storage URL {url!r}; use e.g. sqlite:///results/lenet-study.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from None


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    parsed = parse_storage_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _engine_kwargs(parsed: sqlalchemy.engine.URL) -> dict[str, Any]:
    if parsed.get_backend_name() == "sqlite":
        # Several local processes (workers, the dashboard) share one file: wait for a lock.
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
    return {"pool_pre_ping": True}


def _tables(parsed: sqlalchemy.engine.URL) -> set[str]:
    """The database's table names, read without writing anything."""
    engine = sqlalchemy.create_engine(parsed, **_engine_kwargs(parsed))
    try:
        return set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _driver_error(parsed: sqlalchemy.engine.URL, exc: ImportError) -> StudyError:
    package = exc.name or parsed.get_driver_name()
    return StudyError(
        f"storage {parsed.render_as_string()} needs the Python package {package!r}, which is "
        f"not installed; pip install it, or use a sqlite:/// or postgresql+psycopg:// URL"
    )


def _check_schema(parsed: sqlalchemy.engine.URL, must_exist: bool) -> None:
    """Refuses, before anything is written, a database that is not (or not yet) Optuna's."""
    where = parsed.render_as_string()
    path = sqlite_path(where) if parsed.get_backend_name() == "sqlite" else None
    if path is not None and not path.is_file():
        if must_exist:
            raise StudyError(
                f"no storage at {path}; run `lenet-study run` first, or pass the "
                "--storage or --results-dir the study ran with"
            )
        return  # a new file: Optuna creates its schema
    try:
        tables = _tables(parsed)
    except ImportError as exc:
        raise _driver_error(parsed, exc) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StudyError(f"cannot use storage {where}: {_first_line(exc)}") from None
    if tables and not tables >= _OPTUNA_TABLES and not tables <= _OPTUNA_SCHEMA:
        shown = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
        raise StudyError(
            f"storage {where} holds other tables ({shown}) and no Optuna studies; "
            "it belongs to another program: pass a new database as --storage"
        )
    if must_exist and not tables:
        raise StudyError(f"storage {where} holds no studies; run `lenet-study run` first")


def check_storage(url: str) -> None:
    """Everything ``open_storage`` checks before it writes, writing nothing: the URL, the
    driver, a database of another program, and the folder a new SQLite file would go in.

    Raises:
        UsageError: the URL cannot be parsed.
        StudyError: the storage cannot be used; the message says why.
    """
    parsed = parse_storage_url(url)
    _check_schema(parsed, must_exist=False)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        check_writable_folder(path.parent, "storage folder")


def open_storage(
    url: str, heartbeat_interval: int | None = None, must_exist: bool = False
) -> RDBStorage:
    """Opens an Optuna RDB storage, creating it unless ``must_exist``.

    A database that holds other tables and no Optuna schema is refused untouched. SQLite
    files get their folder created (for a new study) and a lock timeout. With
    ``heartbeat_interval`` (seconds), a trial whose process died is marked failed by the next
    worker to start a trial, and retried with the same parameters at most ``MAX_RETRY`` times.

    Raises:
        UsageError: the URL cannot be parsed.
        StudyError: the database is missing (``must_exist``), cannot be opened, needs a
            driver that is not installed, or belongs to another program.
    """
    parsed = parse_storage_url(url)
    if must_exist:
        _check_schema(parsed, must_exist)
    else:
        check_storage(url)
    path = sqlite_path(url)
    if path is not None and not must_exist:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(
                f"cannot create the folder of {path}: {exc.strerror}; "
                "pass another --results-dir or --storage"
            ) from None
    heartbeat_kwargs: dict[str, Any] = {}
    if heartbeat_interval is not None:
        with warnings.catch_warnings():  # "experimental" since Optuna 2.8, and stable since
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = RetryHeartbeatStaleTrialCallback(MAX_RETRY)
        heartbeat_kwargs = {
            "heartbeat_interval": heartbeat_interval,
            "grace_period": MISSED_HEARTBEATS * heartbeat_interval,
            "heartbeat_stale_trial_callback": retry,
        }
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(url, engine_kwargs=_engine_kwargs(parsed), **heartbeat_kwargs)
        except ImportError as exc:
            raise _driver_error(parsed, exc) from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as exc:
            # Two processes creating one new database race on its schema; the loser retries
            # and finds the schema the winner made.
            if attempt + 1 == _CREATE_ATTEMPTS:
                raise StudyError(
                    f"cannot use storage {parsed.render_as_string()}: {_first_line(exc)}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, RuntimeError, ValueError) as exc:
            raise StudyError(
                f"cannot use storage {parsed.render_as_string()}: {_first_line(exc)}"
            ) from None
    raise AssertionError("unreachable")


def open_existing_storage(url: str) -> RDBStorage:
    """Opens a storage for reading; a missing database is an error, never created."""
    return open_storage(url, must_exist=True)


def trials_started(storage: BaseStorage, study_name: str) -> int:
    """How many trials of the study have been started (``STARTED``); 0 if there is no study."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return storage.get_n_trials(study_id, STARTED)


def stored_manifest(storage: BaseStorage, study_name: str) -> dict[str, Any] | None:
    """The manifest the study was created with; None if there is no such study (yet)."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return None
    manifest = storage.get_study_user_attrs(study_id).get("manifest")
    return dict(manifest) if isinstance(manifest, Mapping) else None


def total_reached(started: int, total: int) -> str:
    """The line a run prints when the study has started its ``--max-trials`` already."""
    trials = "trial" if started == 1 else "trials"
    return f"nothing to run: the study has started {started} {trials}, --max-trials {total}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def create_or_load_study(
    storage: RDBStorage,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    manifest: Mapping[str, Any],
) -> optuna.Study:
    """Creates the study, or resumes it if its manifest matches this run's.

    Args:
        manifest: what makes trials comparable: ``search_space``, ``protocol`` (epochs, data
            sizes, split seed) and ``data`` (file checksums). Stored as the study's
            ``manifest`` user attribute on creation.

    Raises:
        StudyError: the existing study was made with another direction, search space,
            protocol or data; its trials would not be comparable with this run's.
    """
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            direction=DIRECTION,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StudyError(f"cannot create study {study_name!r}: {_first_line(exc)}") from None
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise StudyError(
            f"study {study_name!r} exists with direction {study.direction.name.lower()}, "
            "this run maximizes val_accuracy; choose another --study-name"
        )
    stored = study.user_attrs.get("manifest")
    if stored is None:
        study.set_user_attr("manifest", dict(manifest))
        with warnings.catch_warnings():  # experimental, and stable enough for a label
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([METRIC])
        return study
    changed = [label for key, label in _COMPARED.items() if stored.get(key) != manifest[key]]
    if changed:
        raise StudyError(
            f"study {study_name!r} was made with a different {' and '.join(changed)}; "
            "its trials would not be comparable: choose another --study-name "
            "or rerun with the original settings"
        )
    return study


def load_study(storage_url: str, study_name: str) -> optuna.Study:
    """Loads an existing study for reading (export, report, trials); creates nothing.

    Raises:
        StudyError: no such storage or study, with the names that exist.
    """
    storage = open_existing_storage(storage_url)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise no_such_study(storage, storage_url, study_name) from None


def no_such_study(storage: BaseStorage, storage_url: str, study_name: str) -> StudyError:
    """The error for a study name the storage does not hold, naming the ones it does."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    return StudyError(
        f"no study {study_name!r} in {storage_url}"
        + (f"; it has {', '.join(map(repr, names))}" if names else "; run `lenet-study run`")
    )
