"""``lenet-study bench``: what a study costs on this machine, measured against plain Keras.

Each measurement is a function that returns a small record; ``render`` lays them out. The
measurements run in this order, because the first trial of a process is one of the figures:
trials in one process (overhead and memory), epoch throughput, pruning, parallel workers.
Timings on a shared machine are noisy, so the throughput is measured in alternating epochs of
our path and the reference, and reported as the median of per-round ratios.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import optuna

from lenet import (
    ModelConfig,
    Splits,
    TrainConfig,
    TrainingDiverged,
    build_model,
    load_fashion_mnist,
)
from lenet.train import compile_model, make_dataset
from study.objective import Objective
from study.runner import run_study
from study.settings import RunSettings


@dataclass(frozen=True)
class BenchSizes:
    """How much work each measurement does; ``quick()`` shrinks it to a smoke test."""

    throughput_images: int = 60_000  # the figure: all training images
    throughput_rounds: int = 3  # timed epochs per path, after one warm-up epoch each
    trials_in_process: int = 20  # overhead and memory: one worker's trials
    trial_train_images: int = 5_000  # per trial of the overhead/memory and parallel runs
    trial_val_images: int = 1_000
    parallel_trials: int = 8  # per configuration (one worker, or two workers together)
    pruning_trials: int = 12  # per study (hyperband, then none)
    pruning_epochs: int = 6
    pruning_train_images: int = 10_000
    pruning_val_images: int = 2_000
    batch_size: int = 128  # throughput and parallel trials (the classic LeNet-5 setting)

    @classmethod
    def quick(cls) -> BenchSizes:
        """Every figure at the smallest sizes that still produce it: a smoke test, not evidence."""
        return cls(
            throughput_images=2_048,
            throughput_rounds=1,
            trials_in_process=2,  # a first and a later trial
            trial_train_images=2_000,
            trial_val_images=500,
            parallel_trials=2,
            pruning_trials=2,
            pruning_epochs=2,
            pruning_train_images=2_000,
            pruning_val_images=500,
        )


@dataclass(frozen=True)
class Throughput:
    """Training images per second in the steady state (after a warm-up epoch)."""

    images: int
    ours_images_per_second: float  # median over rounds
    reference_images_per_second: float  # model.fit on NumPy arrays, default settings
    speedup: float  # median of per-round ratios reference_seconds / ours_seconds
    rounds: int
    batch_size: int


@dataclass(frozen=True)
class TrialCosts:
    """One worker's trials in one process: start-up overhead and memory."""

    trials: int
    first_overhead_seconds: float  # trial start to first step, less that step's compute
    later_overhead_seconds: float  # median over the later trials
    later_overhead_max_seconds: float
    peak_rss_mib: float  # VmHWM of this process over the trials
    rss_growth_mib_per_trial: float  # least-squares slope of RSS after each trial
    rss_after_trial_mib: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PrunedStudy:
    """One small study: what it trained and what it found."""

    pruner: str
    trials: int
    epochs_trained: int
    seconds: float
    best_val_accuracy: float


@dataclass(frozen=True)
class Pruning:
    with_pruner: PrunedStudy  # hyperband
    without: PrunedStudy
    epochs_saved_fraction: float
    accuracy_change_points: float  # with minus without, in percentage points


@dataclass(frozen=True)
class Parallel:
    """The same fixed trials, run by one two-thread worker or two one-thread workers."""

    trials: int
    one_worker_trials_per_hour: float  # one process, --threads 2
    two_workers_trials_per_hour: float  # two processes, --threads 1 each, one study
    faster: str  # "one" or "two"


@dataclass(frozen=True)
class BenchReport:
    machine: dict[str, Any]
    throughput: Throughput
    trial_costs: TrialCosts
    pruning: Pruning
    parallel: Parallel

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- memory -------------------------------------------------------------------------------


