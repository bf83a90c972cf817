"""`lenet-study trials`: a multi-objective study's values and front, on screen, CSV and JSON."""

from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from study.cli import main

# Trial 2 is pruned; 3 is beaten by 1, 5 by 4: the front is 0, 1, 4.
POINTS = [
    (0.80, 60_000),
    (0.85, 90_000),
    "PRUNED",
    (0.85, 120_000),
    (0.88, 200_000),
    (0.70, 200_000),
]


def _where(tmp_path, name: str = "mo") -> list[str]:
    return [
        "--storage",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--results-dir",
        str(tmp_path),
        "--study-name",
        name,
    ]


@pytest.mark.parametrize("front", [False, True])
def test_the_screen_csv_and_json_carry_the_same_columns_and_rows(
    tmp_path, capsys, front_study, front
):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "mo", tmp_path, POINTS)
    csv, data = tmp_path / "out" / "trials.csv", tmp_path / "out" / "trials.json"
    argv = ["trials", *_where(tmp_path), "--csv", str(csv), "--json", str(data)]
    assert main(argv + ["--front"] * front) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0].split(), lines[1:-2]
    assert lines[-2:] == [f"wrote {csv}", f"wrote {data}"]
    table = pd.read_csv(csv)
    records = json.loads(data.read_text())
    assert header == list(table.columns) == list(records[0])
    assert header[:5] == ["number", "state", "val_accuracy", "params", "front"]
    numbers = [0, 1, 4] if front else list(range(6))
    assert [int(row.split()[0]) for row in rows] == numbers
    assert table["number"].tolist() == [r["number"] for r in records] == numbers
    assert [r["front"] for r in records] == [n in (0, 1, 4) for n in numbers]
    assert [r["params"] for r in records][:2] == [60_000, 90_000]
    if not front:
        assert records[2]["val_accuracy"] is None and records[2]["params"] is None


def test_front_of_a_study_with_no_completed_trial_says_so(tmp_path, capsys, front_study):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "mo", tmp_path, ["PRUNED"])
    assert main(["trials", *_where(tmp_path), "--front"]) == 0
    assert capsys.readouterr().out == "no completed trial yet, so no front\n"


def test_front_of_a_plain_optuna_study_of_two_objectives_exits_2_and_writes_nothing(
    tmp_path, capsys, snapshot
):
    study = optuna.create_study(
        study_name="mo",
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        directions=["maximize", "minimize"],
    )
    study.add_trial(optuna.trial.create_trial(values=[0.5, 3.0]))
    before = snapshot(tmp_path)
    csv = tmp_path / "trials.csv"
    assert main(["trials", *_where(tmp_path), "--front", "--csv", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "no accuracy-size front" in err and err.count("\n") == 1
    assert snapshot(tmp_path) == before


def test_the_single_objective_table_is_unchanged_without_front(tmp_path, capsys, front_study):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "one", tmp_path, POINTS, ("accuracy",))
    assert main(["trials", *_where(tmp_path, "one")]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:4] == ["number", "state", "val_accuracy", "duration"]
    assert "front" not in header
    assert main(["trials", *_where(tmp_path, "one"), "--front"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["number", "state", "val_accuracy", "params", "front"]
    assert [int(line.split()[0]) for line in lines[1:]] == [0, 1, 4]


def test_front_of_trials_without_a_parameter_count_says_so(tmp_path, capsys, finished_study):
    finished_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "old", tmp_path)  # no n_params
    assert main(["trials", *_where(tmp_path, "old"), "--front"]) == 0
    assert (
        capsys.readouterr().out == "no completed trial records its parameter count, so no front\n"
    )
