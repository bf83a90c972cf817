"""Export, evaluate and predict, from a tiny real study."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from PIL import Image

from lenet import load_model
from lenet.saving import sha256_of
from study import load_best_model
from study.cli import main
from study.export import MODEL_NAME, RECORD_NAME


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    """A finished 2-trial study (1 epoch each on the --quick data) and its results folder."""
    folder = tmp_path_factory.mktemp("study")
    argv = ["run", "--quick", "--n-trials", "2", "--epochs", "1", "--workers", "1"]
    assert main([*argv, *_where(folder)]) == 0
    return folder


def _where(folder: Path) -> list[str]:
    return ["--storage", f"sqlite:///{folder / 'db.sqlite'}", "--results-dir", str(folder)]


def _export(folder: Path, out: Path) -> int:
    return main(["export", *_where(folder), "--out", str(out)])


@pytest.mark.slow
@pytest.mark.backends
def test_export_writes_the_best_trials_model_and_a_verifiable_record(
    tiny_study, tmp_path, fashion
):
    assert _export(tiny_study, tmp_path) == 0
    record = json.loads((tmp_path / RECORD_NAME).read_text())
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tiny_study / 'db.sqlite'}"
    )
    assert record["trial_number"] == study.best_trial.number
    assert record["params"] == study.best_trial.params
    assert record["sha256"] == sha256_of(tmp_path / MODEL_NAME)
    assert record["data"] == fashion.checksums
    backend = keras.backend.backend()
    assert record["backend"] == backend == record["versions"]["backend"]
    assert {backend, "keras", "optuna"} <= set(record["versions"])
    # The exported weights are the best epoch's: they reproduce the trial's value exactly.
    from study.runner import load_splits
    from study.settings import RunSettings

    splits, _ = load_splits(RunSettings.quick())
    model = load_model(tmp_path / MODEL_NAME)
    assert model.count_params() == record["n_params"]
    probabilities = model.predict(splits.x_val, verbose=0)
    accuracy = float((probabilities.argmax(axis=1) == splits.y_val).mean())
    assert accuracy == pytest.approx(record["val_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_load_best_model_from_python_matches_the_export(tiny_study, tmp_path):
    model = load_best_model(
        f"sqlite:///{tiny_study / 'db.sqlite'}", "lenet5-fashion-mnist", results_dir=tiny_study
    )
    assert _export(tiny_study, tmp_path) == 0
    exported = load_model(tmp_path / MODEL_NAME)
    for a, b in zip(model.get_weights(), exported.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_tampered_model_is_refused(tiny_study, tmp_path, capsys):
    assert _export(tiny_study, tmp_path) == 0
    path = tmp_path / MODEL_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert main(["evaluate", "--model", str(path)]) == 1
    err = capsys.readouterr().err
    assert "SHA-256" in err and err.count("\n") == 1


@pytest.mark.slow
def test_an_interrupted_export_leaves_the_previous_model_intact(tiny_study, tmp_path, monkeypatch):
    assert _export(tiny_study, tmp_path) == 0
    before = (tmp_path / MODEL_NAME).read_bytes(), (tmp_path / RECORD_NAME).read_text()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("study.export.load_model", interrupted)  # Ctrl-C mid-verification
    assert _export(tiny_study, tmp_path) == 130
    assert (tmp_path / MODEL_NAME).read_bytes() == before[0]
    assert (tmp_path / RECORD_NAME).read_text() == before[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD_NAME, MODEL_NAME]


def test_export_without_a_completed_trial_exits_1(tmp_path, capsys):
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}", study_name="lenet5-fashion-mnist"
    )
    study.set_user_attr("manifest", {"protocol": {"epochs": 1}})
    assert _export(tmp_path, tmp_path / "out") == 1
    assert "no completed trial" in capsys.readouterr().err
    assert not (tmp_path / "out" / MODEL_NAME).exists()


@pytest.mark.slow
@pytest.mark.backends
def test_evaluate_agrees_with_keras_evaluate_on_the_test_set(tiny_study, tmp_path, fashion):
    assert _export(tiny_study, tmp_path) == 0
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tmp_path / MODEL_NAME), "--json", str(report)]) == 0
    ours = json.loads(report.read_text())
    model = load_model(tmp_path / MODEL_NAME)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(fashion.x_test, fashion.y_test, verbose=0)
    assert ours["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert ours["loss"] == pytest.approx(loss, rel=1e-4)
    assert ours["n_images"] == 10_000
    assert [row["name"] for row in ours["per_class"]][-1] == "Ankle boot"
    assert np.asarray(ours["confusion"]).sum() == 10_000


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _tiny_model(input_shape) -> keras.Model:
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: _tiny_model((28, 28, 1)).save(p.with_suffix(".h5")) or p.with_suffix(".h5"),
            "legacy HDF5",
        ),
        (lambda p: _write(p, "not a model"), "not a .keras model archive"),
        (lambda p: _tiny_model((32, 32, 1)).save(p) or p, "not 28x28x1"),
        (lambda p: p.parent / "missing.keras", "does not exist"),
    ],
    ids=["h5", "text", "wrong-input", "missing"],
)
def test_evaluate_refuses_files_that_are_not_lenet_models(tmp_path, capsys, make, message):
    path = make(tmp_path / "model.keras")
    assert main(["evaluate", "--model", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.slow
def test_predict_recognizes_test_images_saved_as_png(small_splits, fashion, tmp_path, capsys):
    from lenet import ModelConfig, TrainConfig, train

    model = train(ModelConfig(activation="relu"), TrainConfig(epochs=3), small_splits).model
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    probabilities = model.predict(fashion.x_test[:200], verbose=0)
    confident = np.flatnonzero(
        (probabilities.argmax(axis=1) == fashion.y_test[:200]) & (probabilities.max(axis=1) > 0.9)
    )[:5]
    assert len(confident) == 5
    paths = []
    for i in confident:
        path = tmp_path / f"test-{i}.png"
        Image.fromarray((fashion.x_test[i, :, :, 0] * 255).round().astype(np.uint8)).save(path)
        paths.append(str(path))
    assert main(["predict", "--model", str(model_path), *paths, "--top", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    from lenet import CLASS_NAMES

    for i, line in zip(confident, lines, strict=True):
        assert line.split(": ")[1].startswith(CLASS_NAMES[fashion.y_test[i]])


def test_predict_inverts_a_photo_on_a_white_background(fashion, tmp_path):
    from lenet import prepare_image

    garment = fashion.x_test[0, :, :, 0]
    photo = 255 - np.kron(garment * 255, np.ones((4, 4)))  # dark garment on white, 112x112
    framed = np.full((160, 140), 255.0)
    framed[20:132, 10:122] = photo
    path = tmp_path / "photo.jpg"
    Image.fromarray(framed.astype(np.uint8)).save(path, quality=95)
    prepared = prepare_image(path)[:, :, 0]
    assert prepared.shape == (28, 28)
    assert np.abs(prepared - garment).mean() < 0.05
    assert os.path.getsize(path) > 0


def test_predict_answers_each_file_and_goes_on_past_a_bad_one(fashion, tmp_path, capsys):
    from lenet import ModelConfig, build_model

    model_path = tmp_path / "model.keras"
    build_model(ModelConfig()).save(model_path)
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture\n")
    blank = tmp_path / "blank.png"
    Image.new("L", (28, 28), 0).save(blank)
    garment = tmp_path / "garment.png"
    Image.fromarray((fashion.x_test[0, :, :, 0] * 255).astype(np.uint8)).save(garment)
    argv = ["predict", "--model", str(model_path), str(broken), str(blank), str(garment)]
    assert main(argv) == 1  # one file failed
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{garment}: ")
    err = captured.err.splitlines()
    assert len(err) == 2
    assert err[0] == f"lenet-study: error: {broken} is not a readable image (PNG, JPEG, ...)"
    assert err[1].startswith(f"lenet-study: warning: {blank} shows no garment")


def test_predict_with_only_readable_images_exits_0_even_if_one_is_blank(tmp_path, capsys):
    from lenet import ModelConfig, build_model

    model_path = tmp_path / "model.keras"
    build_model(ModelConfig()).save(model_path)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (1, 1), (200, 0, 0)).save(blank)
    assert main(["predict", "--model", str(model_path), str(blank)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
