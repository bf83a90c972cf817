"""Running exported models (``.onnx``, ``.tflite``) without TensorFlow, JAX or Keras.

ONNX Runtime and LiteRT are imported only when a file of theirs is loaded, and a ``.keras``
file goes to ``lenet.saving.load_model``: ``load_any_model`` serves ``evaluate`` and ``predict``
alike, and only the ``.keras`` path starts a Keras backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lenet.data import CLASS_NAMES
from lenet.errors import ModelFileError

IMAGE_SHAPE = (28, 28, 1)  # one Fashion-MNIST image, float32 in [0, 1]
FORMATS = {".onnx": "onnx", ".tflite": "litert"}  # file suffix -> runtime
INSTALL_HINT = "pip install 'lenet-study[deploy]'"
BATCH = 1000  # images per runtime call when scoring a whole set
# LiteRT's line on every first allocation ("INFO: Created TensorFlow Lite XNNPACK delegate").
NOTICE = "XNNPACK delegate"


def record_path(model_path: str | os.PathLike[str]) -> Path:
    """The export record a model file belongs to: ``best_model.int8.tflite`` ->
    ``best_model.json`` (the name up to its first dot, then ``.json``)."""
    path = Path(model_path)
    return path.with_name(path.name.split(".")[0] + ".json")


def recorded_sha256(path: Path) -> str | None:
    """The SHA-256 the export record beside ``path`` lists for it; None without a record.

    Raises:
        ModelFileError: a record is there but is not an export record, or does not list
            this file (a file left from another export).
    """
    record = record_path(path)
    if not record.is_file():
        return None
    fix = "re-run `lenet-study export --format`"
    try:
        entries = json.loads(record.read_bytes())["formats"]
        by_file = {entry["file"]: entry["sha256"] for entry in entries.values()}
    except OSError as exc:
        raise ModelFileError(f"cannot read the export record {record}: {exc.strerror}") from None
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        raise ModelFileError(f"{record} does not list exported formats; {fix}") from None
    if path.name not in by_file:
        raise ModelFileError(f"{path} is not in {record}, which came from another export; {fix}")
    return str(by_file[path.name]).lower()


class RuntimeModel:
    """An exported LeNet: ``predict(x)`` maps ``(n, 28, 28, 1)`` float32 in [0, 1] to
    ``(n, 10)`` class probabilities, as ``keras.Model.predict`` does."""

    def __init__(self, path: Path, runtime: str, session: Any) -> None:
        self.path = path
        self.runtime = runtime  # "onnx" or "litert"
        self._session = session
        if runtime == "onnx":
            self._input = session.get_inputs()[0].name
            batch = session.get_inputs()[0].shape[0]
            # A graph made for a fixed batch gets that many images per call, padded.
            self._fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        else:
            self._in = session.get_input_details()[0]
            self._out = session.get_output_details()[0]
            self._batch = -1  # the input's allocated batch size

    def predict(self, x: np.ndarray, batch_size: int = BATCH, verbose: int = 0) -> np.ndarray:
        """Class probabilities for ``x``, ``batch_size`` images per call."""
        del verbose  # keras.Model.predict's argument; nothing to print here
        x = np.asarray(x, dtype=np.float32)
        parts = [self._run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(CLASS_NAMES)), np.float32)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(x, dtype=np.float32))

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self.runtime == "onnx":
            fixed = self._fixed_batch
            if fixed is None:
                return np.asarray(self._session.run(None, {self._input: x})[0], np.float32)
            parts = []
            for start in range(0, len(x), fixed):
                chunk = x[start : start + fixed]
                padded = np.concatenate([chunk, np.zeros((fixed - len(chunk), *IMAGE_SHAPE))])
                scores = self._session.run(None, {self._input: padded.astype(np.float32)})[0]
                parts.append(np.asarray(scores[: len(chunk)], np.float32))
            return np.concatenate(parts)
        interpreter, details = self._session, self._in
        if len(x) != self._batch:
            interpreter.resize_tensor_input(details["index"], [len(x), *IMAGE_SHAPE])
            interpreter.allocate_tensors()
            self._batch = len(x)
        scale, zero_point = details["quantization"]
        if details["dtype"] != np.float32:  # a full-integer model takes quantized pixels
            info = np.iinfo(details["dtype"])
            x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
        interpreter.set_tensor(details["index"], x.astype(details["dtype"]))
        interpreter.invoke()
        out = interpreter.get_tensor(self._out["index"])
        scale, zero_point = self._out["quantization"]
        if self._out["dtype"] != np.float32:
            return ((out.astype(np.float32) - zero_point) * scale).astype(np.float32)
        return np.asarray(out, dtype=np.float32)


@contextlib.contextmanager
def _without_notice(notice: str) -> Iterator[None]:
    """Passes on what C++ code writes to file descriptor 2 inside, except lines with
    ``notice``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if notice not in line:
                    print(line, file=sys.stderr)


