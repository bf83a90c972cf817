"""Bad input, one case per row: the exit code, one line on stderr, and no file changed.

Every case runs in one folder that holds another program's database, bad space files and
broken model files, and for the cases that name it (marked slow: it trains), a real small
study and its export. Each case hashes every file in it before and after: a refusal writes
nothing, not even a new database or an empty folder.
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
    "objectives.toml": 'objectives = ["accuracy", "flops"]\n[params]\nc1_filters = { low = 4 }\n',
    "objectives_text.toml": 'objectives = "accuracy,params"\n[params]\nc1_filters = { low = 4 }\n',
}

# Records beside an exported model that are not export records.
RECORDS = {
    "record_list": b'["sha256"]',
    "record_no_sha256": b'{"trial_number": 0}',
    "record_number": b'{"sha256": 5}',
    "record_not_hex": b'{"sha256": "' + b"g" * 64 + b'"}',
    "record_not_json": b"{sha256",
}


def _tree_hashes(root: Path) -> dict[str, str]:
    """Every file and folder under root: a file by its SHA-256, a folder by its existence."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in sorted(root.rglob("*"))
    }


def _needs_study(argv: list[str]) -> bool:
    """Whether a case names the module's study, its export or a model made from it."""
    starts = ("res/", "sqlite:///res", "models/tampered", "models/record_")
    return any(arg == "res" or arg.startswith(starts) for arg in argv)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The bad files the cases use; ``studied`` adds the study."""
    root = tmp_path_factory.mktemp("bad_input")
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
    (root / "notimage.png").write_text("not a picture\n")
    Image.new("L", (28, 28), 0).save(root / "blank.png")
    whole = (models / "five.keras").read_bytes()
    (models / "cut.keras").write_bytes(whole[: len(whole) // 2])  # an interrupted copy
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(models / "cifar.keras")
    (root / "empty.png").write_bytes(b"")
    (root / "photos").mkdir()
    garment = Image.new("L", (20, 20), 0)
    garment.paste(200, (5, 3, 15, 17))
    garment.save(root / "photos" / "chemise d'été 1.png")
    return root


@pytest.fixture(scope="module")
def studied(folder) -> Path:
    """``folder`` with a real small study and its export in res/, and models made from it."""
    root, models = folder, folder / "models"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert main(["run", *TINY, *RES]) == 0
        assert main(["export", *RES]) == 0
    tampered = models / "tampered"
    tampered.mkdir()
    shutil.copy(root / MODEL, tampered / "best_model.keras")
    shutil.copy(root / MODEL.replace(".keras", ".json"), tampered / "best_model.json")
    with open(tampered / "best_model.keras", "ab") as f:
        f.write(b"\0")  # still a zip (trailing bytes), no longer the exported file
    for name, record in RECORDS.items():  # the exported model, beside a bad record
        (models / name).mkdir()
        shutil.copy(root / MODEL, models / name / "best_model.keras")
        (models / name / "best_model.json").write_bytes(record)
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
    (["trials", *RES, "--json", "afile/trials.json"], 1, "cannot write the JSON file"),
    # Choosing the trial to export: refused before the earlier export is touched.
    (["export", *RES, "--smallest-above", "1.5"], 2, "--smallest-above 1.5: give the"),
    (["export", *RES, "--trial", "0", "--smallest-above", "0.5"], 2, "give only one"),
    (["export", *RES, "--trial", "7"], 2, "has no trial 7"),
    (["export", *RES, "--smallest-above", "0.999"], 2, "no trial on the front reaches"),
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
    (["evaluate", "--model", "models/cut.keras"], 1, "not a .keras model archive"),
    (["evaluate", "--model", "models/cifar.keras"], 1, "expects input (32, 32, 3)"),
    (["predict", "--model", "models/cifar.keras", "blank.png"], 1, "expects input (32, 32, 3)"),
    # A folder for a model file: the file to pass instead.
    (
        ["evaluate", "--model", "res/lenet5-fashion-mnist"],
        1,
        f"pass the model file in it: {MODEL}",
    ),
    (
        ["evaluate", "--model", "res"],
        1,
        f"is a folder; pass one of the model files in it: {MODEL}",
    ),
    (["predict", "--model", "spaces", "blank.png"], 1, "spaces is a folder with no .keras model"),
    # A record beside the model that is not an export record: refused, not trusted or ignored.
    (["evaluate", "--model", "models/record_list/best_model.keras"], 1, "a JSON list, not an"),
    (["evaluate", "--model", "models/record_no_sha256/best_model.keras"], 1, 'no "sha256"'),
    (["evaluate", "--model", "models/record_number/best_model.keras"], 1, '"sha256" is 5, not'),
    (["evaluate", "--model", "models/record_not_hex/best_model.keras"], 1, "not 64 hexadecimal"),
    (
        ["predict", "--model", "models/record_not_json/best_model.keras", "blank.png"],
        1,
        "not JSON",
    ),
    # Images that are not: each gets its line, and exit 1 says some input failed.
    (["predict", "--model", MODEL, "notimage.png"], 1, "not a readable image"),
    (["predict", "--model", MODEL, "missing.png"], 1, "not a readable image"),
    (["predict", "--model", MODEL, "empty.png"], 1, "empty.png is an empty file, not an image"),
    (["predict", "--model", MODEL, "photos"], 1, "photos is a folder, not an image; pass the"),
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
    # Objectives: unknown names, a pruner that cannot use them, a resume with other ones.
    (["run", *TINY, *NEW_DB, *RES, "--objectives", "accuracy,flops"], 2, "unknown objective"),
    (["run", *TINY, *NEW_DB, *RES, "--objectives", "params"], 2, "choose accuracy, accuracy,"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/objectives.toml"], 2, "'flops'"),
    (["run", *TINY, *NEW_DB, *RES, "--space", "spaces/objectives_text.toml"], 2, "as a list"),
    (
        ["run", *TINY, *NEW_DB, *RES, "--objectives", "accuracy,params", "--pruner", "median"],
        2,
        "--pruner median compares one value per epoch",
    ),
    (["run", *TINY, *NEW_DB, *RES, "--pruner", "front"], 2, "--pruner front needs a size"),
    (
        ["run", *TINY, *RES, "--objectives", "accuracy,params"],
        2,
        "optimizes accuracy, this run accuracy,params: rerun with --objectives accuracy",
    ),
    (
        ["run", *TINY, *RES, "--objectives", "accuracy,macs", "--workers", "2"],
        2,
        "optimizes accuracy, this run accuracy,macs",
    ),
    # Flags argparse refuses: one line too, not the usage text.
    (["run", "--max-trials", "0"], 2, "--max-trials: expected a positive integer"),
    (["run", "--startup-epochs", "-1"], 2, "--startup-epochs: expected 0 or a positive"),
    (["run", "--startup-trials", "-1"], 2, "--startup-trials: expected 0 or a positive"),
    (["run", "--bogus"], 2, "unrecognized arguments: --bogus"),
    # Seeds NumPy refuses (the study seed plus each trial number must stay under 2**32).
    (["run", *TINY, *NEW_DB, *RES, "--seed", "-1"], 2, "--seed: expected a seed from 0 to 2147"),
    (["run", *TINY, *NEW_DB, *RES, "--seed", str(2**31)], 2, "expected a seed from 0 to 2147"),
    (["run", *TINY, *NEW_DB, *RES, "--seed", str(2**32)], 2, "expected a seed from 0 to 2147"),
    (["run", *TINY, *NEW_DB, *RES, "--seed", "1.5"], 2, "expected a seed from 0 to 2147483647"),
    (["bench", *PEERS, "--seed", "-1"], 2, "--seed: expected a seed from 0 to 2147483647"),
    (["bench", *PEERS, "--seed", str(2**40)], 2, "--seed: expected a seed from 0 to 2147483647"),
    (["fly"], 2, "invalid choice: 'fly'"),
    (["evaluate"], 2, "--model"),
    (["dashboard", "--port", "70000"], 2, "port number up to 65535"),
    (["report", "--seeds", "0"], 2, "positive integer"),
    (["bench", "--section", "peers", "--budget", "0"], 2, "positive number"),
    (["bench", "--budget", "60"], 2, "--budget: only with bench peers"),
    (["bench", "speed", "--startup-trials", "5"], 2, "--startup-trials: only with bench peers"),
    (["bench", *PEERS, "--contenders", "ours,grid"], 2, "contenders must be distinct names"),
    # bench front: checked before its first run, as peers is.
    (["bench", "front", "--quick", "--space", "spaces/tanhh.toml"], 2, "'tanhh'"),
    (["bench", "front", "--quick", "--json", "afile/front.json"], 1, "cannot write the JSON"),
    (["bench", "front", "--quick", "--data-dir", "nodata"], 1, "is missing"),
    (["bench", "front", "--seeds", "0,-1"], 2, "--seeds: expected a seed from 0 to 2147483647"),
    (["bench", "front", "--contenders", "front,ours"], 2, "contenders must be distinct names"),
]


def _case_id(case: tuple[list[str], int, str]) -> str:
    argv = case[0]
    if argv[1 : 1 + len(TINY)] == TINY:
        argv = [argv[0], *argv[1 + len(TINY) :]]
    return " ".join(argv).encode("unicode_escape").decode()[:80]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        pytest.param(
            *case, id=_case_id(case), marks=pytest.mark.slow if _needs_study(case[0]) else ()
        )
        for case in CASES
    ],
)
def test_bad_input_is_refused_with_one_line_and_writes_nothing(
    folder, request, monkeypatch, capsys, argv, code, message
):
    if _needs_study(argv):
        request.getfixturevalue("studied")
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


@pytest.mark.slow
def test_export_of_a_study_named_like_a_path_writes_inside_the_results(studied, tmp_path):
    results = tmp_path / "res"
    shutil.copytree(studied / "res", results)
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


@pytest.mark.parametrize(
    ("size", "kind"),
    [((40, 30), "error"), ((30, 20), "warning")],
    ids=["over-twice-the-limit", "over-the-limit"],
)
@pytest.mark.slow
def test_an_image_pillow_calls_a_bomb_is_skipped_and_the_others_classified(
    folder, studied, monkeypatch, capsys, size, kind
):
    """Pillow raises DecompressionBombError over twice its pixel limit, and only warns (then
    decodes) between once and twice; a small limit stands in for its 89 million pixels."""
    monkeypatch.chdir(folder)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # the garment's 400 pixels pass
    bomb = folder / "big" / f"{kind}.png"
    bomb.parent.mkdir(exist_ok=True)
    Image.new("L", size, 0).save(bomb)
    before = _tree_hashes(folder)
    good = "photos/chemise d'été 1.png"
    exit_code = main(["predict", "--model", MODEL, good, str(bomb.relative_to(folder)), good])
    out, err = capsys.readouterr()
    assert exit_code == 1
    assert err == (
        f"lenet-study: error: big/{kind}.png is too large to open safely "
        f"({size[0] * size[1]:,} pixels), over Pillow's limit of 500 pixels; shrink it first\n"
    )
    assert [line.split(": ")[0] for line in out.splitlines()] == [good, good]
    assert _tree_hashes(folder) == before


ENVIRONMENTS = {
    "unsupported": ({"KERAS_BACKEND": "torch"}, "'torch' (KERAS_BACKEND) is not supported; set"),
    "not-installed": ({"KERAS_BACKEND": "jax"}, "the jax backend is not installed: pip install"),
    "keras-json": ({"KERAS_HOME": "keras_home"}, "keras.json holds a JSON list, not an object"),
}
KERAS_COMMANDS = {
    "evaluate": ["evaluate", "--model", MODEL],
    "predict": ["predict", "--model", MODEL, "blank.png"],
    "export": ["export", *RES, "--out", "new"],
}


@pytest.mark.parametrize("command", KERAS_COMMANDS.values(), ids=list(KERAS_COMMANDS))
@pytest.mark.parametrize(("env", "message"), ENVIRONMENTS.values(), ids=list(ENVIRONMENTS))
def test_a_backend_keras_cannot_start_on_exits_1_with_one_line(
    folder, tmp_path, monkeypatch, capsys, command, env, message
):
    import lenet.backends

    monkeypatch.chdir(folder)
    monkeypatch.setattr(lenet.backends, "installed", lambda name: name != "jax")
    (tmp_path / "keras.json").write_text("[]")
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path) if name == "KERAS_HOME" else value)
    before = _tree_hashes(folder)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("lenet-study: error: ")
    assert message in err
    assert _tree_hashes(folder) == before
    assert (tmp_path / "keras.json").read_text() == "[]"


@pytest.mark.slow
def test_load_best_model_names_the_trial_of_an_unusable_stored_model(studied, tmp_path):
    from study import load_best_model
    from study.errors import StudyError

    results = tmp_path / "res"
    shutil.copytree(studied / "res", results)
    for stored in (results / "artifacts").rglob("*"):
        if stored.is_file():
            stored.write_bytes(b"not a model any more")
    with pytest.raises(StudyError) as raised:
        load_best_model(f"sqlite:///{results / 'lenet-study.db'}", NAME, results)
    assert str(raised.value).startswith("the stored model of trial ")
    assert "is unusable: is not a .keras model archive" in str(raised.value)
