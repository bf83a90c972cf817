"""lenet.runtime on small ONNX graphs built here: loading, batching, records, missing runtimes.

The exported models themselves (ONNX and LiteRT from a trained LeNet) are tested in
tests/study/test_export_formats.py."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lenet.errors import ModelFileError
from lenet.runtime import load_any_model, load_runtime_model, record_path
from lenet.saving import sha256_of

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime")),
    reason="needs the deploy extra: pip install -e '.[deploy]'",
)


def _linear_onnx(path: Path, weights: np.ndarray, batch: int | str = "n") -> Path:
    """Images ``(batch, 28, 28, 1)`` -> softmax of ``flat @ weights``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
        ],
        "linear",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 28, 28, 1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, weights.shape[1]])],
        [numpy_helper.from_array(weights.astype(np.float32), "weights")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_every_file_of_an_export_has_the_same_record():
    for name in ("best_model.onnx", "best_model.tflite", "best_model.int8.tflite"):
        assert record_path(Path("out") / name) == Path("out") / "best_model.json"


@pytest.mark.parametrize("batch", ["n", 1, 64])  # a free batch size, or a fixed one
def test_a_model_predicts_in_batches_what_numpy_computes(tmp_path, fashion, batch):
    weights = np.random.default_rng(0).normal(size=(784, 10))
    model = load_any_model(_linear_onnx(tmp_path / "linear.onnx", weights, batch))
    x = fashion.x_test[:250]
    logits = x.reshape(len(x), -1) @ weights
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, batch_size=100), expected, atol=1e-5)
    assert model.predict(x[:0]).shape == (0, 10)


def test_the_record_beside_a_file_vouches_for_it_or_it_is_refused(tmp_path):
    path = _linear_onnx(tmp_path / "best_model.onnx", np.zeros((784, 10)))
    record = tmp_path / "best_model.json"
    entry = {"file": path.name, "sha256": sha256_of(path)}
    record.write_text(json.dumps({"formats": {"onnx": entry}}))
    assert load_runtime_model(path).runtime == "onnx"
    record.write_text(json.dumps({"formats": {"onnx": {**entry, "sha256": "0" * 64}}}))
    with pytest.raises(ModelFileError, match="does not match the SHA-256"):
        load_runtime_model(path)
    record.write_text(json.dumps({"sha256": entry["sha256"]}))  # a .keras-only export
    with pytest.raises(ModelFileError, match="does not list exported formats"):
        load_runtime_model(path)


@pytest.mark.parametrize(("module", "runtime"), [("onnxruntime", "ONNX Runtime")])
def test_a_missing_runtime_names_the_install(tmp_path, monkeypatch, module, runtime):
    path = _linear_onnx(tmp_path / "linear.onnx", np.zeros((784, 10)))
    monkeypatch.setitem(sys.modules, module, None)  # `import onnxruntime` raises ImportError
    with pytest.raises(
        ModelFileError, match=rf"needs {runtime}: pip install 'lenet-study\[deploy\]'"
    ):
        load_runtime_model(path)


def test_other_suffixes_and_missing_files_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match=r"not an \.onnx or \.tflite model"):
        load_runtime_model(tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_runtime_model(tmp_path / "missing.tflite")
