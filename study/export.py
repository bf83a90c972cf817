"""Exporting a study's best model, atomically, with the record that makes it trustworthy."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial

from lenet.data import load_fashion_mnist
from lenet.saving import ModelFileError, load_model, sha256_of
from lenet.session import clear_session
from study.artifacts import artifact_store
from study.errors import StudyError
from study.export_choice import TRIALS_COMMAND, Choice, choose_trial
from study.export_formats import (
    FILES,
    REPRESENTATIVE_IMAGES,
    REPRESENTATIVE_SEED,
    check_installed,
    convert,
    representative_images,
    runtime_versions,
    score,
    written_formats,
)
from study.files import discard, json_text, rename_into_place, temporary_path
from study.objectives import ACCURACY, study_objectives
from study.paths import check_folder_storage, check_writable_folder
from study.provenance import cpu_model, versions
from study.storage import load_lenet_study, manifest_of
from study.trial_record import TrialRecord

MODEL_NAME = "best_model.keras"
RECORD_NAME = "best_model.json"
BEST = Choice()


def fetch_trial_model(
    trial: FrozenTrial, store: FileSystemArtifactStore, destination: Path
) -> None:
    """Copies the trial's best-epoch model from the artifact store to ``destination``."""
    artifact_id = TrialRecord.of(trial).model_artifact_id
    if artifact_id is None:
        raise StudyError(f"trial {trial.number} kept no model file; rerun the study to make one")
    try:
        download_artifact(
            artifact_store=store, file_path=str(destination), artifact_id=artifact_id
        )
    except ArtifactNotFound:
        raise StudyError(
            f"the model file of trial {trial.number} is missing from the artifact store; "
            "pass the --results-dir the study ran with"
        ) from None


