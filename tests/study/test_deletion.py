"""`delete-study` removes the study, its own model files and its own folder's files, nothing else.

Each case builds a working directory with sentinel files in it, in the results folder, in the
artifact store and outside, plus another study with its files, and checks the whole tree
byte for byte afterwards.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import study.deletion
from study.cli import main
from study.deletion import masked
from study.manage import confirmed
from study.paths import study_folder

ROOT = Path(__file__).resolve().parents[2]
URL = "sqlite:///results/lenet-study.db"  # relative: names like ".." meet the working folder
DATABASE = "work/results/lenet-study.db"


@pytest.fixture
def place(tmp_path, monkeypatch, finished_study) -> Path:
    """``tmp_path/work`` as the working folder, holding ``results``; sentinels everywhere; and
    a study "other" with its model files and report. Returns ``tmp_path``."""
    work = tmp_path / "work"
    (work / "results" / "artifacts").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    for sentinel in ["work", "work/results", "work/results/artifacts", "outside"]:
        (tmp_path / sentinel / "sentinel.txt").write_text(f"sentinel in {sentinel}\n")
    monkeypatch.chdir(work)
    finished_study(URL, "other", Path("results"))
    (Path("results/other")).mkdir()
    (Path("results/other/report.html")).write_text("<html>other</html>")
    return tmp_path


def _study_with_files(finished_study, name: str) -> list[Path]:
    """The study ``name``, and every file it owns: model files, then its folder's report."""
    files = finished_study(URL, name, Path("results"))
    folder = study_folder(Path("results"), name)
    if folder.exists():  # a sentinel file of that name: not the study's, and it stays
        return files
    folder.mkdir()
    (folder / "report.html").write_text("<html>")
    (folder / "best_model.json").write_text("{}")
    return [*files, folder / "best_model.json", folder / "report.html", folder]


def _delete(name: str, *more: str) -> int:
    return main(["delete-study", "--study-name", name, "--storage", URL, *more])


def _studies() -> dict[str, int]:
    return {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(URL)}


def _without(before: dict, root: Path, paths: list[Path], database: bool = True) -> dict:
    gone = {str((Path.cwd() / path).relative_to(root)) for path in paths}
    if database:
        gone |= {DATABASE}
    return {key: value for key, value in before.items() if key not in gone}


@pytest.mark.parametrize(
    "name",
    [".", "..", "artifacts", "lenet-study.db", "a/../../b", "results", "sentinel.txt", "OUTSIDE"],
)
def test_a_dangerous_name_deletes_only_that_studys_own_files(
    place, finished_study, snapshot, capsys, name
):
    if name == "OUTSIDE":
        name = str(place / "outside")  # an absolute name, once deleted as that folder
    (place / "work" / "b").mkdir()  # where "a/../../b" once led
    (place / "work" / "b" / "sentinel.txt").write_text("b")
    files = _study_with_files(finished_study, name)
    before = snapshot(place)
    assert _delete(name, "--yes") == 0
    assert _without(snapshot(place), place, []) == _without(before, place, files)
    assert _studies() == {"other": 2}
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"deleted study {name!r} (2 trials)" in captured.out
    assert all(f"removed {path}" in captured.out for path in files)


def test_a_symlinked_study_folder_loses_the_link_never_what_it_points_to(
    place, finished_study, snapshot
):
    files = finished_study(URL, "s", Path("results"))
    target = place / "outside" / "target"
    target.mkdir()
    (target / "report.html").write_text("<html>not the study's</html>")
    study_folder(Path("results"), "s").symlink_to(target, target_is_directory=True)
    before = snapshot(place)
    assert _delete("s", "--yes") == 0
    assert _without(snapshot(place), place, []) == _without(
        before, place, [*files, Path("results/s")]
    )
    assert (target / "report.html").read_text() == "<html>not the study's</html>"


def test_a_symlinked_model_file_loses_the_link_only(place, finished_study, snapshot):
    (model,) = finished_study(URL, "s", Path("results"), n_trials=1)
    model.unlink()
    model.symlink_to(place / "outside" / "sentinel.txt")
    before = snapshot(place)
    assert _delete("s", "--yes") == 0
    assert _without(snapshot(place), place, []) == _without(before, place, [model])


def _name_model(artifact_id: str) -> None:
    study = optuna.load_study(study_name="s", storage=URL)
    study.add_trial(
        optuna.trial.create_trial(value=0.1, user_attrs={"model_artifact_id": artifact_id})
    )


def test_model_file_ids_that_are_not_a_plain_file_of_the_store_are_kept(
    place, finished_study, snapshot, capsys
):
    files = finished_study(URL, "s", Path("results"))
    others = optuna.load_study(study_name="other", storage=URL).trials[0]
    Path("results/artifacts/afolder").mkdir()
    for artifact_id in [
        "../sentinel.txt", "sentinel.txt/..", str(place / "outside" / "sentinel.txt"), "", ".",
        "..", "afolder", others.user_attrs["model_artifact_id"], "missing",
    ]:  # fmt: skip
        _name_model(artifact_id)
    before = snapshot(place)
    assert _delete("s", "--yes") == 0
    assert _without(snapshot(place), place, []) == _without(before, place, files)
    out = capsys.readouterr().out
    assert out.count("not a file name in results/artifacts") == 6
    assert "results/artifacts/afolder: not a file" in out
    assert "also the model file of study 'other'" in out


def test_files_lenet_study_did_not_write_keep_the_study_folder(place, finished_study, snapshot):
    files = _study_with_files(finished_study, "s")
    Path("results/s/notes.txt").write_text("mine")
    Path("results/s/sub").mkdir()
    before = snapshot(place)
    assert _delete("s", "--yes") == 0
    assert _without(snapshot(place), place, []) == _without(before, place, files[:-1])


