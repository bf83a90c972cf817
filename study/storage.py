"""Opening the study's storage and creating or resuming the study, refusing mixed trials."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.exc
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from study.errors import StudyError, UsageError
from study.masking import mask_url
from study.objectives import directions, metric_names, study_objectives
from study.paths import check_writable_folder
from study.schema import (
    SQLITE_TIMEOUT_SECONDS,
    check_schema,
    driver_error,
    first_line,
    parse_storage_url,
    sqlite_path,
)
from study.text import plural

METRIC = "val_accuracy"  # what every trial reports and the study maximizes
MISSED_HEARTBEATS = 3  # a trial whose worker missed this many beats is failed and retried
MAX_RETRY = 2  # a killed trial is rerun with the same parameters at most this often
_CREATE_ATTEMPTS = 5
MANIFEST_ATTR = "manifest"  # the study user attribute holding what the study was created with
_MANIFEST_WAIT_SECONDS = 3.0  # a study another run created a moment ago gets its manifest

# The trials a study's total counts: every one a worker has started. A waiting trial (enqueued,
# or a killed worker's trial queued for its retry) counts once it runs.
STARTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

_COMPARED = {  # manifest keys that must match to resume, and how the user knows them
    "search_space": "search space",
    "protocol": "protocol (epochs, data sizes, split seed)",
    "data": "data files",
}


def _engine_kwargs(parsed: sqlalchemy.engine.URL) -> dict[str, Any]:
    if parsed.get_backend_name() == "sqlite":
        # Several local processes (workers, the dashboard) share one file: wait for a lock.
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
    return {"pool_pre_ping": True}


def storage_identity(url: str) -> str:
    """One spelling per database, with no password: a SQLite file by its absolute path."""
    path = sqlite_path(url)
    return f"sqlite:///{path.resolve()}" if path is not None else mask_url(url)


def check_storage(url: str) -> None:
    """Everything ``open_storage`` checks before it writes, writing nothing: the URL, the
    driver, a database of another program, and the folder a new SQLite file would go in.

    Raises:
        UsageError: the URL cannot be parsed.
        StudyError: the storage cannot be used; the message says why.
    """
    check_schema(url, must_exist=False)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        check_writable_folder(path.parent, "storage folder")


def open_storage(
    url: str, heartbeat_interval: int | None = None, must_exist: bool = False
) -> RDBStorage:
    """Opens an Optuna RDB storage, creating it unless ``must_exist``.

    A database that is neither empty nor provably Optuna's is refused untouched. SQLite
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
        check_schema(url, must_exist)
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
                return RDBStorage(
                    url,
                    engine_kwargs=_engine_kwargs(parsed),
                    # Reading an existing schema creates no table, even a missing one.
                    skip_table_creation=must_exist,
                    **heartbeat_kwargs,
                )
        except ImportError as exc:
            raise driver_error(url, exc) from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as exc:
            # Two processes creating one new database race on its schema; the loser retries
            # and finds the schema the winner made.
            if attempt + 1 == _CREATE_ATTEMPTS:
                raise StudyError(
                    f"cannot use storage {mask_url(url)}: {first_line(exc, url)}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, RuntimeError, ValueError) as exc:
            raise StudyError(
                f"cannot use storage {mask_url(url)}: {first_line(exc, url)}"
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
    manifest = storage.get_study_user_attrs(study_id).get(MANIFEST_ATTR)
    return dict(manifest) if isinstance(manifest, Mapping) else None


def manifest_of(study: optuna.Study | optuna.study.StudySummary) -> dict[str, Any]:
    """The manifest a study was created with; empty for a study without one."""
    manifest = study.user_attrs.get(MANIFEST_ATTR)
    return dict(manifest) if isinstance(manifest, Mapping) else {}


def total_reached(started: int, total: int) -> str:
    """The line a run prints when the study has started its ``--max-trials`` already."""
    return (
        f"nothing to run: the study has started {plural(started, 'trial')}, --max-trials {total}"
    )


def create_or_load_study(
    storage: RDBStorage,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    manifest: Mapping[str, Any],
) -> optuna.Study:
    """Creates the study, or resumes it if this program created it with a matching manifest.

    Args:
        manifest: what makes trials comparable: ``search_space``, ``protocol`` (epochs, data
            sizes, split seed) and ``data`` (file checksums). Stored as the study's
            ``manifest`` user attribute on creation.

    Raises:
        UsageError: the existing study has other objectives (``manifest["objectives"]``).
        StudyError: the existing study was made with another search space,
            protocol or data, or not by this program (no manifest); its trials would not be
            comparable with this run's.
    """
    objectives = study_objectives(manifest)
    try:
        created = False
        try:  # looked up first: a refused insert would still advance a PostgreSQL sequence
            storage.get_study_id_from_name(study_name)
        except KeyError:
            try:
                storage.create_new_study(directions(objectives), study_name)
                created = True
            except optuna.exceptions.DuplicatedStudyError:
                pass  # another run created it a moment ago
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StudyError(
            f"cannot create study {study_name!r}: {first_line(exc, storage.url)}"
        ) from None
    if created:
        study.set_user_attr(MANIFEST_ATTR, dict(manifest))
        with warnings.catch_warnings():  # experimental, and stable enough for a label
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(metric_names(objectives))
        return study
    stored = manifest_of_existing(storage, study_name)
    if stored is None:  # deleted since it was loaded
        raise no_such_study(storage, storage.url, study_name)
    check_objectives(stored, objectives, study_name)
    if study.directions != directions(objectives):  # made by hand with our manifest
        raise StudyError(f"study {study_name!r} has directions its manifest does not match")
    changed = [label for key, label in _COMPARED.items() if stored.get(key) != manifest[key]]
    if changed:
        raise StudyError(
            f"study {study_name!r} was made with a different {' and '.join(changed)}; "
            "its trials would not be comparable: choose another --study-name "
            "or rerun with the original settings"
        )
    return study


def check_objectives(
    stored: Mapping[str, Any] | None, objectives: Sequence[str], study_name: str
) -> None:
    """Refuses to resume a study made with other objectives; its trials' values differ.

    Raises:
        UsageError: ``stored`` (the study's manifest, None for no study) has other objectives.
    """
    if stored is not None and study_objectives(stored) != tuple(objectives):
        theirs = ",".join(study_objectives(stored))
        raise UsageError(
            f"study {study_name!r} optimizes {theirs}, this run {','.join(objectives)}: "
            f"rerun with --objectives {theirs}, or choose another --study-name"
        )


def manifest_of_existing(storage: BaseStorage, study_name: str) -> dict[str, Any] | None:
    """The manifest of the study, None if there is no such study.

    Raises:
        StudyError: the study exists and was not created by lenet-study (no manifest).
    """
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return None
    # A run that created the study a moment ago stores its manifest next.
    deadline = time.monotonic() + _MANIFEST_WAIT_SECONDS
    stored = stored_manifest(storage, study_name)
    while stored is None and not storage.get_n_trials(study_id) and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = stored_manifest(storage, study_name)
    if stored is None:
        raise not_ours(study_name)
    return stored


def not_ours(study_name: str) -> StudyError:
    """The error for a study that lenet-study did not create (it has no manifest)."""
    return StudyError(
        f"study {study_name!r} was not created by lenet-study (it has no manifest), so its "
        "trials are not LeNet-5 trials of this protocol; pass another --study-name "
        "(`lenet-study studies` lists them)"
    )


def load_study(storage_url: str, study_name: str) -> optuna.Study:
    """Loads an existing study for reading (trials); creates nothing.

    Raises:
        StudyError: no such storage or study, with the names that exist.
    """
    storage = open_existing_storage(storage_url)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise no_such_study(storage, storage_url, study_name) from None


def load_lenet_study(storage_url: str, study_name: str) -> optuna.Study:
    """``load_study`` for what only a lenet-study study makes sense of (export, report).

    Raises:
        StudyError: no such storage or study, or a study this program did not create.
    """
    study = load_study(storage_url, study_name)
    if not isinstance(study.user_attrs.get(MANIFEST_ATTR), Mapping):
        raise not_ours(study_name)
    return study


def no_such_study(storage: BaseStorage, storage_url: str, study_name: str) -> StudyError:
    """The error for a study name the storage does not hold, naming the ones it does."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    return StudyError(
        f"no study {study_name!r} in {mask_url(storage_url)}"
        + (f"; it has {', '.join(map(repr, names))}" if names else "; run `lenet-study run`")
    )
