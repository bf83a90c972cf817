"""`lenet-study studies` and `delete-study`, on small hand-made studies."""

from __future__ import annotations

import io

import optuna
import pytest

from study.cli import main
from study.errors import UsageError
from study.manage import confirmed, format_studies, list_studies


def _study(url: str, name: str, results_dir, values: list[float | None]) -> list:
    """A study whose completed trials each have a model file in the artifact store."""
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    (results_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    files = []
    for i, value in enumerate(values):
        if value is None:
            study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED))
            continue
        artifact_id = f"{name}-{i}"
        (results_dir / "artifacts" / artifact_id).write_bytes(b"model")
        files.append(results_dir / "artifacts" / artifact_id)
        trial = optuna.trial.create_trial(
            value=value, user_attrs={"model_artifact_id": artifact_id}
        )
        study.add_trial(trial)
    return files


def _where(tmp_path) -> list[str]:
    return ["--storage", f"sqlite:///{tmp_path / 'db.sqlite'}", "--results-dir", str(tmp_path)]


def test_studies_lists_each_with_its_trials_by_state_and_best_value(tmp_path, storage_url):
    _study(storage_url, "b", tmp_path, [0.5, None, 0.7])
    _study(storage_url, "a", tmp_path, [])
    rows = list_studies(storage_url)
    assert [row.name for row in rows] == ["a", "b"]
    assert rows[1].states == {"complete": 2, "pruned": 1} and rows[1].best_value == 0.7
    table = format_studies(rows).splitlines()
    assert table[0].split() == ["name", "trials", "best", "val_accuracy", "created"]
    assert table[2].startswith("b ") and "3 (2 complete, 1 pruned)" in table[2]
    assert "0.7000" in table[2]


def test_studies_of_an_empty_storage_says_so(storage_url, capsys):
    optuna.storages.RDBStorage(storage_url)  # the schema, no study
    assert main(["studies", "--storage", storage_url]) == 0
    assert capsys.readouterr().out.startswith("no studies yet")


def test_delete_study_removes_its_trials_model_files_and_folder_only(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    gone = _study(url, "old", tmp_path, [0.5, 0.6])
    kept = _study(url, "new", tmp_path, [0.7])
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.html").write_text("<html>")
    assert main(["delete-study", "--study-name", "old", "--yes", *_where(tmp_path)]) == 0
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["new"]
    assert not any(path.exists() for path in gone) and all(path.exists() for path in kept)
    assert not (tmp_path / "old").exists()
    out = capsys.readouterr().out
    assert "deleted study 'old' (2 trials)" in out
    assert all(f"removed {path}" in out for path in gone)
    assert f"removed {tmp_path / 'old' / 'report.html'}" in out


def test_delete_study_with_keep_files_names_the_files_it_leaves(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    files = _study(url, "old", tmp_path, [0.5])
    (tmp_path / "old").mkdir()
    argv = ["delete-study", "--study-name", "old", "--yes", "--keep-files", *_where(tmp_path)]
    assert main(argv) == 0
    assert all(path.exists() for path in files)
    out = capsys.readouterr().out
    assert f"left {files[0]}" in out
    assert f"left {tmp_path / 'old'}/" in out


def test_delete_study_without_a_terminal_or_yes_refuses_with_one_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _study(url, "old", tmp_path, [0.5])
    # pytest's stdin is no terminal.
    assert main(["delete-study", "--study-name", "old", *_where(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and err.count("\n") == 1
    assert len(optuna.load_study(study_name="old", storage=url).trials) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "expected"), [("y\n", True), ("YES\n", True), ("\n", False)])
def test_the_question_takes_only_yes_for_an_answer(answer, expected, capsys):
    assert confirmed("delete study s with 2 trials? [y/N] ", False, _Terminal(answer)) is expected
    assert capsys.readouterr().out == "delete study s with 2 trials? [y/N] "


def test_yes_needs_no_terminal():
    assert confirmed("?", True, io.StringIO())
    with pytest.raises(UsageError):
        confirmed("?", False, io.StringIO())


def test_delete_study_of_a_missing_study_names_the_existing_ones(tmp_path, capsys):
    _study(f"sqlite:///{tmp_path / 'db.sqlite'}", "mine", tmp_path, [])
    assert main(["delete-study", "--study-name", "other", "--yes", *_where(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no study 'other'" in err and "'mine'" in err


def test_a_multi_objective_study_shows_its_most_accurate_trial(tmp_path, storage_url, front_study):
    # Optuna's summary has no best trial for several objectives; the front's top is listed.
    front_study(storage_url, "mo", tmp_path, [(0.8, 60_000), "PRUNED", (0.86, 90_000)])
    front_study(storage_url, "none-yet", tmp_path, ["FAIL"])
    plain = optuna.create_study(
        study_name="plain", storage=storage_url, directions=["minimize", "minimize"]
    )
    plain.add_trial(optuna.trial.create_trial(values=[3.0, 4.0]))
    rows = {row.name: row for row in list_studies(storage_url)}
    assert rows["mo"].best_value == 0.86
    assert rows["none-yet"].best_value is None
    assert rows["plain"].best_value is None  # its values measure who knows what
    table = format_studies(list(rows.values())).splitlines()
    assert table[1].startswith("mo ") and "0.8600" in table[1]
    assert table[3].startswith("plain ") and " - " in table[3]
