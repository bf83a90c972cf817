"""The best model in other formats: ONNX, float LiteRT and full-integer LiteRT, each checked
against the Keras model on the test set before anything is written in place.

Conversion runs ``python -m lenet.convert`` with ``KERAS_BACKEND=tensorflow`` in a child
process whatever backend trained the study: Keras' LiteRT exporter needs TensorFlow, and its
converters' start-up lines stay in the child's captured output.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from study.errors import StudyError, UsageError

FORMATS = ("keras", "onnx", "litert")  # what --format accepts; litert writes float and int8
# Each written format: its file beside best_model.keras, and what the user called it.
FILES = {
    "onnx": "best_model.onnx",
    "litert": "best_model.tflite",
    "litert_int8": "best_model.int8.tflite",
}
# The gates: float exports must make Keras' top-1 prediction on this share of test images;
# the int8 model may lose this many points of accuracy.
MIN_AGREEMENT = 0.999
MAX_INT8_LOSS_POINTS = 0.5
REPRESENTATIVE_IMAGES = 500  # int8 calibration images, drawn from the training split
REPRESENTATIVE_SEED = 0
LATENCY_BATCH = 256
# What each format needs installed, beyond TensorFlow: import name -> pip distribution.
NEEDS = {
    "onnx": {"tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"},
    "litert": {"ai_edge_litert": "ai-edge-litert"},
}
INSTALL = "pip install 'lenet-study[deploy]'"


def runtime_versions() -> dict[str, str]:
    """The converters' and runtimes' versions, as installed (TensorFlow under either name)."""
    from importlib import metadata

    found = {}
    for dist in (
        "tensorflow",
        "tensorflow-cpu",
        "tf2onnx",
        "onnx",
        "onnxruntime",
        "ai-edge-litert",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def parse_formats(text: str) -> tuple[str, ...]:
    """``"keras,onnx"`` -> the formats in ``FORMATS`` order; keras always, as the reference.

    Raises:
        UsageError: an unknown or empty format name.
    """
    names = [name.strip().lower() for name in text.split(",")]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise UsageError(
            f"unknown --format {', '.join(map(repr, unknown))}; choose from {','.join(FORMATS)}"
        )
    return tuple(f for f in FORMATS if f in names or f == "keras")


def written_formats(formats: Sequence[str]) -> list[str]:
    """The files' formats for the asked ones: ``litert`` is float and int8."""
    return [
        name
        for name in FILES
        if name in formats or (name == "litert_int8" and "litert" in formats)
    ]


def check_installed(formats: Sequence[str]) -> None:
    """Raises StudyError, naming the install command, when a converter or runtime is missing."""
    missing = [
        dist
        for fmt in formats
        for module, dist in NEEDS.get(fmt, {}).items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise StudyError(f"--format needs {', '.join(missing)}: {INSTALL}")
    if any(f in NEEDS for f in formats) and importlib.util.find_spec("tensorflow") is None:
        raise StudyError(
            "--format onnx and litert convert with TensorFlow, on any backend: "
            "pip install 'lenet-study[cpu,deploy]'"
        )


def representative_images(x_train: np.ndarray) -> np.ndarray:
    """``REPRESENTATIVE_IMAGES`` training images, drawn at random with a fixed seed."""
    rng = np.random.default_rng(REPRESENTATIVE_SEED)
    picked = rng.choice(len(x_train), size=min(REPRESENTATIVE_IMAGES, len(x_train)), replace=False)
    return np.asarray(x_train[np.sort(picked)], dtype=np.float32)


def convert(keras_path: Path, outputs: dict[str, Path], representative: np.ndarray) -> None:
    """Runs ``lenet.convert`` on TensorFlow in a child process.

    Raises:
        StudyError: the conversion failed; the child's last error line says why.
    """
    with tempfile.TemporaryDirectory(prefix="lenet-export-") as tmp:
        images = Path(tmp) / "representative.npy"
        np.save(images, representative)
        argv = [sys.executable, "-m", "lenet.convert", str(keras_path)]
        for name, path in outputs.items():
            argv += [f"--{name.replace('_', '-')}", str(path)]
        argv += ["--representative", str(images)]
        root = str(Path(__file__).resolve().parents[1])  # this checkout's lenet, not another
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise StudyError(f"converting the model failed: {lines[-1] if lines else 'no output'}")


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def latency(predict: Callable[[np.ndarray], object], x: np.ndarray) -> dict[str, float]:
    """Median milliseconds for one image and for ``LATENCY_BATCH`` images."""
    one, batch = x[:1], x[:LATENCY_BATCH]
    return {
        "latency_ms_1": round(1000 * median_seconds(lambda: predict(one), 50), 3),
        f"latency_ms_{LATENCY_BATCH}": round(1000 * median_seconds(lambda: predict(batch), 10), 3),
    }


def score(
    keras_model: Any, keras_path: Path, files: dict[str, Path], x: np.ndarray, y: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Each format's accuracy on ``x``, agreement with Keras' top-1, size and latency.

    Raises:
        StudyError: a float export agrees with Keras on fewer than ``MIN_AGREEMENT`` of the
            images, or the int8 model loses more than ``MAX_INT8_LOSS_POINTS`` of accuracy.
    """
    from lenet.runtime import load_runtime_model
    from lenet.saving import sha256_of

    reference = keras_model.predict(x, batch_size=1000, verbose=0).argmax(axis=1)
    figures: dict[str, dict[str, Any]] = {
        "keras": {
            "accuracy": float((reference == y).mean()),
            **latency(keras_model.predict_on_batch, x),
        }
    }
    for name, path in files.items():
        model = load_runtime_model(path, expected_sha256=sha256_of(path))
        predicted = model.predict(x).argmax(axis=1)
        figures[name] = {
            "accuracy": float((predicted == y).mean()),
            "agreement": float((predicted == reference).mean()),
            **latency(model.predict_on_batch, x),
        }
    for name, path in [("keras", keras_path), *files.items()]:
        figures[name]["size_bytes"] = path.stat().st_size
    for name in files:
        f = figures[name]
        if name == "litert_int8":
            lost = 100 * (figures["keras"]["accuracy"] - f["accuracy"])
            if lost > MAX_INT8_LOSS_POINTS:
                raise StudyError(
                    f"the int8 LiteRT model loses {lost:.2f} points of test accuracy (at most "
                    f"{MAX_INT8_LOSS_POINTS} allowed); nothing was exported"
                )
        elif f["agreement"] < MIN_AGREEMENT:
            raise StudyError(
                f"the {name} model makes Keras' prediction on only {100 * f['agreement']:.2f} % "
                f"of the test images (at least {100 * MIN_AGREEMENT:g} % needed); "
                "nothing was exported"
            )
    return figures
