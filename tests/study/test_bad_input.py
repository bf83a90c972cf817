"""Bad input, one case per row: the exit code, one line on stderr, and no file changed.

Every case runs in one folder that holds a real small study and its export, another program's
database, bad space files and broken model files. Each case hashes every file in it before
and after: a refusal writes nothing, not even a new database or an empty folder.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import zipfile
from pathlib import Path

import keras
import optuna
import pytest
from PIL import Image

from study.cli import main

NAME = "lenet5-fashion-mnist"
# The module's study: 2 trials of 1 epoch on 1,000 images, in this process.
TINY = ["--quick", "--n-trials", "2", "--epochs", "1", "--workers", "1"]
TINY += ["--train-limit", "1000", "--val-limit", "500"]
RES = ["--results-dir", "res"]  # the study's results folder, relative to the module folder
MODEL = "res/lenet5-fashion-mnist/best_model.keras"
NEW_DB = ["--storage", "sqlite:///new/new.db"]  # must never come to exist
PEERS = ["--section", "peers", "--quick"]  # bench's comparison with the other tuners

SPACES = {
    "tanhh.toml": '[params]\nactivation = { choices = ["tanh", "tanhh"] }\n',
    "dropout.toml": "[params]\ndropout_rate = { low = -0.1, high = 0.5 }\n",
    "fixed.toml": '[params]\nc1_filters = { low = 4, high = 8 }\n[fixed]\npooling = "mean"\n',
    "enqueue.toml": "[params]\nc1_filters = { low = 4, high = 8 }\n[[enqueue]]\nc1_filters = 9\n",
    "enqueue_value.toml": '[params]\nactivation = { choices = ["tanh", "relu"] }\n'
    "learning_rate = { low = 1e-4, high = 1e-2 }\n"
    '[fixed]\noptimizer = "adam"\n[[enqueue]]\nactivation = "tanh"\nlearning_rate = 0.02\n',
    "not_toml.toml": "[params\n",
    "other.toml": "[params]\nc1_filters = { low = 4, high = 8 }\n",  # valid, not the study's
}


def _tree_hashes(root: Path) -> dict[str, str]:
    """Every file and folder under root: a file by its SHA-256, a folder by its existence."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A real small study and its export in res/, and the bad files the cases use."""
    root = tmp_path_factory.mktemp("bad_input")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert main(["run", *TINY, *RES]) == 0
        assert main(["export", *RES]) == 0
    connection = sqlite3.connect(root / "other.db")
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.commit()
    connection.close()
    (root / "notes.db").write_text("my notes, not a database\n" * 50)
    (root / "afile").write_text("a regular file where a folder is expected\n")
    spaces = root / "spaces"
    spaces.mkdir()
    for name, text in SPACES.items():
        (spaces / name).write_text(text)
    models = root / "models"
    models.mkdir()
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(models / "five.keras")
    (models / "notzip.keras").write_text("not a zip archive\n")
    with zipfile.ZipFile(models / "empty.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, but no model in it")
    (models / "legacy.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    tampered = models / "tampered"
    tampered.mkdir()
    shutil.copy(root / MODEL, tampered / "best_model.keras")
    shutil.copy(root / MODEL.replace(".keras", ".json"), tampered / "best_model.json")
    with open(tampered / "best_model.keras", "ab") as f:
        f.write(b"\0")  # still a zip (trailing bytes), no longer the exported file
    (root / "notimage.png").write_text("not a picture\n")
    Image.new("L", (28, 28), 0).save(root / "blank.png")
    return root


CASES = [
    # A database of another program, for every command that takes --storage.
    (["run", *TINY, "--storage", "sqlite:///other.db", *RES], 1, "belongs to another program"),
    (["trials", "--storage", "sqlite:///other.db"], 1, "belongs to another program"),
    (["export", "--storage", "sqlite:///other.db", *RES], 1, "belongs to another program"),
    (["report", "--storage", "sqlite:///other.db", *RES], 1, "belongs to another program"),
    (["dashboard", "--storage", "sqlite:///other.db", *RES], 1, "belongs to another program"),
    (["trials", "--storage", "sqlite:///notes.db"], 1, "cannot use storage"),
    (["run", *TINY, "--storage", "sqlite:///res", *RES], 1, "cannot use storage"),  # a folder
    # A database whose driver is not installed; a URL that is not one.
    (["run", *TINY, "--storage", "mysql://u:p@localhost/db", *RES], 1, "pip install mysqlclient"),
    (["trials", "--storage", "mysql://u:p@localhost/db"], 1, "pip install mysqlclient"),
    (["trials", "--storage", "no-such-scheme:/x"], 2, "cannot parse storage URL"),
    # A bad space file, refused before the database exists.
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/tanhh.toml"], 2, "'tanhh'"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/dropout.toml"], 2, "dropout_rate"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/fixed.toml"], 2, "[fixed]"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/enqueue.toml"], 2, "[[enqueue]] point 1"),
    (
        ["run", *TINY, *NEW_DB, *RES, "--space", "spaces/enqueue_value.toml"],
        2,
        "outside its range",
    ),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/not_toml.toml"], 2, "not valid TOML"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/missing.toml"], 2, "cannot read search"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces"], 2, "cannot read search"),
    (["bench", *PEERS, "--space", "spaces/tanhh.toml"], 2, "'tanhh'"),
    # Study names no one could type back; names that are not folder names are mapped instead.
    (["run", *TINY, *NEW_DB, *RES, "--study-name", ""], 2, "study name is empty"),
    (["run", *TINY, *NEW_DB, *RES, "--study-name", "a\x01b"], 2, "control characters"),
    (["run", *TINY, *NEW_DB, *RES, "--study-name", "x" * 300], 2, "at most 200"),
    (["export", *RES, "--study-name", "../esc/x"], 1, "no study '../esc/x'"),
    # Outputs that cannot be written: refused before any work.
    (["run", *TINY, *NEW_DB, "--results-dir", "afile/res"], 1, "afile is a file"),
    (["run", *TINY, "--results-dir", "afile"], 1, "afile is a file"),
    (["trials", "--results-dir", "afile"], 1, "no storage at afile"),
    (["export", *RES, "--out", "afile/out"], 1, "cannot write the export folder"),
    (["report", *RES, "--no-pdf", "--out", "afile/out"], 1, "cannot write the report folder"),
    (["trials", *RES, "--csv", "afile/trials.csv"], 1, "cannot write the CSV file"),
    (["trials", *RES, "--csv", "res"], 1, "it is a folder"),
    (["evaluate", "--model", MODEL, "--json", "afile/e.json"], 1, "cannot write the JSON"),
    (["bench", "--quick", "--json", "afile/bench.json"], 1, "cannot write the JSON"),
    (["bench", *PEERS, "--json", "afile/peers.json"], 1, "cannot write the JSON"),
    # Model files: missing, not .keras, not a zip, no model inside, tampered, wrong outputs.
    (["evaluate", "--model", "models/missing.keras"], 1, "does not exist"),
    (["evaluate", "--model", "afile"], 1, "not a .keras model archive"),
    (["evaluate", "--model", "models/notzip.keras"], 1, "not a .keras model archive"),
    (["evaluate", "--model", "models/empty.keras"], 1, "could not be loaded"),
    (["evaluate", "--model", "models/legacy.h5"], 1, "legacy HDF5"),
    (["evaluate", "--model", "models/tampered/best_model.keras"], 1, "SHA-256"),
    (["evaluate", "--model", "models/five.keras"], 1, "outputs shape (5,)"),
    (["predict", "--model", "models/five.keras", "blank.png"], 1, "outputs shape (5,)"),
    (["predict", "--model", MODEL, "notimage.png"], 1, "not a readable image"),
    (["predict", "--model", MODEL, "missing.png"], 1, "not a readable image"),
    # Missing data.
    (["run", *TINY, *NEW_DB, *RES, "--data-dir", "nodata"], 1, "is missing"),
    (["run", *TINY, *NEW_DB, *RES, "--data-dir", "nodata", "--workers", "2"], 1, "is missing"),
    (["evaluate", "--model", MODEL, "--data-dir", "nodata"], 1, "is missing"),
    (["bench", *PEERS, "--data-dir", "nodata"], 1, "is missing"),
    # A resumed study must match: epochs, space, data sizes; a study that does not exist.
    (["run", *TINY, *RES, "--epochs", "2"], 1, "different protocol"),
    (["run", *TINY, *RES, "--space", "spaces/other.toml"], 1, "different search space"),
    (["run", *TINY, *RES, "--train-limit", "900"], 1, "different protocol"),
    (
        [
            "run",
            *TINY,
            "--storage",
            "sqlite:///res/lenet-study.db",
            "--results-dir",
            "new",
            "--epochs",
            "2",
        ],
        1,
        "different protocol",
    ),
    (["trials", *RES, "--study-name", "nope"], 1, "no study 'nope'"),
    # Flags argparse refuses: one line too, not the usage text.
    (["run", "--max-trials", "0"], 2, "--max-trials: expected a positive integer"),
    (["run", "--startup-epochs", "-1"], 2, "--startup-epochs: expected 0 or a positive"),
    (["run", "--startup-trials", "-1"], 2, "--startup-trials: expected 0 or a positive"),
    (["run", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["fly"], 2, "invalid choice: 'fly'"),
    (["evaluate"], 2, "--model"),
    (["dashboard", "--port", "70000"], 2, "port number up to 65535"),
    (["report", "--seeds", "0"], 2, "positive integer"),
    (["bench", "--section", "peers", "--budget", "0"], 2, "positive number"),
    (["bench", "--budget", "60"], 2, "--budget: only with --section peers"),
    (["bench", "--startup-trials", "5"], 2, "--startup-trials: only with --section peers"),
    (["bench", *PEERS, "--contenders", "ours,grid"], 2, "contenders must be distinct names"),
]


