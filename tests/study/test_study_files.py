"""`export` and `report` write only into the study's folder, and only files `delete-study` knows.

Studies are made by hand with a real (untrained) LeNet-5 model file: no training.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from study.cli import main
from study.errors import UsageError
from study.files import temporary_path
from study.paths import MAX_STUDY_NAME, check_study_name, is_study_file, study_folder

pytestmark = pytest.mark.slow  # loads Keras and the data; each export reloads a model
URL = "sqlite:///results/lenet-study.db"


def _accepted(name: str) -> bool:
    try:
        check_study_name(name)
    except UsageError:
        return False
    return True


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    from lenet import ModelConfig, build_model

    path = tmp_path_factory.mktemp("model") / "model.keras"
    build_model(ModelConfig()).save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A working folder with sentinels, copied for each example."""
    root = tmp_path_factory.mktemp("template")
    (root / "work" / "results" / "artifacts").mkdir(parents=True)
    (root / "outside").mkdir()
    for folder in ["work", "work/results", "work/results/artifacts", "outside"]:
        (root / folder / "sentinel.txt").write_text(f"sentinel in {folder}\n")
    return root


def _new_files(before: dict, after: dict) -> set[str]:
    assert {k: v for k, v in after.items() if k in before} == before  # nothing changed
    return set(after) - set(before)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=MAX_STUDY_NAME).filter(_accepted))
@example(name=".")
@example(name="..")
@example(name="artifacts")
@example(name="/tmp/x")
@example(name="a/../../b")
@example(name="lenet-study.db")
def test_export_writes_only_its_two_files_into_the_studys_folder(
    name, template, model_bytes, finished_study, snapshot, tmp_path_factory
):
    with tempfile.TemporaryDirectory(dir=tmp_path_factory.getbasetemp()) as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(template, root)
        with contextlib.chdir(root / "work"):
            finished_study(URL, name, Path("results"), n_trials=1, model=model_bytes)
            before = snapshot(root)
            argv = ["export", f"--study-name={name}", "--storage", URL, "--results-dir=results"]
            assert main(argv) == 0
            after = snapshot(root)
        folder = Path("work") / study_folder(Path("results"), name)
        assert _new_files(before, after) == {
            str(folder),
            str(folder / "best_model.keras"),
            str(folder / "best_model.json"),
        }


def test_report_writes_only_its_page_into_the_studys_folder(template, snapshot, tmp_path):
    name = "../artifacts"
    root = tmp_path / "root"
    shutil.copytree(template, root)
    with contextlib.chdir(root / "work"):
        study = optuna.create_study(study_name=name, storage=URL, direction="maximize")
        study.set_user_attr("manifest", {"protocol": {"epochs": 1}})  # as `run` creates it
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED,
                params={"dropout_rate": 0.1},
                distributions={"dropout_rate": optuna.distributions.FloatDistribution(0, 0.5)},
                intermediate_values={0: 0.5},
                user_attrs={"epochs_run": 1},
            )
        )
        before = snapshot(root)
        argv = ["report", f"--study-name={name}", "--storage", URL, "--results-dir=results"]
        assert main([*argv, "--no-pdf"]) == 0
        after = snapshot(root)
        assert main(["delete-study", f"--study-name={name}", "--storage", URL, "--yes"]) == 0
        deleted = snapshot(root)
    folder = Path("work") / study_folder(Path("results"), name)
    assert _new_files(before, after) == {str(folder), str(folder / "report.html")}
    database = "work/results/lenet-study.db"
    assert {k: v for k, v in deleted.items() if k != database} == {
        k: v for k, v in before.items() if k != database
    }


def test_every_file_export_and_report_name_is_a_study_file(tmp_path):
    from study.export import MODEL_NAME, RECORD_NAME
    from study.export_formats import FILES
    from study.report.retrain import CACHE_FILE

    for name in (MODEL_NAME, RECORD_NAME, CACHE_FILE, *FILES.values()):
        being_written = temporary_path(tmp_path / name).name  # as study.files writes it
        assert is_study_file(name) and is_study_file(being_written)
