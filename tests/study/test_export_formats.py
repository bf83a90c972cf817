"""export --format onnx,litert: the files, their checks against Keras, and the runtimes that read
them without Keras; bad runtime model files."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lenet.runtime import load_runtime_model
from lenet.saving import sha256_of
from study import export_formats
from study.cli import main
from study.export import MODEL_NAME, RECORD_NAME
from study.export_formats import FILES, MAX_INT8_LOSS_POINTS, MIN_AGREEMENT

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("tf2onnx", "onnxruntime", "ai_edge_litert")),
    reason="needs the deploy extra: pip install -e '.[deploy]'",
)
ALL = "keras,onnx,litert"


def _where(folder: Path) -> list[str]:
    return ["--storage", f"sqlite:///{folder / 'db.sqlite'}", "--results-dir", str(folder)]


def _export(study: Path, out: Path, formats: str = ALL) -> int:
    return main(["export", *_where(study), "--out", str(out), "--format", formats])


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    """A finished 1-trial study (1 epoch on the --quick data) and its results folder."""
    folder = tmp_path_factory.mktemp("study")
    argv = ["run", "--quick", "--n-trials", "1", "--epochs", "1", "--workers", "1", "-q"]
    assert main([*argv, *_where(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def exported(tiny_study, tmp_path_factory) -> Path:
    """The tiny study's best model in all three formats."""
    out = tmp_path_factory.mktemp("export")
    assert _export(tiny_study, out) == 0
    return out


@pytest.mark.slow
@pytest.mark.backends
def test_export_writes_every_format_checked_against_keras(exported, fashion):
    record = json.loads((exported / RECORD_NAME).read_text())
    formats = record["formats"]
    assert list(formats) == ["keras", "onnx", "litert", "litert_int8"]
    assert sorted(p.name for p in exported.iterdir()) == sorted(
        [RECORD_NAME, MODEL_NAME, *FILES.values()]
    )  # no temporary file left
    assert formats["keras"]["sha256"] == record["sha256"] == sha256_of(exported / MODEL_NAME)
    keras_accuracy = formats["keras"]["accuracy"]
    for name, entry in formats.items():
        path = exported / entry["file"]
        assert entry["sha256"] == sha256_of(path)
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["latency_ms_1"] > 0 and entry["latency_ms_256"] > 0
        if name == "keras":
            continue
        # The recorded figures are what the file gives on the test set, here and now.
        predicted = load_runtime_model(path).predict(fashion.x_test).argmax(axis=1)
        assert entry["accuracy"] == pytest.approx(float((predicted == fashion.y_test).mean()))
        if name == "litert_int8":
            assert 100 * (keras_accuracy - entry["accuracy"]) <= MAX_INT8_LOSS_POINTS
        else:
            assert entry["agreement"] >= MIN_AGREEMENT
    assert formats["litert_int8"]["size_bytes"] < formats["litert"]["size_bytes"] / 2
    assert record["formats_checked_on"]["representative"]["from"] == "training split"


@pytest.mark.slow
def test_int8_model_takes_and_gives_integers(exported):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(exported / FILES["litert_int8"]))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "litert", "litert_int8"])
def test_evaluate_and_predict_run_exported_models_without_keras(
    exported, tmp_path, fashion, fresh_python, name
):
    from PIL import Image

    record = json.loads((exported / RECORD_NAME).read_text())
    image = tmp_path / "boot.png"
    Image.fromarray((fashion.x_test[0, :, :, 0] * 255).astype(np.uint8)).save(image)
    report = tmp_path / "eval.json"
    model = exported / FILES[name]
    code = f"""
        import sys
        from study.cli import main
        assert main(["evaluate", "--model", {str(model)!r}, "--json", {str(report)!r}]) == 0
        assert main(["predict", "--model", {str(model)!r}, {str(image)!r}]) == 0
        loaded = {{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "jax", "keras"}}
        print(sorted(loaded))
    """
    # No Keras backend is needed at all: even one Keras does not support is no obstacle.
    assert fresh_python(code, "torch") == "[]"
    assert json.loads(report.read_text())["accuracy"] == pytest.approx(
        record["formats"][name]["accuracy"]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("gate", "value", "message"),
    [
        ("MIN_AGREEMENT", 1.01, "makes Keras' prediction on only"),
        ("MAX_INT8_LOSS_POINTS", -1.0, "int8 LiteRT model loses"),
    ],
)
def test_a_failed_check_writes_nothing(
    tiny_study, exported, tmp_path, monkeypatch, capsys, gate, value, message
):
    monkeypatch.setattr(export_formats, gate, value)
    previous = tmp_path / "previous"
    shutil.copytree(exported, previous)
    before = _hashes(previous)
    assert _export(tiny_study, previous) == 1
    assert _export(tiny_study, tmp_path / "new") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and err.count(message) == 2 and "nothing was exported" in err
    assert _hashes(previous) == before  # not even this call's .keras
    assert not (tmp_path / "new").exists()


def test_an_unknown_format_exits_2_before_anything(tmp_path, capsys):
    assert _export(tmp_path, tmp_path / "out", "keras,tflite") == 2
    err = capsys.readouterr().err
    assert "unknown --format 'tflite'" in err and err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["tf2onnx", "ai_edge_litert", "tensorflow"])