def _case_id(case: tuple[list[str], int, str]) -> str:
    argv = case[0]
    if argv[1 : 1 + len(TINY)] == TINY:
        argv = [argv[0], *argv[1 + len(TINY) :]]
    return " ".join(argv).encode("unicode_escape").decode()[:80]


@pytest.mark.parametrize(("argv", "code", "message"), CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_refused_with_one_line_and_writes_nothing(
    folder, monkeypatch, capsys, argv, code, message
):
    monkeypatch.chdir(folder)
    before = _tree_hashes(folder)
    try:
        exit_code = main(argv)
    except SystemExit as exc:  # argparse
        exit_code = exc.code
    err = capsys.readouterr().err
    assert exit_code == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert message in lines[0]
    assert lines[0].startswith("lenet-study")
    assert _tree_hashes(folder) == before


def test_export_of_a_study_named_like_a_path_writes_inside_the_results(folder, tmp_path):
    results = tmp_path / "res"
    shutil.copytree(folder / "res", results)
    storage = f"sqlite:///{results / 'lenet-study.db'}"
    optuna.copy_study(
        from_study_name=NAME, from_storage=storage, to_storage=storage, to_study_name="../esc/x"
    )
    argv = ["--storage", storage, "--results-dir", str(results), "--study-name", "../esc/x"]
    assert main(["export", *argv]) == 0
    exported = [p for p in tmp_path.rglob("best_model.keras") if p.parent.name != NAME]
    assert len(exported) == 1
    assert exported[0].parent.parent == results
    assert not (tmp_path / "esc").exists()