def test_the_database_is_never_one_of_the_studys_files(tmp_path, monkeypatch, finished_study):
    monkeypatch.chdir(tmp_path)
    Path("results/s").mkdir(parents=True)
    url = "sqlite:///results/s/report.html"  # the database where the study's report would be
    finished_study(url, "s", Path("results"))
    assert main(["delete-study", "--study-name", "s", "--storage", url, "--yes"]) == 0
    assert optuna.get_all_study_summaries(url) == [] and Path("results/s").is_dir()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer", ["n\n", "y\n"])
def test_the_question_lists_every_path_it_removes_before_removing_any(
    place, finished_study, snapshot, monkeypatch, capsys, answer
):
    files = _study_with_files(finished_study, "s")
    Path("results/s/notes.txt").write_text("mine")
    before = snapshot(place)
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    assert _delete("s") == 0
    question, _, rest = capsys.readouterr().out.partition("delete? [y/N] ")
    assert question.splitlines() == [
        "delete-study removes:",
        f"  study 's' (2 trials) in {URL}",
        *(f"  {path}" for path in files[:-1]),
        "and keeps:",
        "  results/s: holds 1 files lenet-study did not write",
    ]
    if answer == "n\n":
        assert rest == "nothing deleted\n" and snapshot(place) == before
    else:
        assert _without(snapshot(place), place, []) == _without(before, place, files[:-1])


def test_with_keep_files_the_question_names_what_stays(place, finished_study, capsys):
    files = _study_with_files(finished_study, "s")
    assert confirmed(study.deletion.plan_deletion(URL, "s", Path("results"), True).question, True)
    assert _delete("s", "--yes", "--keep-files") == 0
    assert all(path.exists() for path in files) and "s" not in _studies()
    out = capsys.readouterr().out
    assert all(f"left {path}" in out for path in files)


def test_a_url_with_a_password_is_shown_masked():
    assert masked("postgresql+psycopg://me:s3cret@db/x") == "postgresql+psycopg://me:***@db/x"
    assert masked(URL) == URL


def _as_unprivileged(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs the CLI without root's power to ignore file permissions, where it has it."""
    command = [sys.executable, "-c", "import sys; from study.cli import main; sys.exit(main())"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        drop = "-dac_override,-dac_read_search,-fowner"
        command = ["setpriv", "--inh-caps=-all", f"--bounding-set={drop}", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*command, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow  # starts a process
@pytest.mark.parametrize("read_only", ["results/artifacts", "results/s", "results"])
def test_an_unwritable_folder_refuses_before_anything_is_touched(
    place, finished_study, snapshot, read_only
):
    _study_with_files(finished_study, "s")
    os.chmod(read_only, 0o555)
    before = snapshot(place)
    try:
        done = _as_unprivileged(["delete-study", "--study-name", "s", "--yes"], Path.cwd())
    finally:
        os.chmod(read_only, 0o755)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1
    assert f"{read_only} is not writable; nothing deleted" in done.stderr
    assert snapshot(place) == before  # the database's bytes too


def test_a_rename_failing_midway_puts_every_path_back(place, finished_study, snapshot, capsys):
    files = _study_with_files(finished_study, "s")
    before = snapshot(place)
    rename, calls = os.rename, []

    def fail_third(source, destination):
        calls.append(source)
        if len(calls) == 3:
            raise PermissionError(13, "Permission denied")
        rename(source, destination)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(study.deletion.os, "rename", fail_third)
        assert _delete("s", "--yes") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot remove {files[2]}: Permission denied; nothing deleted" in err
    assert snapshot(place) == before and _studies() == {"other": 2, "s": 2}


def test_a_storage_failure_puts_every_path_back(place, finished_study, snapshot, capsys):
    _study_with_files(finished_study, "s")
    before = snapshot(place)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            optuna.storages.RDBStorage,
            "delete_study",
            lambda self, study_id: (_ for _ in ()).throw(
                optuna.exceptions.StorageInternalError("database is locked")
            ),
        )
        assert _delete("s", "--yes") == 1
    err = capsys.readouterr().err
    assert "cannot delete study 's': database is locked; nothing deleted" in err
    assert err.count("\n") == 1
    assert snapshot(place) == before and "s" in _studies()


def test_a_removal_failing_after_the_study_is_gone_names_what_is_left(
    place, finished_study, capsys
):
    files = _study_with_files(finished_study, "s")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(study.deletion.os, "unlink", lambda path: (_ for _ in ()).throw(
            PermissionError(1, "Operation not permitted")
        ))  # fmt: skip
        assert _delete("s", "--yes") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("lenet-study: error: deleted study 's' (2 trials)")
    assert f"could not remove {files[0]}, now results/artifacts/.lenet-study-deleting-" in err
    assert "s" not in _studies()


@pytest.mark.parametrize("blocked", ["results", "results/artifacts"])
def test_a_file_where_a_folder_should_be_is_no_folder_to_delete_from(
    place, finished_study, snapshot, capsys, blocked
):
    files = finished_study(URL, "s", Path("results"))
    for path in files:
        path.unlink()
    shutil.move("results", "stored")  # the storage stays reachable at its new place
    url = "sqlite:///stored/lenet-study.db"
    Path(blocked).parent.mkdir(parents=True, exist_ok=True)
    Path(blocked).write_text("a file")
    argv = ["delete-study", "--study-name", "s", "--storage", url, "--results-dir", "results"]
    before = snapshot(place)
    assert main([*argv, "--yes"]) == 0
    after = snapshot(place)
    assert {k: v for k, v in after.items() if "lenet-study.db" not in k} == {
        k: v for k, v in before.items() if "lenet-study.db" not in k
    }
    assert capsys.readouterr().err == ""