def _open(path: Path, runtime: str) -> Any:
    """The runtime's session or interpreter for ``path``."""
    try:
        if runtime == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # its warnings are about graphs, not about users
            return onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        with _without_notice(NOTICE):
            interpreter.allocate_tensors()
        return interpreter
    except ImportError:
        name = "ONNX Runtime" if runtime == "onnx" else "LiteRT (ai-edge-litert)"
        raise ModelFileError(f"reading {path} needs {name}: {INSTALL_HINT}") from None
    except Exception as exc:  # both runtimes raise their own types for a broken file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} could not be loaded: {first_line}") from None


def _shapes(session: Any, runtime: str) -> tuple[list[list[Any]], list[list[Any]], list[str]]:
    """Input shapes, output shapes (batch first, None where free) and input element types."""
    if runtime == "onnx":
        inputs, outputs = session.get_inputs(), session.get_outputs()
        free = [[d if isinstance(d, int) and d > 0 else None for d in t.shape] for t in inputs]
        out = [[d if isinstance(d, int) and d > 0 else None for d in t.shape] for t in outputs]
        return free, out, [t.type for t in inputs]
    details = session.get_input_details(), session.get_output_details()
    shapes = [
        [[None if d < 0 else int(d) for d in t["shape_signature"]] for t in side]
        for side in details
    ]
    return shapes[0], shapes[1], [np.dtype(t["dtype"]).name for t in details[0]]


def load_runtime_model(
    path: str | os.PathLike[str], expected_sha256: str | None = None
) -> RuntimeModel:
    """Loads an exported ``.onnx`` or ``.tflite`` model, after checking what it is.

    The SHA-256 is checked against ``expected_sha256`` or, when not given, against the
    export record beside the file (``best_model.json``), as ``lenet.load_model`` does.

    Raises:
        ModelFileError: with a one-line message saying what is wrong and what to do.
    """
    from lenet.saving import sha256_of

    path = Path(path)
    runtime = FORMATS.get(path.suffix.lower())
    if runtime is None:
        raise ModelFileError(f"{path} is not an .onnx or .tflite model")
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist; run `lenet-study export --format` first")
    if expected_sha256 is None:
        expected_sha256 = recorded_sha256(path)
    if expected_sha256 is not None and sha256_of(path) != expected_sha256:
        raise ModelFileError(
            f"{path} does not match the SHA-256 recorded for it; the file was changed after "
            "export: re-run `lenet-study export --format`"
        )
    session = _open(path, runtime)
    inputs, outputs, types = _shapes(session, runtime)
    if len(inputs) != 1 or inputs[0][1:] != list(IMAGE_SHAPE):
        shown = ", ".join(str(tuple(s[1:])) for s in inputs)
        raise ModelFileError(f"{path} expects input {shown}, not 28x28x1 Fashion-MNIST images")
    if len(outputs) != 1 or outputs[0][1:] != [len(CLASS_NAMES)]:
        shown = ", ".join(str(tuple(s[1:])) for s in outputs)
        raise ModelFileError(
            f"{path} outputs shape {shown}, not the {len(CLASS_NAMES)} Fashion-MNIST class scores"
        )
    if types[0] not in ("tensor(float)", "float32", "int8", "uint8"):
        raise ModelFileError(f"{path} takes {types[0]} input, not float32 or int8 images")
    return RuntimeModel(path, runtime, session)


def load_any_model(path: str | os.PathLike[str]) -> Any:
    """A ``.onnx`` or ``.tflite`` file as a ``RuntimeModel``; anything else through
    ``lenet.saving.load_model`` (Keras, safe mode). Both have ``predict(x, verbose=0)``."""
    if Path(path).suffix.lower() in FORMATS:
        return load_runtime_model(path)
    from lenet.saving import load_model

    return load_model(path)
