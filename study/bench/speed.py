"""``lenet-study bench speed``: seconds per epoch on the backend Keras runs on.

The classic LeNet-5, batch 128: plain ``model.fit`` on NumPy arrays (the reference) against
the path ``lenet.train`` takes here, and on JAX against its other path too (``model.fit`` on
NumPy batches, or one XLA call per epoch), so that a figure shows both. Each path's first
epoch (tracing and compiling) is kept apart from the timed rounds. A JAX run never imports
TensorFlow: a machine with JAX for CUDA need not have it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from study.bench.throughput import BATCH_SIZE, Throughput, measure_throughput
from study.errors import UsageError
from study.settings import BENCH_QUICK_IMAGES, BENCH_QUICK_ROUNDS, BENCH_ROUNDS
from study.text import plural, table


@dataclass(frozen=True)
class SpeedSettings:
    """How many epochs of how many images; ``quick()`` shrinks them to a smoke test."""

    images: int | None = None  # training images per epoch; None: all 60,000
    rounds: int = BENCH_ROUNDS  # timed epochs per path, after one warm-up epoch each
    batch_size: int = BATCH_SIZE

    def __post_init__(self) -> None:
        for name in ("images", "rounds", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be a positive integer, got {value}")


def speed_settings(
    quick: bool = False, images: int | None = None, rounds: int | None = None
) -> SpeedSettings:
    """All training images and ``BENCH_ROUNDS`` rounds, or with ``quick``
    ``BENCH_QUICK_IMAGES`` and ``BENCH_QUICK_ROUNDS`` (a smoke test, not evidence); ``images``
    and ``rounds`` win if given."""
    if quick:
        return SpeedSettings(images or BENCH_QUICK_IMAGES, rounds or BENCH_QUICK_ROUNDS)
    return SpeedSettings(images, rounds or BENCH_ROUNDS)


@dataclass(frozen=True)
class SpeedReport:
    machine: dict[str, Any]  # backend, library versions, device
    throughput: Throughput

    def to_dict(self) -> dict[str, Any]:
        return {"section": "speed", **asdict(self)}


def speed_machine() -> dict[str, Any]:
    """``study.provenance.machine()`` and the device the backend computes on: the GPU or TPU's
    kind, or the CPU model."""
    from lenet import backends
    from study.provenance import cpu_model, machine

    accelerator = backends.current().accelerator()
    return {**machine(), "device": accelerator or cpu_model(), "accelerator": accelerator}


def run_speed(
    settings: SpeedSettings, data_dir: Path | None = None, log: TextIO | None = None
) -> SpeedReport:
    """Times epochs of each path in alternating rounds and returns the figures.

    Args:
        settings: images per epoch, rounds and batch size.
        data_dir: folder with the Fashion-MNIST files, if not a default one.
        log: where a line is printed as each round starts (default: stderr).

    Raises:
        lenet.DataError: the data files are missing.
    """
    from lenet import backends, clear_session, load_fashion_mnist

    out = log or sys.stderr
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"speed: {time.perf_counter() - started:5.0f} s  {text}", file=out, flush=True)

    backends.current().quiet_logs()
    info = speed_machine()
    data = load_fashion_mnist(data_dir)
    n = settings.images or len(data.y_train)
    x, y = data.x_train[:n], data.y_train[:n]
    step(f"{info['backend']} on {info['device']}: {len(y):,} images per epoch")
    throughput = measure_throughput(x, y, settings.rounds, settings.batch_size, step=step)
    clear_session()
    step("done")
    return SpeedReport(info, throughput)


# -- drawing --------------------------------------------------------------------------------


def render(report: SpeedReport) -> str:
    """One row per path: first epoch, median seconds per epoch, images/s, speed-up."""
    t, m = report.throughput, report.machine
    library = ", ".join(
        f"{name} {m[name]}" for name in ("tensorflow", "jax", "jaxlib") if name in m
    )
    lines = [
        f"{m['device']}; Keras {m['keras']} on {m['backend']} ({library}), Python {m['python']}",
        f"classic LeNet-5, batch {t.batch_size}, {t.images:,} images per epoch; "
        f"median of {plural(t.rounds, 'round')} after a warm-up epoch each",
        "",
    ]
    header = ("path", "first epoch", "s/epoch", "images/s", "speed-up", "what it is")
    rows = [header]
    for name, description in t.paths.items():
        median = t.median_seconds[name]
        rows.append(
            (
                name,
                f"{t.first_epoch_seconds[name]:.2f} s",
                f"{median:.3f} s",
                f"{t.images / median:,.0f}",
                f"{t.speedups[name]:.2f}x",
                description,
            )
        )
    lines.append(table(rows, align="lrrrrl"))
    lines.append("speed-up: median of per-round reference / path seconds; first epoch: compiles")
    return "\n".join(lines)
