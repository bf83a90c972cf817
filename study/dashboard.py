"""Serving optuna-dashboard on a study's storage, with the trials' model files.

What each trial shows there (its note, curves and the best confusion matrix) is written while
the study runs, by ``study.trial_notes``. Serving needs no TensorFlow.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TextIO

import optuna
from optuna_dashboard import run_server

from study.artifacts import artifact_store
from study.errors import StudyError
from study.masking import mask_url
from study.settings import DEFAULT_DASHBOARD_HOST as DEFAULT_HOST
from study.settings import DEFAULT_DASHBOARD_PORT as DEFAULT_PORT
from study.storage import open_existing_storage

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_warning(host: str) -> str | None:
    """The warning for a non-local ``host``, or None: the dashboard has no login."""
    if host in LOCAL_HOSTS:
        return None
    return (
        f"lenet-study: warning: the dashboard has no login; anyone who can reach {host} "
        "can read, edit and delete this storage's studies"
    )


def dashboard_url(host: str, port: int, study_id: int | None = None) -> str:
    """The URL to open: the study's page, or the list of studies."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    path = f"/dashboard/studies/{study_id}" if study_id is not None else "/dashboard"
    return f"http://{netloc}{path}"


def serve(
    storage_url: str,
    study_name: str,
    results_dir: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    out: TextIO | None = None,
) -> None:
    """Serves optuna-dashboard on the storage, with the trials' model files, until Ctrl-C.

    Prints the study's URL (or the study list's, if the study is not created yet) and, for
    a non-local ``host``, a warning on stderr.

    Raises:
        UsageError: the storage URL cannot be parsed.
        StudyError: no storage there (a mistyped path would otherwise show an empty new
            database), the storage is unusable, or the port is taken.
    """
    out = out or sys.stdout
    # Same engine settings as the study's workers: a lock timeout, so reading while a study
    # writes waits instead of failing either side.
    storage = open_existing_storage(storage_url)
    try:
        study_id: int | None = storage.get_study_id_from_name(study_name)
    except KeyError:  # not created yet: the study list shows it once it is
        study_id = None
        print(f"lenet-study: no study {study_name!r} yet in {mask_url(storage_url)}", file=out)
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    print(f"optuna-dashboard: {dashboard_url(host, port, study_id)}  (Ctrl-C stops)", file=out)
    out.flush()
    store = artifact_store(results_dir)
    with warnings.catch_warnings():  # the artifact store is experimental, and stable enough
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            run_server(storage, host=host, port=port, artifact_store=store)
        except OSError as exc:
            raise StudyError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another --port"
            ) from None
