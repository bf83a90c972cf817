"""Deleting a study: its trials, the model files its own trials name, and its own folder's files.

Nothing else is ever removed. A model file is ``ARTIFACT_STORE/<id>`` for an id that is a
single file name and names a file (or link) that no other study of the storage names; in the
study's folder (``paths.study_folder``) only the files ``export`` and ``report`` write are
removed, and the folder itself only when that leaves it empty. A link is removed, never
followed. Every path is listed before anything is touched.

All or nothing, as far as the file system allows: every path is checked first (its folder must
be writable), then each is renamed aside within its own folder, and only when all are aside is
the study deleted from the storage; a rename or the storage failing puts every path back and
keeps the study. Only then are the renamed paths removed.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc

from study.artifacts import artifact_dir
from study.errors import StudyError
from study.masking import mask_url
from study.paths import SQLITE_SIDECARS, folder_storage, is_study_file, study_folder
from study.schema import first_line, sqlite_path
from study.storage import no_such_study, open_existing_storage, storage_identity
from study.text import plural
from study.trial_record import TrialRecord

_ASIDE = ".lenet-study-deleting-"  # a path's name between its rename and its removal


@dataclass(frozen=True)
class Deletion:
    """What deleting a study removes, and what it keeps and why."""

    storage_url: str
    study_name: str
    n_trials: int
    paths: tuple[Path, ...]  # files and links to remove: model files, then the folder's
    folder: Path | None  # the study's folder, removed once empty; None: kept or absent
    kept: tuple[str, ...]  # "PATH: why" for each thing of the study's that stays
    keep_files: bool = False  # delete the study from the storage only

    @property
    def study(self) -> str:
        return (
            f"study {self.study_name!r} ({plural(self.n_trials, 'trial')}) "
            f"in {mask_url(self.storage_url)}"
        )

    @property
    def files(self) -> list[str]:
        """The study's files and folder, a folder ending in a separator."""
        folder = [f"{self.folder}{os.sep}"] if self.folder is not None else []
        return [str(path) for path in self.paths] + folder

    @property
    def question(self) -> str:
        """Every path that goes and every one that stays, then ``delete? [y/N]``."""
        removes = [] if self.keep_files else self.files
        keeps = [f"{f}: --keep-files" for f in self.files] if self.keep_files else []
        lines = ["delete-study removes:", f"  {self.study}", *(f"  {p}" for p in removes)]
        if keeps or self.kept:
            lines += ["and keeps:", *(f"  {line}" for line in keeps + list(self.kept))]
        return "\n".join(lines) + "\ndelete? [y/N] "


def _is_file_name(artifact_id: object) -> bool:
    return (
        isinstance(artifact_id, str)
        and artifact_id not in ("", ".", "..")
        and "\0" not in artifact_id
        and os.path.basename(artifact_id) == artifact_id
        and (os.altsep is None or os.altsep not in artifact_id)
    )


def _artifact_ids(storage: optuna.storages.BaseStorage, study_id: int) -> dict[str, int]:
    """The model file ids the study's trials name, each with the first trial naming it."""
    ids: dict[str, int] = {}
    for trial in storage.get_all_trials(study_id, deepcopy=False):
        artifact_id = TrialRecord.of(trial).model_artifact_id
        if artifact_id is not None:  # any value: a foreign one is checked before use
            ids.setdefault(artifact_id, trial.number)
    return ids


_Ids = set[tuple[int, int]]  # (device, inode) pairs


def _identities(paths: Iterable[Path]) -> _Ids:
    """The (device, inode) of each path that exists, links followed."""
    found = set()
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        found.add((st.st_dev, st.st_ino))
    return found


def _lstat(path: Path) -> os.stat_result | None:
    """The path's own status (a link's, not its target's); None if there is nothing there.

    Raises:
        StudyError: the folder above cannot be read.
    """
    try:
        return path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StudyError(f"cannot look at {path}: {exc.strerror}") from None


def _database_files(storage_url: str) -> list[Path]:
    path = sqlite_path(storage_url)
    return [] if path is None else [Path(f"{path}{suffix}") for suffix in ("", *SQLITE_SIDECARS)]


def _model_files(
    storage: optuna.storages.BaseStorage, study_name: str, store: Path, protected: _Ids
) -> tuple[list[Path], list[str]]:
    """The model files to remove, and a line for each model file id that is kept."""
    others: dict[str, str] = {}  # model file id -> another study naming it
    for other in storage.get_all_studies():
        if other.study_name != study_name:
            other_id = storage.get_study_id_from_name(other.study_name)
            others.update(dict.fromkeys(_artifact_ids(storage, other_id), other.study_name))
    paths, kept = [], []
    own = _artifact_ids(storage, storage.get_study_id_from_name(study_name))
    for artifact_id, number in own.items():
        if not _is_file_name(artifact_id):
            kept.append(f"trial {number}'s model file {artifact_id!r}: not a file name in {store}")
            continue
        path = store / artifact_id
        st = _lstat(path)
        if st is None:
            continue  # already gone
        if artifact_id in others:
            kept.append(f"{path}: also the model file of study {others[artifact_id]!r}")
        elif not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            kept.append(f"{path}: not a file")
        elif not stat.S_ISLNK(st.st_mode) and (st.st_dev, st.st_ino) in protected:
            kept.append(f"{path}: the database or the artifact store")
        else:
            paths.append(path)
    return paths, kept