def test_a_missing_converter_names_the_install_and_writes_nothing(
    tiny_study, tmp_path, monkeypatch, capsys, missing
):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else find_spec(name)
    )
    assert _export(tiny_study, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'lenet-study[" in err
    assert not (tmp_path / "out").exists()


def keras_backend() -> str:
    import keras

    return str(keras.backend.backend())


def _tampered(folder: Path, name: str) -> Path:
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def _truncated(folder: Path, name: str) -> Path:
    path = folder / "loose" / name.replace("best_model", "half")  # no record beside it
    path.parent.mkdir(exist_ok=True)
    path.write_bytes((folder / name).read_bytes()[:5000])
    return path


def _unlisted(folder: Path, name: str) -> Path:
    record = json.loads((folder / RECORD_NAME).read_text())
    del record["formats"][next(k for k, v in FILES.items() if v == name)]
    (folder / RECORD_NAME).write_text(json.dumps(record))
    return folder / name


def _onnx_graph(folder: Path, side: int, classes: int) -> Path:
    """An ONNX graph that maps ``side`` x ``side`` x 1 images to ``classes`` scores."""
    import onnx
    from onnx import TensorProto, helper

    pixels = side * side
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["scores"]),
        ],
        "other",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", side, side, 1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", classes])],
        [
            helper.make_tensor(
                "weights", TensorProto.FLOAT, [pixels, classes], [0.0] * (pixels * classes)
            )
        ],
    )
    path = folder / "loose" / f"other-{side}-{classes}.onnx"
    path.parent.mkdir(exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _five_classes(folder: Path, name: str) -> Path:
    return _onnx_graph(folder, 28, 5)


def _larger_images(folder: Path, name: str) -> Path:
    return _onnx_graph(folder, 32, 10)


def _litert_five_classes(folder: Path, name: str) -> Path:
    """A LiteRT model with 5 outputs, from Keras' exporter (TensorFlow backend)."""
    import keras

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(5)(keras.layers.Flatten()(inputs))
    path = folder / "loose" / "five.tflite"
    path.parent.mkdir(exist_ok=True)
    keras.Model(inputs, outputs).export(str(path), format="litert", verbose=False)
    return path


def _renamed(folder: Path, name: str) -> Path:
    """The float LiteRT model named .onnx."""
    path = folder / "loose" / "lite.onnx"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(folder / name, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (_tampered, FILES["onnx"], "does not match the SHA-256"),
        (_tampered, FILES["litert_int8"], "does not match the SHA-256"),
        (_truncated, FILES["onnx"], "could not be loaded"),
        (_truncated, FILES["litert"], "could not be loaded"),
        (_unlisted, FILES["litert"], "came from another export"),
        (_five_classes, FILES["onnx"], "outputs shape (5,)"),
        (_larger_images, FILES["onnx"], "expects input (32, 32, 1)"),
        (_renamed, FILES["litert"], "could not be loaded"),
        (_litert_five_classes, FILES["litert"], "outputs shape (5,)"),
    ],
)
def test_bad_exported_models_are_refused_in_one_line(
    exported, tmp_path, capsys, command, make, name, message
):
    if make is _litert_five_classes and keras_backend() != "tensorflow":
        pytest.skip("Keras exports LiteRT on TensorFlow only")
    folder = tmp_path / "models"
    shutil.copytree(exported, folder)
    path = make(folder, name)
    image = tmp_path / "none.png"  # never read: the model is refused first
    before = _hashes(tmp_path)
    argv = [command, "--model", str(path), *([str(image)] if command == "predict" else [])]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert _hashes(tmp_path) == before


@pytest.mark.slow
def test_bench_predict_times_each_format_in_its_own_process(exported, tmp_path):
    out = tmp_path / "bench.json"
    argv = ["bench", "--section", "predict", "--export", str(exported), "--rounds", "1"]
    assert main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["seconds"]) == ["keras", "onnx", "litert", "litert_int8"]
    for name, times in report["seconds"].items():
        assert len(times) == 1 and times[0] > 0
        assert report["median_seconds"][name] == times[0]
        assert report["ratio_to_keras"][name] == pytest.approx(
            times[0] / report["seconds"]["keras"][0]
        )
    assert report["machine"]["cpu"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["speed", "--export", "x"], 2, "--export: only with bench predict"),
        (["predict", "--export", "nowhere"], 1, "run `lenet-study export --format"),
    ],
)
def test_bench_predict_refuses_bad_input(tmp_path, capsys, argv, code, message):
    try:
        exit_code = main(["bench", *argv, "--json", str(tmp_path / "b.json")])
    except SystemExit as exc:  # argparse
        exit_code = exc.code
    assert exit_code == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_the_report_shows_the_checked_export_of_the_best_trial(exported, tmp_path):
    from study.report.exports import exports_html, read_exports
    from study.report.language import Language

    record = json.loads((exported / RECORD_NAME).read_text())
    english, spanish = Language("en"), Language("es")
    page = exports_html(read_exports(exported, record["trial_number"]), english)
    for entry in record["formats"].values():
        assert f"<td>{entry['file']}</td>" in page
        assert f"<td>{entry['accuracy']:.4f}</td>" in page
    assert page.count("<tr>") == 1 + len(record["formats"])
    assert "10,000 test images" in page
    other = exports_html(read_exports(exported, record["trial_number"] + 1), english)
    assert "not of the best trial" in other and "<table>" not in other
    assert "export --format" in exports_html(read_exports(tmp_path, 0), english)  # no record
    en_espanol = exports_html(read_exports(exported, record["trial_number"]), spanish)
    assert "concordancia con Keras" in en_espanol
    assert f"<td>{record['formats']['onnx']['accuracy']:.4f}</td>".replace(".", ",") in en_espanol
