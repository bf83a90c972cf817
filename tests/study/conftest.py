"""Fixtures of the study tests: hand-made finished studies, file trees, a PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
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


FrontStudy = Callable[..., optuna.Study]


def _front_study(
    url: str,
    name: str,
    results_dir: Path,
    points: list[tuple[float, int] | str],
    objectives: tuple[str, ...] = ("accuracy", "params"),
    model: bytes = b"model",
) -> optuna.Study:
    """Adds a study made as ``run --objectives`` makes it (its manifest and metric names), with
    one trial per point: ``(val_accuracy, size)`` completed, with ``model``'s bytes as its model
    file and ``size`` as its parameters and MACs too, or a state's name (``"PRUNED"``, ``"FAIL"``).
    With ``objectives=("accuracy",)``, a single-objective study whose trials record the sizes
    as their parameters."""
    from study.objectives import directions, metric_names

    study = optuna.create_study(study_name=name, storage=url, directions=directions(objectives))
    manifest = {"created": "2026-01-01T00:00:00+0000", "objectives": list(objectives)}
    study.set_user_attr("manifest", manifest)
    study.set_metric_names(metric_names(objectives))
    store = results_dir / "artifacts"
    store.mkdir(parents=True, exist_ok=True)
    distributions = {"dropout_rate": optuna.distributions.FloatDistribution(0, 0.5)}
    for number, point in enumerate(points):
        params = {"dropout_rate": number / 100}
        if isinstance(point, str):
            state = optuna.trial.TrialState[point]
            trial = optuna.trial.create_trial(
                state=state, params=params, distributions=distributions
            )
        else:
            accuracy, size = point
            artifact_id = str(uuid.uuid4())
            (store / artifact_id).write_bytes(model)
            trial = optuna.trial.create_trial(
                values=[accuracy, size][: len(objectives)],
                params=params,
                distributions=distributions,
                user_attrs={
                    "model_artifact_id": artifact_id,
                    "best_epoch": 0,
                    "n_params": size,
                    "n_macs": size,  # as a run records both sizes, whichever it optimizes
                },
            )
        study.add_trial(trial)
    return study


@pytest.fixture(scope="session")
def front_study() -> FrontStudy:
    """``front_study(url, name, results_dir, points, objectives=("accuracy", "params"),
    model=b"model")``: see above."""
    return _front_study


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A temporary PostgreSQL server on loopback with its own data folder."""
    if os.environ.get("LENET_TEST_POSTGRES_URL"):
        yield os.environ["LENET_TEST_POSTGRES_URL"]
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; CI installs it)")
    # Not under pytest's temporary folder: that is private to root, and the server runs as
    # the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="lenet-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    (folder / "pw").write_text("secret\n")
    if as_user:
        shutil.chown(folder / "pw", "postgres")
    subprocess.run(
        [
            *as_user,
            bins[-1] / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={folder / 'pw'}",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    subprocess.run(
        [
            *as_user,
            bins[-1] / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            folder / "log",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, bins[-1] / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )


# A multi-objective study's trials, as the objective records them: (val_accuracy per epoch,
# parameters); no parameters: pruned by the front pruner after those epochs.
PARETO_TRIALS: list[tuple[list[float], int | None]] = [
    ([0.80, 0.84, 0.85], 10_000),
    ([0.86, 0.89, 0.90], 100_000),  # the most accurate
    ([0.84, 0.88, 0.87], 1_000),  # smaller than all, less accurate: on the front too
    ([0.70, 0.72], None),
]


def _pareto_study(url: str, name: str = "pareto") -> optuna.Study:
    """A study of accuracy against parameters, made as ``run --preset pareto`` makes one (our
    manifest and metric names), whose trials record what a real objective records and run
    ``record_trial`` as a run does, without training: ``PARETO_TRIALS``, in order."""
    from study.objectives import metric_names
    from study.settings import RunSettings
    from study.space import suggest
    from study.storage import create_or_load_study, open_storage
    from study.trial_notes import record_trial
    from study.trial_record import Completed, Pruned, TrialRecord

    settings = RunSettings.pareto()
    space = settings.search_space()
    manifest = {
        "objectives": list(settings.objectives),
        "search_space": space.to_json(),
        "protocol": settings.protocol(),
        "sampler": "tpe",
        "pruner": "front",
        "seed": 0,
    }
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = create_or_load_study(
        open_storage(url), name, sampler, optuna.pruners.NopPruner(), manifest
    )
    assert study.metric_names == metric_names(settings.objectives)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        curve, size = PARETO_TRIALS[trial.number]
        suggest(trial, space)
        history = {
            "accuracy": [v + 0.02 for v in curve],
            "val_accuracy": curve,
            "loss": [1.0 - v for v in curve],
            "val_loss": [1.1 - v for v in curve],
        }
        TrialRecord(
            n_params=size or 20_000,
            n_macs=7 * (size or 20_000),
            seed=trial.number,
            history=history,
            epochs_run=len(curve),
            seconds_per_epoch=1.5,
        ).write(trial)
        if size is None:
            TrialRecord(end=Pruned(len(curve))).write(trial)
            raise optuna.TrialPruned(f"pruned at epoch {len(curve)}")
        confusion = [[100 + trial.number if i == j else j for j in range(10)] for i in range(10)]
        best = 1 + curve.index(max(curve))
        TrialRecord(best_epoch=best, val_confusion=confusion, end=Completed()).write(trial)
        return max(curve), float(size)

    study.optimize(objective, n_trials=len(PARETO_TRIALS), callbacks=[record_trial])
    return study


@pytest.fixture(scope="session")
def pareto_study() -> Callable[..., optuna.Study]:
    """``pareto_study(url, name="pareto")``: see above."""
    return _pareto_study
