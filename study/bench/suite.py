"""``lenet-study bench``: what a study costs on this machine, measured against plain Keras.

Each measurement is a function that returns a small record; ``render`` lays them out. The
measurements run in this order, because the first trial of a process is one of the figures:
trials in one process (overhead and memory), epoch throughput, pruning, parallel workers.
Timings on a shared machine are noisy, so the throughput is measured in alternating epochs of
our path and the reference, and reported as the median of per-round ratios.
"""

from __future__ import annotations

import gc
import io
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from lenet import clear_session, load_fashion_mnist
from study.bench.budget import Budget, measure_budget
from study.bench.measure import Pruning, TrialCosts, measure_pruning, measure_trial_costs
from study.bench.throughput import BATCH_SIZE, Throughput, measure_throughput
from study.bench.workers import Parallel, measure_parallel
from study.provenance import machine
from study.settings import (
    BENCH_QUICK_IMAGES,
    BENCH_QUICK_ROUNDS,
    BENCH_ROUNDS,
    RunSettings,
)
from study.text import plural, table


@dataclass(frozen=True)
class BenchSizes:
    """How much work each measurement does; ``quick()`` shrinks it to a smoke test."""

    throughput_images: int = 60_000  # all training images
    throughput_rounds: int = BENCH_ROUNDS  # timed epochs per path, after a warm-up epoch each
    trials_in_process: int = 20  # overhead and memory: one worker's trials
    trial_train_images: int = 5_000  # per trial of the overhead and memory run
    trial_val_images: int = 1_000
    parallel_trials: int = 8  # per configuration; 1 epoch on the `run --quick` images
    pruning_trials: int = 12  # per study (hyperband, then none)
    pruning_epochs: int = 6
    pruning_train_images: int = 10_000
    pruning_val_images: int = 2_000
    batch_size: int = BATCH_SIZE  # throughput and parallel trials
    budget_trials: int = 60  # per study of the parameter-budget measure (1 epoch each)
    budget_seeds: int = 3  # studies per arm (budget told to the sampler, or not)
    budget_train_images: int = 2_000
    budget_val_images: int = 500

    @classmethod
    def quick(cls) -> BenchSizes:
        """Every figure at the smallest sizes that still produce it: a smoke test, not evidence."""
        return cls(
            throughput_images=BENCH_QUICK_IMAGES,
            throughput_rounds=BENCH_QUICK_ROUNDS,
            trials_in_process=2,  # a first and a later trial
            trial_train_images=2_000,
            trial_val_images=500,
            parallel_trials=2,
            pruning_trials=2,
            pruning_epochs=2,
            pruning_train_images=2_000,
            pruning_val_images=500,
            budget_trials=2,
            budget_seeds=1,
        )


@dataclass(frozen=True)
class BenchReport:
    machine: dict[str, Any]
    throughput: Throughput
    trial_costs: TrialCosts
    pruning: Pruning
    parallel: Parallel
    budget: Budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the whole bench ------------------------------------------------------------------------