def _folder_files(
    folder: Path, results_dir: Path, protected: _Ids, storage: str
) -> tuple[list[Path], Path | None, list[str]]:
    """The study folder's files to remove, the folder if that empties it, and what is kept."""
    st = _lstat(folder)
    if st is None:
        return [], None, []
    if stat.S_ISLNK(st.st_mode):
        return [folder], None, []  # the link goes, never what it points to
    if not stat.S_ISDIR(st.st_mode):
        return [], None, [f"{folder}: a file where the study's folder would be"]
    if folder.parent != results_dir or (st.st_dev, st.st_ino) in protected:
        return [], None, [f"{folder}: not a folder inside {results_dir}"]  # never, by its name
    other = folder_storage(folder)
    if other is not None and other != storage:
        return [], None, [f"{folder}: the files of a study of the same name in {other}"]
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        raise StudyError(f"cannot read the study's folder {folder}: {exc.strerror}") from None
    ours: list[os.DirEntry[str]] = []
    theirs: list[os.DirEntry[str]] = []
    for entry in entries:
        mode = entry.stat(follow_symlinks=False).st_mode
        plain = stat.S_ISREG(mode) or stat.S_ISLNK(mode)
        same = not stat.S_ISLNK(mode) and _identities([Path(entry.path)]) & protected
        (ours if plain and not same and is_study_file(entry.name) else theirs).append(entry)
    paths = [folder / entry.name for entry in ours]
    if theirs:
        return paths, None, [f"{folder}: holds {len(theirs)} files lenet-study did not write"]
    return paths, folder, []


def _not_removable(paths: Iterable[Path]) -> list[str]:
    """Why each path cannot be removed: its folder is not writable."""
    problems = []
    for parent in dict.fromkeys(path.parent for path in paths):
        if not os.access(parent, os.W_OK | os.X_OK):
            problems.append(f"{parent} is not writable")
    return problems


def plan_deletion(
    storage_url: str, study_name: str, results_dir: Path, keep_files: bool = False
) -> Deletion:
    """Finds what deleting the study removes and keeps, removing nothing.

    Raises:
        StudyError: no database at ``storage_url``, no such study in it, or (unless
            ``keep_files``) a path that cannot be removed.
    """
    storage = open_existing_storage(storage_url)
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        raise no_such_study(storage, mask_url(storage_url), study_name) from None
    store = artifact_dir(results_dir)
    protected = _identities([results_dir, store, *_database_files(storage_url)])
    models, kept = _model_files(storage, study_name, store, protected)
    folder_files, folder, folder_kept = _folder_files(
        study_folder(results_dir, study_name),
        results_dir,
        protected,
        storage_identity(storage_url),
    )
    plan = Deletion(
        storage_url=storage_url,
        study_name=study_name,
        n_trials=len(storage.get_all_trials(study_id, deepcopy=False)),
        paths=tuple(models + folder_files),
        folder=folder,
        kept=tuple(kept + folder_kept),
        keep_files=keep_files,
    )
    problems = [] if keep_files else _not_removable([*plan.paths, *filter(None, [folder])])
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StudyError(
            f"cannot delete study {study_name!r}: {problems[0]}{more}; nothing deleted "
            "(make it writable, or pass --keep-files to delete the study only)"
        )
    return plan


def _delete_from_storage(plan: Deletion) -> None:
    try:
        storage = open_existing_storage(plan.storage_url)
        storage.delete_study(storage.get_study_id_from_name(plan.study_name))
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError) as exc:
        reason = first_line(exc.__cause__ or exc, plan.storage_url)
        raise StudyError(f"cannot delete study {plan.study_name!r}: {reason}") from None
    except KeyError:
        raise StudyError(f"study {plan.study_name!r} was deleted meanwhile") from None


def _put_back(moved: list[tuple[Path, Path]]) -> list[str]:
    """Renames each moved path back; the ones that could not be, as lines."""
    stuck = []
    for path, aside in reversed(moved):
        try:
            os.rename(aside, path)
        except OSError as exc:
            stuck.append(f"{path} is at {aside} ({exc.strerror})")
    return stuck


def delete(plan: Deletion) -> list[str]:
    """Deletes the study and, unless ``plan.keep_files``, its files (the module says how).

    Returns:
        One line per thing deleted, removed or left.

    Raises:
        StudyError: a path or the study could not be deleted; the message says what was
            removed and what was not.
    """
    done = f"deleted {plan.study}"
    if plan.keep_files:
        _delete_from_storage(plan)
        return [done, *(f"left {path}" for path in plan.files), *(f"left {k}" for k in plan.kept)]
    moved: list[tuple[Path, Path]] = []
    try:
        for path in plan.paths:
            aside = path.with_name(f"{_ASIDE}{uuid.uuid4().hex}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue  # gone meanwhile
            except OSError as exc:
                raise StudyError(f"cannot remove {path}: {exc.strerror}") from None
            moved.append((path, aside))
        _delete_from_storage(plan)
    except BaseException as exc:
        stuck = _put_back(moved)
        if isinstance(exc, StudyError):
            tail = f"; not put back: {'; '.join(stuck)}" if stuck else ""
            raise StudyError(f"{exc}; nothing deleted{tail}") from None
        raise
    failed = []
    for path, aside in moved:
        try:
            os.unlink(aside)
        except OSError as exc:
            failed.append(f"{path}, now {aside} ({exc.strerror})")
    if plan.folder is not None:
        try:
            os.rmdir(plan.folder)
        except OSError as exc:
            failed.append(f"{plan.folder} ({exc.strerror})")
    if failed:
        raise StudyError(f"{done}, but could not remove {'; '.join(failed)}; remove it by hand")
    removed = [f"removed {path}" for path, _ in moved]
    if plan.folder is not None:
        removed.append(f"removed {plan.folder}{os.sep}")
    return [done, *removed, *(f"kept {line}" for line in plan.kept)]
