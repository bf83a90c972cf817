"""The artifact store that keeps every completed trial's best-epoch model file.

Optuna's ``FileSystemArtifactStore`` in ``RESULTS_DIR/artifacts``: the study writes to it,
optuna-dashboard lists and downloads from it, ``export`` copies the best model out of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from optuna.artifacts import FileSystemArtifactStore

from study.errors import StudyError
from study.files import atomic_path


class AtomicArtifactStore(FileSystemArtifactStore):
    """Optuna's file system store, whose files appear whole or not at all.

    Optuna's ``write`` opens the artifact's own name and copies into it, so a full disk or an
    interruption leaves a truncated model under a valid id. Here the copy goes to a hidden
    temporary name in the same folder, and is renamed to the id once flushed to disk.
    """

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        with atomic_path(self._get_filepath(artifact_id)) as partial, open(partial, "wb") as f:
            shutil.copyfileobj(content_body, f)


def artifact_dir(results_dir: Path) -> Path:
    """Where the trials' model files are kept, below the results folder."""
    return results_dir / "artifacts"


def artifact_store(results_dir: Path, create: bool = False) -> AtomicArtifactStore:
    """The study's artifact store; its folder is made only with ``create`` (a study writing).

    Raises:
        StudyError: the folder cannot be created (e.g. a file is in the way).
    """
    path = artifact_dir(results_dir)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(
                f"cannot create {path}: {exc.strerror}; pass another --results-dir"
            ) from None
    return AtomicArtifactStore(path)