def export_best(
    study: optuna.Study,
    store: FileSystemArtifactStore,
    out_dir: Path,
    formats: Sequence[str] = ("keras",),
    data_dir: Path | None = None,
    storage: str | None = None,
    choice: Choice = BEST,
    trials_command: str = TRIALS_COMMAND,
) -> dict[str, Any]:
    """Writes ``best_model.keras`` and ``best_model.json`` for the trial ``choice`` names (by
    default the study's best), and the other ``formats`` (``onnx``, ``litert``: see
    ``study.export_formats``).

    Every file is written to a temporary name in ``out_dir``, the model is reloaded in safe
    mode and checked, each other format is scored against it on the test set, and only then
    are they renamed into place: an interrupted or failed export never replaces a good model
    with a broken one, and leaves none of its own files behind.

    Args:
        choice: which trial (see ``study.export_choice``); a study with a size objective has
            no single best, so it needs a trial or an accuracy to reach.
        trials_command: the command that lists the study's trials, for the messages.

    Returns:
        The record written to ``best_model.json``.

    Raises:
        UsageError: ``choice`` names no completed trial (see ``choose_trial``).
        StudyError: no completed trial, its model file is missing, ``out_dir`` cannot be
            written, a converter is not installed, or an exported model fails its check.
    """
    manifest = manifest_of(study)
    objectives = study_objectives(manifest)
    trial = choose_trial(study, choice, objectives, trials_command)
    check_writable_folder(out_dir, "export folder")
    if storage is not None:
        check_folder_storage(out_dir, storage)
    check_installed(formats)
    data = load_fashion_mnist(data_dir) if len(formats) > 1 else None  # before any write
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary: dict[str, Path] = {}  # file name in out_dir -> its temporary file
    try:
        tmp_model = temporary[MODEL_NAME] = temporary_path(out_dir / MODEL_NAME)
        fetch_trial_model(trial, store, tmp_model)
        sha256 = sha256_of(tmp_model)
        try:
            model = load_model(tmp_model, expected_sha256=sha256)
        except ModelFileError as exc:
            raise StudyError(
                f"the stored model of trial {trial.number} is unusable: {exc}"
            ) from None
        figures: dict[str, dict[str, Any]] = {}
        if data is not None:
            files = {
                name: temporary_path(out_dir / FILES[name]) for name in written_formats(formats)
            }
            temporary.update({FILES[name]: path for name, path in files.items()})
            convert(tmp_model, files, representative_images(data.x_train))
            figures = score(model, tmp_model, files, data.x_test, data.y_test)
        stored = TrialRecord.of(trial)
        names = {"keras": MODEL_NAME, **FILES}
        record = {
            "study_name": study.study_name,
            "storage": storage,  # storage_identity: which study of this name, no password
            "trial_number": trial.number,
            "params": trial.params,
            "val_accuracy": trial.values[0],
            "best_epoch": stored.best_epoch,
            # Trained on; a .keras file loads on either backend.
            "backend": manifest.get("backend", "tensorflow")
            if stored.backend is None
            else stored.backend,
            "n_params": model.count_params(),
            "sha256": sha256,
            "model_file": MODEL_NAME,
            "formats": {
                name: {
                    "file": names[name],
                    "sha256": sha256_of(temporary[names[name]]),
                    **figures.get(name, {}),
                }
                for name in ["keras", *written_formats(formats)]
            },
            "protocol": manifest.get("protocol"),
            "data": manifest.get("data"),
            "versions": {**manifest.get("versions", {}), "exported_with": versions()},
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "chosen": choice.to_dict(),
            "objectives": list(objectives),
            # Sizes are counts, stored by Optuna as floats.
            "objective_values": {
                name: value if name == ACCURACY else int(value)
                for name, value in zip(objectives, trial.values, strict=True)
            },
        }
        if figures:
            record["formats_checked_on"] = {
                "test_images": len(data.y_test) if data is not None else 0,
                "representative": {
                    "images": REPRESENTATIVE_IMAGES,
                    "from": "training split",
                    "seed": REPRESENTATIVE_SEED,
                },
                "cpu": cpu_model(),
                "versions": runtime_versions(),
            }
        clear_session()
        temporary[RECORD_NAME] = temporary_path(out_dir / RECORD_NAME)
        temporary[RECORD_NAME].write_text(json_text(record))
    except BaseException:
        discard(temporary.values())
        if created:
            with contextlib.suppress(OSError):  # only if still empty
                out_dir.rmdir()
        raise
    # Models first, the record last: a crash between the renames leaves models whose checksums
    # the old record does not match, which loading refuses, rather than a record vouching for a
    # stale file.
    rename_into_place(
        [(path, out_dir / name) for name, path in temporary.items() if name != RECORD_NAME]
        + [(temporary[RECORD_NAME], out_dir / RECORD_NAME)]
    )
    return record


def load_best_model(
    storage_url: str,
    study_name: str,
    results_dir: str | os.PathLike[str] = "results",
    choice: Choice | None = None,
) -> keras.Model:
    """Loads the best trial's model straight from a study's storage and artifact store.

    Args:
        storage_url: the study's SQLAlchemy URL, e.g. ``sqlite:///results/lenet-study.db``.
        study_name: the study's name.
        results_dir: the ``--results-dir`` the study ran with (holds ``artifacts/``).
        choice: which trial, as ``export`` chooses it (``study.export_choice``); needed for a
            study with a size objective, e.g. ``Choice("smallest_above", accuracy=0.9)``.

    Raises:
        StudyError: no such study, no completed trial, or its model file is missing or
            unusable.
        UsageError: ``choice`` names no completed trial, or none is given for a study with a
            size objective.
    """
    study = load_lenet_study(storage_url, study_name)
    trial = choose_trial(study, choice or Choice(), study_objectives(manifest_of(study)))
    store = artifact_store(Path(results_dir))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}.keras"
        fetch_trial_model(trial, store, path)
        try:
            return load_model(path)
        except ModelFileError as exc:  # names a temporary file: say which trial's model instead
            raise StudyError(
                f"the stored model of trial {trial.number} is unusable: "
                f"{str(exc).removeprefix(str(path)).lstrip()}"
            ) from None
