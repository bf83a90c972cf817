"""Fixtures for tests that need a study's files without training: hand-made finished studies."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

FinishedStudy = Callable[..., list[Path]]


def _finished_study(
    url: str, name: str, results_dir: Path, n_trials: int = 2, model: bytes = b"model"
) -> list[Path]:
    """Adds a study whose trials completed as a run leaves them: each trial names its model
    file (``model``'s bytes) in ``RESULTS_DIR/artifacts`` by a fresh artifact id, as Optuna's
    ``upload_artifact`` makes. Returns the model files."""
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    study.set_user_attr("manifest", {"created": "2026-01-01T00:00:00+0000"})
    store = results_dir / "artifacts"
    store.mkdir(parents=True, exist_ok=True)
    files = []
    for number in range(n_trials):
        artifact_id = str(uuid.uuid4())
        (store / artifact_id).write_bytes(model)
        files.append(store / artifact_id)
        study.add_trial(
            optuna.trial.create_trial(
                value=0.5 + number / 100,
                params={"dropout_rate": 0.1 * number},
                distributions={"dropout_rate": optuna.distributions.FloatDistribution(0, 0.5)},
                user_attrs={"model_artifact_id": artifact_id, "best_epoch": 0},
            )
        )
    return files


@pytest.fixture(scope="session")
def finished_study() -> FinishedStudy:
    """``finished_study(url, name, results_dir, n_trials=2, model=b"model")``: see above."""
    return _finished_study


def tree(root: Path) -> dict[str, object]:
    """Every entry under ``root``, links not followed: a file's bytes, a link's target, or
    "folder"."""
    entries: dict[str, object] = {}
    found = []
    for folder, folders, files in os.walk(root):  # a link to a folder is listed, not entered
        found += [Path(folder, name) for name in folders + files]
    for path in sorted(found):
        key = str(path.relative_to(root))
        if path.is_symlink():
            entries[key] = ("link", str(path.readlink()))
        elif path.is_dir():
            entries[key] = "folder"
        else:
            entries[key] = path.read_bytes()
    return entries


@pytest.fixture(scope="session")
def snapshot() -> Callable[[Path], dict[str, object]]:
    """``snapshot(root)``: every entry under ``root`` with its bytes (see ``tree``)."""
    return tree
