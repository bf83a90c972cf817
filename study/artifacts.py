"""The artifact store that keeps every completed trial's best-epoch model file.

Optuna's ``FileSystemArtifactStore`` in ``RESULTS_DIR/artifacts``: the study writes to it,
optuna-dashboard lists and downloads from it, ``export`` copies the best model out of it.
"""

from __future__ import annotations

from pathlib import Path

from optuna.artifacts import FileSystemArtifactStore

from study.errors import StudyError


def artifact_dir(results_dir: Path) -> Path:
    """Where the trials' model files are kept, below the results folder."""
    return results_dir / "artifacts"


def artifact_store(results_dir: Path, create: bool = False) -> FileSystemArtifactStore:
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
    return FileSystemArtifactStore(str(path))
