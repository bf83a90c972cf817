"""`lenet-study export --trial N | --smallest-above ACCURACY`, on hand-made studies whose
trials keep a real (untrained) LeNet-5 model file."""

from __future__ import annotations

import json

import pytest

from lenet.saving import sha256_of
from study.cli import main
from study.export import MODEL_NAME, RECORD_NAME

# Trial 2 is pruned, 3 failed; 4 is beaten by 1. The front: 0, 1, 5.
POINTS = [(0.80, 60_000), (0.85, 90_000), "PRUNED", "FAIL", (0.85, 120_000), (0.88, 200_000)]
# What best_model.json has always had: the report and older readers rely on these keys.
RECORD_KEYS = {
    "study_name",
    "storage",
    "trial_number",
    "params",
    "val_accuracy",
    "best_epoch",
    "backend",
    "n_params",
    "sha256",
    "model_file",
    "formats",
    "protocol",
    "data",
    "versions",
    "exported_at",
}


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    from lenet import ModelConfig, build_model

    path = tmp_path_factory.mktemp("model") / "model.keras"
    build_model(ModelConfig()).save(path)
    return path.read_bytes()


def _where(tmp_path, name: str = "mo") -> list[str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    return ["--storage", url, "--results-dir", str(tmp_path), "--study-name", name]


@pytest.mark.parametrize(
    ("flags", "number", "chosen"),
    [
        (["--trial", "4"], 4, {"by": "trial", "trial": 4}),
        (["--smallest-above", "0.81"], 1, {"by": "smallest_above", "accuracy": 0.81}),
        (["--smallest-above", "0.88"], 5, {"by": "smallest_above", "accuracy": 0.88}),
    ],
)
def test_export_writes_the_chosen_trial_and_records_how_it_was_chosen(
    tmp_path, capsys, front_study, model_bytes, flags, number, chosen
):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "mo", tmp_path, POINTS, model=model_bytes)
    out = tmp_path / "export"
    assert main(["export", *_where(tmp_path), "--out", str(out), *flags]) == 0
    record = json.loads((out / RECORD_NAME).read_text())
    assert set(record) >= RECORD_KEYS
    accuracy, size = POINTS[number]
    assert record["trial_number"] == number and record["val_accuracy"] == accuracy
    assert record["chosen"] == chosen
    assert record["objectives"] == ["accuracy", "params"]
    assert record["objective_values"] == {"accuracy": accuracy, "params": size}
    assert record["sha256"] == sha256_of(out / MODEL_NAME)
    assert capsys.readouterr().out == (
        f"exported trial {number} (val_accuracy {accuracy:.4f}, {record['n_params']} "
        f"parameters) to {out / MODEL_NAME}\n"
    )


def test_export_of_a_macs_study_prints_the_size_objective_too(
    tmp_path, capsys, front_study, model_bytes
):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    front_study(url, "mo", tmp_path, POINTS, ("accuracy", "macs"), model=model_bytes)
    out = tmp_path / "export"
    assert main(["export", *_where(tmp_path), "--out", str(out), "--trial", "1"]) == 0
    record = json.loads((out / RECORD_NAME).read_text())
    assert record["objective_values"] == {"accuracy": 0.85, "macs": 90_000}
    assert f"parameters, 90000 macs) to {out / MODEL_NAME}" in capsys.readouterr().out


def test_a_single_objective_export_records_its_choice_and_objective(
    tmp_path, front_study, model_bytes
):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    front_study(url, "one", tmp_path, POINTS, ("accuracy",), model=model_bytes)
    out = tmp_path / "export"
    assert main(["export", *_where(tmp_path, "one"), "--out", str(out)]) == 0
    record = json.loads((out / RECORD_NAME).read_text())
    assert record["trial_number"] == 5
    assert record["chosen"] == {"by": "best"}
    assert record["objectives"] == ["accuracy"]
    assert record["objective_values"] == {"accuracy": 0.88}
    argv = ["export", *_where(tmp_path, "one"), "--out", str(out), "--smallest-above", "0.82"]
    assert main(argv) == 0  # the front against the trials' parameters
    assert json.loads((out / RECORD_NAME).read_text())["trial_number"] == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "no single best trial: choose one with --trial N or --smallest-above ACCURACY"),
        (["--smallest-above", "2"], "--smallest-above 2: give the validation accuracy"),
        (["--smallest-above", "0"], "--smallest-above 0: give the validation accuracy"),
        (["--smallest-above", "-1"], "--smallest-above -1: give the validation accuracy"),
        (["--smallest-above", "nan"], "--smallest-above nan: give the validation accuracy"),
        (["--trial", "1", "--smallest-above", "0.8"], "give only one"),
        (["--trial", "9"], "study 'mo' has no trial 9"),
        (["--trial", "2"], "trial 2 was pruned"),
        (["--trial", "3"], "trial 3 failed"),
        (["--smallest-above", "0.9"], "its most accurate is trial 5 at 0.8800"),
    ],
    ids=[
        "plain",
        "above-1",
        "zero",
        "negative",
        "nan",
        "both",
        "missing",
        "pruned",
        "failed",
        "above-front",
    ],
)
def test_a_refused_choice_exits_2_with_one_line_and_changes_nothing(
    tmp_path, capsys, front_study, model_bytes, snapshot, flags, message
):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "mo", tmp_path, POINTS, model=model_bytes)
    out = tmp_path / "export"
    assert main(["export", *_where(tmp_path), "--out", str(out), "--trial", "0"]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)  # the database, the model files and the earlier export
    assert main(["export", *_where(tmp_path), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert snapshot(tmp_path) == before


def test_the_plain_refusal_names_the_command_that_lists_the_front(tmp_path, capsys, front_study):
    front_study(f"sqlite:///{tmp_path / 'db.sqlite'}", "my study", tmp_path, POINTS)
    assert main(["export", *_where(tmp_path, "my study")]) == 2
    err = capsys.readouterr().err
    where = f"--storage sqlite:///{tmp_path / 'db.sqlite'} --results-dir {tmp_path}"
    assert f"`lenet-study trials --study-name 'my study' {where} --front`" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "db.sqlite"]


def test_load_best_model_takes_the_exports_choice_and_needs_one_on_a_front(
    tmp_path, front_study, model_bytes
):
    from study import load_best_model
    from study.errors import UsageError
    from study.export_choice import Choice

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    front_study(url, "mo", tmp_path, POINTS, model=model_bytes)
    with pytest.raises(UsageError, match="no single best trial: choose one with --trial N"):
        load_best_model(url, "mo", tmp_path)
    model = load_best_model(url, "mo", tmp_path, Choice("trial", trial=0))
    assert model.count_params() == 61_706  # the model file every trial of this study holds
