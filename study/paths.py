"""Where a study's files go: a safe folder for any study name, and outputs checked before work.

A study name is free text in Optuna's storage, but ``export`` and ``report`` write to, and
``delete-study`` removes from, the study's folder below ``RESULTS_DIR``: a name like ``../x``,
``a/b`` or ``artifacts`` must never reach outside that folder or into another's. Light to import.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from study.errors import StudyError, UsageError
from study.files import temporary_target

MAX_STUDY_NAME = 200  # characters; a longer name is refused by `run`
_FOLDER_KEEPS = re.compile(r"[^A-Za-z0-9._-]")
_FOLDER_MAX = 100  # characters of the name kept in its folder name; well below 255 bytes
# Names kept as they are would meet the results folder's other entries (the artifact store,
# a SQLite database and its journals) or a hashed folder name of another study: hash them too.
_TAKEN = re.compile(r"(?i:artifacts|.*\.(db|sqlite3?)(-journal|-wal|-shm)?)|.*-[0-9a-f]{8}")
# The files `export` and `report` write into a study's folder, the only ones `delete-study`
# removes from it, and their temporary files while being written (study.files).
STUDY_FILES = (
    "best_model.keras", "best_model.json", "report.html", "report.pdf", "retrain.json",
    "report.es.html", "report.es.pdf",
    "best_model.onnx", "best_model.tflite", "best_model.int8.tflite",
)  # fmt: skip


def check_study_name(name: str) -> str:
    """Refuses a study name no one could type or read back: empty, too long, or with control
    characters. Any other name is allowed; ``study_folder`` makes it a safe folder name.

    Raises:
        UsageError: the message says what to give instead.
    """
    if not name.strip():
        raise UsageError("the study name is empty; give --study-name NAME")
    if len(name) > MAX_STUDY_NAME:
        raise UsageError(
            f"the study name has {len(name)} characters; give one of at most {MAX_STUDY_NAME}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError(f"the study name {name!r} holds control characters; give a plain one")
    return name


def study_folder_name(study_name: str) -> str:
    """A single, safe path component for a study name.

    Letters, digits, ``.``, ``_`` and ``-`` are kept; any other character becomes ``_`` and a
    leading ``.`` is dropped (no ``..``, no hidden folder). A name that had to change gets the
    first 8 hex digits of its SHA-256, so that ``a/b`` and ``a_b`` get different folders; so
    does a name that is ``artifacts``, looks like a SQLite file (``*.db``, ``*.sqlite``) or
    already ends in ``-`` and 8 hex digits: no two names share a folder, and no study's
    folder is the artifact store or the database.
    """
    safe = _FOLDER_KEEPS.sub("_", study_name)[:_FOLDER_MAX].lstrip(".")
    if safe and safe == study_name and not _TAKEN.fullmatch(safe):
        return safe
    digest = hashlib.sha256(study_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe or 'study'}-{digest}"


def study_folder(results_dir: Path, study_name: str) -> Path:
    """``results_dir / study_folder_name(study_name)``: always a child of ``results_dir``."""
    return results_dir / study_folder_name(study_name)


def folder_storage(folder: Path) -> str | None:
    """The storage that the export or report in ``folder`` came from, as their records name
    it (``best_model.json``, ``retrain.json``); None if neither names one."""
    for name in ("best_model.json", "retrain.json"):
        try:
            record = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("storage"), str):
            return str(record["storage"])
    return None


def check_folder_storage(folder: Path, storage: str) -> None:
    """Refuses a folder whose files came from a study of the same name in another storage:
    writing there would replace them, and deleting either study would take them.

    Raises:
        StudyError: the message names the other storage and what to pass instead.
    """
    other = folder_storage(folder)
    if other is not None and other != storage:
        raise StudyError(
            f"{folder} holds the files of a study of the same name in another storage "
            f"({other}); pass --out DIR, or another --results-dir"
        )


def is_study_file(name: str) -> bool:
    """Whether ``name`` is a file `export` or `report` writes into a study's folder."""
    return name in STUDY_FILES or temporary_target(name) in STUDY_FILES


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot be made or written to, or None if it can; creates nothing."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def check_writable_folder(folder: Path, what: str = "folder") -> None:
    """Refuses, before any work, a folder that cannot be created or written to.

    The folder need not exist: its nearest existing ancestor must be a writable folder.
    Nothing is created.

    Raises:
        StudyError: a file is in the way, or the folder is not writable.
    """
    problem = _unwritable(folder)
    if problem:
        raise StudyError(f"cannot write the {what} {folder}: {problem}")


SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SIDECARS = ("-journal", "-wal", "-shm")  # the files beside a SQLite database


def _is_database(path: Path) -> bool:
    """Whether ``path`` is a SQLite database or one of its journal files: never an output."""
    for suffix in SQLITE_SIDECARS:
        if path.name.endswith(suffix) and path.name != suffix:
            path = path.with_name(path.name[: -len(suffix)])
            break
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def check_writable_file(path: Path, what: str = "file") -> None:
    """Refuses, before any work, a file path that cannot be written: a folder, a SQLite
    database (a study's storage is never overwritten by an output), a read-only file, or a
    folder that cannot be made or written to. Nothing is created.

    Raises:
        StudyError: the message names the path and what is in the way.
    """
    if path.is_dir():
        problem: str | None = "it is a folder"
    elif _is_database(path):
        problem = "it is a SQLite database, perhaps a study storage; give another file name"
    elif path.exists():
        problem = None if os.access(path, os.W_OK) else "it is not writable"
    else:
        problem = _unwritable(path.parent)
    if problem:
        raise StudyError(f"cannot write the {what} {path}: {problem}")