def run_bench(
    sizes: BenchSizes, data_dir: Path | None = None, log: io.TextIOBase | None = None
) -> BenchReport:
    """Runs every measurement and returns them.

    Args:
        sizes: how much work each measurement does (``BenchSizes.quick()`` for a smoke test).
        data_dir: folder with the Fashion-MNIST files, if not a default one.
        log: where a line is printed as each measurement starts (default: stderr).

    Raises:
        UsageError: Keras runs on another backend than TensorFlow, which this section
            measures (``study.bench.speed`` times epochs on any backend).
    """
    import keras

    from study.errors import UsageError

    if keras.backend.backend() != "tensorflow":
        raise UsageError(
            f"bench cost measures the TensorFlow backend, not {keras.backend.backend()}: run "
            "it with KERAS_BACKEND=tensorflow, or time epochs on this backend with bench speed"
        )
    out = log or sys.stderr
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"bench: {time.perf_counter() - started:5.0f} s  {text}", file=out, flush=True)

    _quiet()

    info = machine()
    data = load_fashion_mnist(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        base = RunSettings(
            storage=f"sqlite:///{Path(tmp) / 'bench.db'}",
            results_dir=Path(tmp),
            sampler="tpe",
            seed=0,
            data_dir=data_dir,
            train_limit=sizes.trial_train_images,
            val_limit=sizes.trial_val_images,
        )
        from study.runner import load_splits

        splits, _ = load_splits(base)
        step(f"{sizes.trials_in_process} trials in this process (overhead, memory)")
        trial_costs = measure_trial_costs(splits, sizes.trials_in_process)
        del splits
        gc.collect()
        n = sizes.throughput_images
        step(f"epoch throughput on {n} images, {sizes.throughput_rounds} rounds")
        throughput = measure_throughput(
            data.x_train[:n],
            data.y_train[:n],
            sizes.throughput_rounds,
            sizes.batch_size,
            ceiling=True,
        )
        clear_session()
        step(f"budget: {sizes.budget_trials} trials x {sizes.budget_seeds} seeds, twice")
        budget_splits, _ = load_splits(
            replace(
                base,
                train_limit=sizes.budget_train_images,
                val_limit=sizes.budget_val_images,
            )
        )
        budget = measure_budget(
            budget_splits, sizes.budget_trials, list(range(sizes.budget_seeds))
        )
        del budget_splits
        step(f"pruning: {sizes.pruning_trials} trials x {sizes.pruning_epochs} epochs, twice")
        pruning = measure_pruning(
            replace(
                base,
                n_trials=sizes.pruning_trials,
                epochs=sizes.pruning_epochs,
                train_limit=sizes.pruning_train_images,
                val_limit=sizes.pruning_val_images,
            )
        )
    step(f"parallel: {sizes.parallel_trials} trials by 1 worker, then by 2")
    parallel = measure_parallel(sizes.parallel_trials, sizes.batch_size)
    step("done")
    return BenchReport(info, throughput, trial_costs, pruning, parallel, budget)


def _quiet() -> None:
    import tensorflow as tf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Every trial builds a new model, so its functions are traced anew by design: the
    # "excessive retracing" warning is expected here, and the overhead is what we measure.
    tf.get_logger().setLevel("ERROR")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# -- drawing --------------------------------------------------------------------------------


def render(report: BenchReport) -> str:
    """The report as a plain-text table: one measured figure per row, with what it means."""
    t, c, p, w = report.throughput, report.trial_costs, report.pruning, report.parallel
    b = report.budget
    studies = f"{b.trials} trials x {len(b.seeds)} seeds"
    m = report.machine
    rows = [
        ("epoch throughput, ours", f"{t.ours_images_per_second:,.0f} images/s", ""),
        (
            "epoch throughput, plain model.fit",
            f"{t.reference_images_per_second:,.0f} images/s",
            "",
        ),
        ("speed-up over plain model.fit", f"{t.speedup:.2f}x", "our training loop's gain"),
        (
            "ceiling: bare train step, one batch",
            f"{t.ceiling_images_per_second:,.0f} images/s",
            "",
        ),
        (
            "ceiling's speed-up over model.fit",
            f"{t.ceiling_speedup:.2f}x",
            "the most any loop gains",
        ),
        ("first trial: start to first step", f"{c.first_overhead_seconds:.2f} s", ""),
        (
            "later trials: start to first step",
            f"{c.later_overhead_seconds:.2f} s (median)",
            "build, trace, first step",
        ),
        ("later trials: slowest", f"{c.later_overhead_max_seconds:.2f} s", ""),
        ("1 worker x 2 threads", f"{w.one_worker_trials_per_hour:,.0f} trials/h", ""),
        ("2 workers x 1 thread", f"{w.two_workers_trials_per_hour:,.0f} trials/h", ""),
        ("faster", plural(2 if w.faster == "two" else 1, "worker"), "use as run --workers"),
        (
            "epochs trained, hyperband / none",
            f"{p.with_pruner.epochs_trained} / {p.without.epochs_trained}",
            "",
        ),
        ("epochs saved by pruning", f"{100 * p.epochs_saved_fraction:.0f} %", "compute saved"),
        (
            "trial seconds, hyperband / none",
            f"{p.with_pruner.seconds:.0f} / {p.without.seconds:.0f} s",
            "",
        ),
        (
            "best val_accuracy, hyperband / none",
            f"{p.with_pruner.best_val_accuracy:.4f} / {p.without.best_val_accuracy:.4f}",
            "",
        ),
        (
            "best val_accuracy change",
            f"{p.accuracy_change_points:+.2f} points",
            "what pruning cost",
        ),
        (
            "trials over budget, untold / told",
            f"{100 * b.share_untold:.0f} % / {100 * b.share_told:.0f} %",
            f"{b.space}, {studies}",
        ),
        ("peak RSS", f"{c.peak_rss_mib:,.0f} MiB", "memory one worker needs"),
        (
            f"RSS growth over {c.trials} trials",
            f"{c.rss_growth_mib_per_trial:+.2f} MiB/trial",
            "why workers restart",
        ),
    ]
    lines = [
        f"{m['cpu_model']}, {m['cores']} cores; TensorFlow {m['tensorflow']}, "
        f"Keras {m['keras']}, Optuna {m['optuna']}, Python {m['python']}",
        f"throughput: classic LeNet-5, batch {report.throughput.batch_size}, "
        f"{t.images:,} images per epoch, median of {plural(t.rounds, 'epoch')} after a warm-up",
        "",
        table([("measurement", "value", "meaning"), *rows]),
    ]
    return "\n".join(lines)