def _status_mib(key: str) -> float:
    """A ``/proc/self/status`` size (VmRSS, VmHWM) in MiB; NaN where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # the file says kB
    except OSError:
        pass
    return float("nan")


def _reset_peak_rss() -> None:
    # Writing 5 resets VmHWM (Linux >= 4.0), so the peak is this measurement's, not the
    # whole process'. Where that is refused the peak is the process' so far: an upper bound.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _slope(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(values)), values, 1)[0])


# -- per-trial overhead and memory ----------------------------------------------------------


class _FirstStepTimer(keras.callbacks.Callback):
    """Times a trial's first training step, less the compute of the steps it ran.

    Keras runs ``steps_per_execution`` steps per call, so the first call's end includes their
    compute. The first call of the second epoch runs the same steps, already traced: its time
    is that compute, and the difference is the overhead (build, tracing, data pipeline).
    """

    def __init__(self) -> None:
        super().__init__()
        self.trial_start = 0.0
        self.overheads: list[float] = []
        self._first_end: float | None = None
        self._to_first_end = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._epoch_start, self._first_end = epoch, time.perf_counter(), None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._first_end is not None:
            return
        self._first_end = time.perf_counter()
        if self._epoch == 0:
            self._to_first_end = self._first_end - self.trial_start
        elif self._epoch == 1:
            self.overheads.append(self._to_first_end - (self._first_end - self._epoch_start))


def measure_trial_costs(splits: Splits, trials: int, seed: int = 0) -> TrialCosts:
    """Runs ``trials`` 2-epoch trials of the search space in this process, unpruned.

    Call it before anything else trains in the process: its first trial is the figure for
    a worker's first trial.
    """
    timer = _FirstStepTimer()
    objective = Objective(
        splits=splits, base_train=TrainConfig(epochs=2, seed=seed), callbacks=(timer,)
    )
    rss: list[float] = []

    def timed(trial: optuna.Trial) -> float:
        timer.trial_start = time.perf_counter()
        return objective(trial)

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner(),
    )
    gc.freeze()  # as run_study does: the imports and data are out of every trial's collections
    _reset_peak_rss()
    study.optimize(
        timed,
        n_trials=trials,
        catch=(TrainingDiverged,),  # a diverged trial still costs its start-up; keep going
        gc_after_trial=True,
        callbacks=[lambda study, trial: rss.append(_status_mib("VmRSS"))],
    )
    later = timer.overheads[1:] or [float("nan")]
    return TrialCosts(
        trials=trials,
        first_overhead_seconds=timer.overheads[0],
        later_overhead_seconds=statistics.median(later),
        later_overhead_max_seconds=max(later),
        peak_rss_mib=_status_mib("VmHWM"),
        # The first trials warm caches (oneDNN kernels, Optuna's sampler); growth is after.
        rss_growth_mib_per_trial=_slope(rss[2:] if len(rss) > 3 else rss),
        rss_after_trial_mib=[round(r, 1) for r in rss],
    )


# -- epoch throughput -----------------------------------------------------------------------


def measure_throughput(
    x: np.ndarray, y: np.ndarray, rounds: int, batch_size: int = 128
) -> Throughput:
    """Epochs of the classic LeNet-5: our training path against plain ``model.fit``.

    The two alternate epoch by epoch, after one warm-up epoch each, so that load from other
    processes hits both alike; the speed-up is the median of the per-round ratios.
    """
    config = TrainConfig(batch_size=batch_size)
    keras.utils.set_random_seed(0)
    ours = compile_model(build_model(ModelConfig.classic()), config)
    dataset = make_dataset(x, y, batch_size, shuffle=True, seed=0)
    keras.utils.set_random_seed(0)
    reference = build_model(ModelConfig.classic())
    reference.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    def fit_ours() -> None:
        ours.fit(dataset, epochs=1, shuffle=False, verbose=0)

    def fit_reference() -> None:
        reference.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

    seconds: dict[str, list[float]] = {"ours": [], "reference": []}
    for round_ in range(rounds + 1):
        for name, fit in (("reference", fit_reference), ("ours", fit_ours)):
            start = time.perf_counter()
            fit()
            if round_:  # round 0 is the warm-up: tracing and first-touch allocations
                seconds[name].append(time.perf_counter() - start)
    ratios = [r / o for r, o in zip(seconds["reference"], seconds["ours"], strict=True)]
    return Throughput(
        images=len(y),
        ours_images_per_second=len(y) / statistics.median(seconds["ours"]),
        reference_images_per_second=len(y) / statistics.median(seconds["reference"]),
        speedup=statistics.median(ratios),
        rounds=rounds,
        batch_size=batch_size,
    )


# -- pruning ------------------------------------------------------------------------------


def measure_pruned_study(settings: RunSettings) -> PrunedStudy:
    """Runs one study through ``run_study`` (the real worker path) and sums what it trained."""
    study = run_study(settings, out=io.StringIO())
    trials = study.trials
    return PrunedStudy(
        pruner=settings.pruner,
        trials=len(trials),
        epochs_trained=sum(int(t.user_attrs.get("epochs_run", 0)) for t in trials),
        seconds=sum(t.duration.total_seconds() for t in trials if t.duration),
        best_val_accuracy=study.best_value,
    )


def measure_pruning(base: RunSettings) -> Pruning:
    """The same study (seed, trials, data) with the hyperband pruner and with none."""
    runs = {}
    for pruner in ("hyperband", "none"):
        name = f"bench-pruning-{pruner}"
        runs[pruner] = measure_pruned_study(_replace(base, study_name=name, pruner=pruner))
    with_pruner, without = runs["hyperband"], runs["none"]
    return Pruning(
        with_pruner=with_pruner,
        without=without,
        epochs_saved_fraction=1 - with_pruner.epochs_trained / without.epochs_trained,
        accuracy_change_points=100 * (with_pruner.best_val_accuracy - without.best_val_accuracy),
    )


def _replace(settings: RunSettings, **changes: Any) -> RunSettings:
    from dataclasses import replace

    return replace(settings, **changes)


# -- parallel workers -----------------------------------------------------------------------


def _fixed_params(batch_size: int) -> dict[str, Any]:
    """The classic LeNet-5, every config field fixed: each parallel trial costs the same.

    Optuna uses an enqueued value whenever the objective suggests that name and ignores the
    others, so this holds for any search space over these fields.
    """
    return {**ModelConfig.classic().to_dict(), **TrainConfig(batch_size=batch_size).to_dict()}


def _trials_per_hour(storage: str, study_name: str) -> float:
    study = optuna.load_study(study_name=study_name, storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RuntimeError(f"no trial of {study_name!r} completed; see the workers' output")
    # From the first trial's start to the last one's end: process start-up (importing
    # TensorFlow, loading the data) is paid once per worker, not per trial.
    start = min(t.datetime_start for t in done if t.datetime_start)
    end = max(t.datetime_complete for t in done if t.datetime_complete)
    return 3600 * len(done) / (end - start).total_seconds()


def _run_workers(folder: Path, name: str, workers: int, threads: int, sizes: BenchSizes) -> float:
    storage = f"sqlite:///{folder / 'parallel.db'}"
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    for _ in range(sizes.parallel_trials):
        study.enqueue_trial(_fixed_params(sizes.batch_size))
    # Worker options as `lenet-study run` takes them; enqueued trials are run first, so the
    # sampler never chooses and both configurations train the same trials.
    command = [
        sys.executable,
        "-m",
        "study.cli",
        "run",
        "--storage",
        storage,
        "--study-name",
        name,
        "--results-dir",
        str(folder / name),
        "--pruner",
        "none",
        "--epochs",
        "1",
        "--quick",
        "--threads",
        str(threads),
        "--n-trials",
        str(sizes.parallel_trials // workers),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(workers)
    ]
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a bench worker failed: {err.decode().strip()[-500:]}")
    return _trials_per_hour(storage, name)


def measure_parallel(sizes: BenchSizes) -> Parallel:
    """Trials per hour: one worker with two threads against two workers with one each."""
    if sizes.parallel_trials < 2 or sizes.parallel_trials % 2:
        raise ValueError(f"parallel_trials must be even and >= 2, got {sizes.parallel_trials}")
    with tempfile.TemporaryDirectory() as tmp:
        one = _run_workers(Path(tmp), "bench-one-worker", 1, 2, sizes)
        two = _run_workers(Path(tmp), "bench-two-workers", 2, 1, sizes)
    return Parallel(
        trials=sizes.parallel_trials,
        one_worker_trials_per_hour=one,
        two_workers_trials_per_hour=two,
        faster="two" if two > one else "one",
    )


# -- the whole bench ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """The CPU, its cores and the library versions: what the numbers are valid for."""
    from study.storage import versions

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        **versions(),
    }


def run_bench(
    sizes: BenchSizes, data_dir: Path | None = None, log: io.TextIOBase | None = None
) -> BenchReport:
    """Runs every measurement and returns them.

    Args:
        sizes: how much work each measurement does (``BenchSizes.quick()`` for a smoke test).
        data_dir: folder with the Fashion-MNIST files, if not a default one.
        log: where a line is printed as each measurement starts (default: stderr).
    """
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
            data.x_train[:n], data.y_train[:n], sizes.throughput_rounds, sizes.batch_size
        )
        keras.backend.clear_session()
        step(f"pruning: {sizes.pruning_trials} trials x {sizes.pruning_epochs} epochs, twice")
        pruning = measure_pruning(
            _replace(
                base,
                n_trials=sizes.pruning_trials,
                epochs=sizes.pruning_epochs,
                train_limit=sizes.pruning_train_images,
                val_limit=sizes.pruning_val_images,
            )
        )
    step(f"parallel: {sizes.parallel_trials} trials by 1 worker, then by 2")
    parallel = measure_parallel(sizes)
    step("done")
    return BenchReport(info, throughput, trial_costs, pruning, parallel)


def _quiet() -> None:
    import tensorflow as tf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Every trial builds a new model, so its functions are traced anew by design: the
    # "excessive retracing" warning is expected here, and the overhead is what we measure.
    tf.get_logger().setLevel("ERROR")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# -- drawing --------------------------------------------------------------------------------


def render(report: BenchReport) -> str:
    """The report as a plain-text table, one measured figure per row, with its target."""
    t, c, p, w = report.throughput, report.trial_costs, report.pruning, report.parallel
    m = report.machine
    rows = [
        ("epoch throughput, ours", f"{t.ours_images_per_second:,.0f} images/s", ""),
        (
            "epoch throughput, plain model.fit",
            f"{t.reference_images_per_second:,.0f} images/s",
            "",
        ),
        ("speed-up over plain model.fit", f"{t.speedup:.2f}x", ">= 2x"),
        ("first trial: start to first step", f"{c.first_overhead_seconds:.2f} s", ""),
        (
            "later trials: start to first step",
            f"{c.later_overhead_seconds:.2f} s (median)",
            "< 1 s",
        ),
        ("later trials: slowest", f"{c.later_overhead_max_seconds:.2f} s", "< 1 s"),
        ("1 worker x 2 threads", f"{w.one_worker_trials_per_hour:,.0f} trials/h", ""),
        ("2 workers x 1 thread", f"{w.two_workers_trials_per_hour:,.0f} trials/h", ""),
        ("faster", f"{w.faster} worker{'s' if w.faster == 'two' else ''}", ""),
        (
            "epochs trained, hyperband / none",
            f"{p.with_pruner.epochs_trained} / {p.without.epochs_trained}",
            "",
        ),
        ("epochs saved by pruning", f"{100 * p.epochs_saved_fraction:.0f} %", ">= 50 %"),
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
        ("best val_accuracy change", f"{p.accuracy_change_points:+.2f} points", "within 0.5"),
        ("peak RSS", f"{c.peak_rss_mib:,.0f} MiB", "< 2048 MiB"),
        (
            f"RSS growth over {c.trials} trials",
            f"{c.rss_growth_mib_per_trial:+.2f} MiB/trial",
            "flat",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [
        f"{m['cpu_model']}, {m['cores']} cores; TensorFlow {m['tensorflow']}, "
        f"Keras {m['keras']}, Optuna {m['optuna']}, Python {m['python']}",
        f"throughput: classic LeNet-5, batch {report.throughput.batch_size}, "
        f"{t.images:,} images per epoch, median of {t.rounds} epochs after a warm-up",
        "",
        f"{'measurement':<{width}}  {'value':<{value_width}}  target",
    ]
    lines += [f"{a:<{width}}  {b:<{value_width}}  {c_}".rstrip() for a, b, c_ in rows]
    return "\n".join(lines)


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
