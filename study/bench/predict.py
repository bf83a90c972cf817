"""``lenet-study bench predict``: the wall time of ``predict`` on one image, per format.

Each timing is a whole ``lenet-study predict`` process, start to exit, as a user sees it: for a
``.keras`` model that includes starting Keras and its backend; for ``.onnx`` and ``.tflite``
only ONNX Runtime or LiteRT. The formats run in alternating rounds, so that a busy moment on
a shared machine falls on all of them alike, and each one's median is compared with the
``.keras`` median.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from study.errors import StudyError, UsageError
from study.text import plural, table

# Format -> file in an export folder (`export --format keras,onnx,litert`).
PREDICT_FILES = {
    "keras": "best_model.keras",
    "onnx": "best_model.onnx",
    "litert": "best_model.tflite",
    "litert_int8": "best_model.int8.tflite",
}
PREDICT_ROUNDS = 5
PREDICT_QUICK_ROUNDS = 1
# The command line as the `lenet-study` script runs it.
ENTRY = "import sys; from study.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass(frozen=True)
class PredictReport:
    machine: dict[str, Any]
    command: str  # one timed command, with MODEL for the file
    rounds: int
    seconds: dict[str, list[float]]  # format -> wall seconds of each round
    median_seconds: dict[str, float]
    ratio_to_keras: dict[str, float]  # median / the .keras median

    def to_dict(self) -> dict[str, Any]:
        return {"section": "predict", **asdict(self)}


def _environment() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])  # this checkout's study, not another
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return env


def run_predict_bench(
    export_dir: Path, rounds: int, data_dir: Path | None = None, log: TextIO | None = None
) -> PredictReport:
    """Times ``predict`` on the first test image with each exported model, ``rounds`` times.

    Raises:
        UsageError: ``rounds`` is not positive.
        StudyError: the folder lacks a format, or a ``predict`` run fails.
    """
    from PIL import Image

    from lenet import load_fashion_mnist
    from study.export_formats import runtime_versions
    from study.provenance import cpu_model, machine

    if rounds < 1:
        raise UsageError(f"rounds must be a positive integer, got {rounds}")
    models = {name: export_dir / file for name, file in PREDICT_FILES.items()}
    missing = [str(path) for path in models.values() if not path.is_file()]
    if missing:
        raise StudyError(
            f"no {', '.join(missing)}; run `lenet-study export --format keras,onnx,litert` "
            "first, or pass --export DIR"
        )
    out = log or sys.stderr
    data = load_fashion_mnist(data_dir)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    with tempfile.TemporaryDirectory(prefix="lenet-bench-") as tmp:
        image = Path(tmp) / "test-0.png"
        Image.fromarray((data.x_test[0, :, :, 0] * 255).astype("uint8")).save(image)
        env = _environment()
        for round_number in range(1, rounds + 1):
            print(f"predict: round {round_number} of {rounds}", file=out, flush=True)
            for name, path in models.items():
                argv = [sys.executable, "-c", ENTRY, "predict", "--model", str(path), str(image)]
                started = time.perf_counter()
                result = subprocess.run(argv, capture_output=True, text=True, env=env)
                seconds[name].append(time.perf_counter() - started)
                if result.returncode != 0:
                    lines = result.stderr.strip().splitlines() or ["no output"]
                    raise StudyError(f"predict with {path} failed: {lines[-1]}")
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    return PredictReport(
        machine={**machine(), "cpu": cpu_model(), **runtime_versions()},
        command="lenet-study predict --model MODEL test-0.png",
        rounds=rounds,
        seconds=seconds,
        median_seconds=medians,
        ratio_to_keras={name: medians[name] / medians["keras"] for name in medians},
    )


def render(report: PredictReport) -> str:
    """One row per format: median wall seconds and the ratio to ``.keras``."""
    m = report.machine
    lines = [
        f"{m['cpu']}, {m.get('cores', '?')} cores; Python {m.get('python', '?')}",
        f"{report.command}: one process per run, median of {plural(report.rounds, 'round')}",
        "",
    ]
    rows = [
        (name, f"{median:.3f}", f"{report.ratio_to_keras[name]:.2f}x")
        for name, median in report.median_seconds.items()
    ]
    lines.append(table([("format", "median s", "vs .keras"), *rows], align="lrr"))
    return "\n".join(lines)
