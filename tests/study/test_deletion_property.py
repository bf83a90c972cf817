"""Whatever a study is called, `delete-study` removes its own files and nothing else.

Each example copies a prepared working folder (sentinels in it, in the results folder, in the
artifact store, outside, and in the folder the name spells as a raw path; another study with
its files), adds the study by that name with model files and a report, deletes it and
compares the whole tree byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from study.cli import main
from study.errors import UsageError
from study.paths import MAX_STUDY_NAME, check_study_name, study_folder

URL = "sqlite:///results/lenet-study.db"  # relative: names like ".." meet the working folder
DATABASE = "work/results/lenet-study.db"


def accepted(name: str) -> bool:
    """Whether `run` takes the name (Optuna takes any)."""
    try:
        check_study_name(name)
    except UsageError:
        return False
    return True


_PARTS = [
    ".", "..", "", "a", "b", "artifacts", "results", "work", "outside", "lenet-study.db",
    "sentinel.txt",
]  # fmt: skip
NAMES = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=MAX_STUDY_NAME),
    st.text("./ab", min_size=1, max_size=12),
    st.lists(st.sampled_from(_PARTS), min_size=1, max_size=6).map("/".join),
    st.lists(st.sampled_from(_PARTS), min_size=1, max_size=6).map(lambda p: "/" + "/".join(p)),
    st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=150, max_size=200),
).filter(lambda name: accepted(name) and name != "other")


@pytest.fixture(scope="module")
def template(tmp_path_factory, finished_study) -> Path:
    """A working folder with sentinels and a study "other", copied for each example."""
    root = tmp_path_factory.mktemp("template")
    (root / "work" / "results" / "artifacts").mkdir(parents=True)
    (root / "outside").mkdir()
    for folder in ["work", "work/results", "work/results/artifacts", "outside"]:
        (root / folder / "sentinel.txt").write_text(f"sentinel in {folder}\n")
    with contextlib.chdir(root / "work"):
        finished_study(URL, "other", Path("results"))
        Path("results/other").mkdir()
        Path("results/other/report.html").write_text("<html>other</html>")
    return root


def _raw_sentinel(name: str, root: Path) -> None:
    """A sentinel in the folder the name spells as a raw path below the results folder,
    where that lies in the example's folder and is not the study's own folder."""
    raw = Path(os.path.normpath(root / "work" / "results" / name))
    if not raw.is_relative_to(root) or raw == study_folder(root / "work" / "results", name):
        return
    with contextlib.suppress(OSError):  # a part too long for a file name, or a file there
        raw.mkdir(parents=True, exist_ok=True)
        (raw / "raw-sentinel.txt").write_text(name)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
@example(name=".")
@example(name="..")
@example(name="artifacts")
@example(name="/tmp/x")
@example(name="a/../../b")
@example(name="lenet-study.db")
@example(name="x" * MAX_STUDY_NAME)
def test_delete_study_removes_exactly_the_studys_own_files(
    name, template, finished_study, snapshot, tmp_path_factory
):
    with tempfile.TemporaryDirectory(dir=tmp_path_factory.getbasetemp()) as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(template, root, symlinks=True)
        _raw_sentinel(name, root)
        with contextlib.chdir(root / "work"):
            ours = finished_study(URL, name, Path("results"))
            folder = study_folder(Path("results"), name)
            if not folder.exists():  # else a sentinel is there: not the study's, it stays
                folder.mkdir()
                for file in ["report.html", "best_model.keras", "best_model.json"]:
                    (folder / file).write_text(file)
                    ours.append(folder / file)
                ours.append(folder)
            before = snapshot(root)
            assert main(["delete-study", f"--study-name={name}", "--storage", URL, "--yes"]) == 0
            after = snapshot(root)
            studies = {s.study_name for s in optuna.get_all_study_summaries(URL)}
        gone = {str(Path("work", path)) for path in ours} | {DATABASE}
        assert {k: v for k, v in after.items() if k != DATABASE} == {
            k: v for k, v in before.items() if k not in gone
        }
        assert studies == {"other"}
