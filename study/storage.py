"""Opening the study's storage and creating or resuming the study, refusing mixed trials."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import optuna
import sqlalchemy
import sqlalchemy.exc
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

DIRECTION: Literal["maximize"] = "maximize"
METRIC_NAME = "val_accuracy"
MISSED_HEARTBEATS = 3  # a trial whose worker missed this many beats is failed and retried
MAX_RETRY = 2  # a killed trial is rerun with the same parameters at most this often
SQLITE_TIMEOUT_SECONDS = 60  # wait this long for another process' write lock


# The trials a study's total counts: every one a worker has started. A waiting trial (enqueued,
# or a killed worker's trial queued for its retry) counts once it runs.
STARTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

_COMPARED = {  # manifest keys that must match to resume, and how the user knows them
    "search_space": "search space",
    "protocol": "protocol (epochs, data sizes, split seed)",
    "data": "data files",
}


class StudyError(RuntimeError):
    """A problem the user can fix: bad storage, or a study that does not match this run."""


def parse_storage_url(url: str) -> sqlalchemy.engine.URL:
    """Parses a SQLAlchemy URL; raises ``ValueError`` with an example of a good one."""
    try:
        return sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ValueError(
            f"cannot parse storage URL {url!r}; use e.g. sqlite:///results/lenet-study.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from None


def open_storage(url: str, heartbeat_interval: int | None = None) -> RDBStorage:
    """Opens (and if needed creates) an Optuna RDB storage.

    SQLite files get their folder created and a lock timeout, so several local processes
    (workers, the dashboard) can share one file. With ``heartbeat_interval`` (seconds), a
    trial whose process died is marked failed by the next worker to start a trial, and retried
    with the same parameters at most ``MAX_RETRY`` times.

    Raises:
        ValueError: the URL cannot be parsed.
        StudyError: the database cannot be opened or holds another schema.
    """
    parsed = parse_storage_url(url)
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_SECONDS}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        heartbeat_kwargs: dict[str, Any] = {}
        if heartbeat_interval is not None:
            heartbeat_kwargs = {
                "heartbeat_interval": heartbeat_interval,
                "grace_period": MISSED_HEARTBEATS * heartbeat_interval,
                "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(MAX_RETRY),
            }
        try:
            return RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat_kwargs)
        except ModuleNotFoundError as exc:
            raise StudyError(
                f"storage {parsed.render_as_string()} needs the Python package {exc.name!r}; "
                f"pip install it"
            ) from None
        except (sqlalchemy.exc.SQLAlchemyError, RuntimeError, ValueError) as exc:
            raise StudyError(
                f"cannot use storage {parsed.render_as_string()}: {_first_line(exc)}"
            ) from None


def trials_started(storage: BaseStorage, study_name: str) -> int:
    """How many trials of the study have been started (``STARTED``); 0 if there is no study."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return storage.get_n_trials(study_id, STARTED)


def total_reached(started: int, total: int) -> str:
    """The line a run prints when the study has started its ``--max-trials`` already."""
    trials = "trial" if started == 1 else "trials"
    return f"nothing to run: the study has started {started} {trials}, --max-trials {total}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cpu_model() -> str:
    """The CPU model as the kernel names it ("Intel(R) Xeon(R) ..."), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Library and platform versions, recorded with every study and every exported model."""
    import keras
    import numpy
    import optuna_integration
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "optuna": optuna.__version__,
        "optuna_integration": optuna_integration.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
    }


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
            study.set_metric_names([METRIC_NAME])
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
    """Loads an existing study for reading (export, report, trials).

    Raises:
        StudyError: no such study, with the names that exist.
    """
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise StudyError(
            f"no study {study_name!r} in {storage_url}"
            + (f"; it has {', '.join(map(repr, names))}" if names else "; run `lenet-study run`")
        ) from None
