"""The settings of ``lenet-study run``, the one place its defaults live. Light to import."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from study.errors import UsageError
from study.paths import check_study_name
from study.space import SPACES_DIR, SearchSpace, default_space, load_space

PRESETS = ("default", "quick", "accurate")
DEFAULT_RESULTS_DIR = Path("results")
DEFAULT_STUDY_NAME = "lenet5-fashion-mnist"
# Worker processes of `run --workers`, each with its share of the cores: LeNet-5's small ops
# do not spread over cores, so two 1-thread workers beat one 2-thread (docs/performance.md).
DEFAULT_WORKERS = 2
# A worker's trials run in fresh processes of this many: oneDNN caches compiled kernels per
# tensor shape until the process ends, so memory grows with each new shape (docs/performance.md).
DEFAULT_TRIALS_PER_PROCESS = 10
# `run --startup-trials`: TPE's random start-up draws, Optuna's default. 5 was measured and
# not kept: better at two seeds, worse at seed 0 (docs/performance.md#fewer-start-up-trials).
STARTUP_TRIALS = 10
DEFAULT_REPORT_SEEDS = 3  # `report`: retraining seeds per configuration
DEFAULT_DASHBOARD_HOST = "127.0.0.1"  # local only: the dashboard has no login
DEFAULT_DASHBOARD_PORT = 8080  # optuna-dashboard's own default
FASHION_MNIST_TRAIN_IMAGES = 60_000  # the validation images are taken from these
# `bench --section`: what a study costs; the other tuners; epoch speed on this backend; the
# start-up of `predict` per exported format
BENCH_SECTIONS = ("cost", "peers", "speed", "predict")
PEERS_BUDGET = 1200.0  # `bench --section peers`: wall-clock seconds per contender
PEERS_QUICK_BUDGET = 60.0  # the same with --quick: a smoke test, not evidence
BENCH_ROUNDS = 3  # `bench` cost and speed: timed epochs per path, after a warm-up epoch each
BENCH_QUICK_IMAGES = 2_048  # the same with --quick: images per epoch, a smoke test
BENCH_QUICK_ROUNDS = 1


def default_storage(results_dir: Path = DEFAULT_RESULTS_DIR) -> str:
    return f"sqlite:///{results_dir / 'lenet-study.db'}"


@dataclass(frozen=True)
class RunSettings:
    """One ``lenet-study run``: what to optimize, where to store it, how long."""

    study_name: str = DEFAULT_STUDY_NAME
    storage: str | None = None  # SQLAlchemy URL; default: SQLite in results_dir
    results_dir: Path = DEFAULT_RESULTS_DIR  # model artifacts, exports and reports
    n_trials: int | None = 20  # trials this run adds; None: until timeout or max_trials
    max_trials: int | None = None  # stop once the study has started this many, all workers'
    timeout: float | None = None  # seconds; stop starting trials after this
    epochs: int = 10  # per trial (the pruner's max resource)
    sampler: str = "tpe"
    pruner: str = "hyperband"
    startup_trials: int = STARTUP_TRIALS  # TPE's random draws before it models the results
    # The start-up trials train past this epoch only while they lead; 0: in full
    startup_epochs: int = 2
    seed: int = 0  # sampler, data split and per-trial training seeds
    val_size: int = 10_000  # validation images taken from the 60,000 training images
    train_limit: int | None = None  # stratified subset of the training images (smoke runs)
    val_limit: int | None = None  # stratified subset of the validation images (smoke runs)
    data_dir: Path | None = None
    workers: int = DEFAULT_WORKERS  # processes on this machine sharing the trials and cores
    threads: int | None = None  # CPU threads per worker; None: cores / workers
    heartbeat_interval: int = 10  # seconds; a dead worker's trial fails after 3 missed beats
    trials_per_process: int | None = DEFAULT_TRIALS_PER_PROCESS  # None: all in one process
    space_file: Path | None = None  # search-space TOML; None: study/spaces/default.toml
    verbosity: int = 1  # 0 (-q): errors and the summary; 2 (-v): a line per epoch too
    backend: str | None = None  # Keras backend; None: KERAS_BACKEND or ~/.keras/keras.json
    devices: tuple[int, ...] | None = None  # GPUs the workers take in turn; None: all visible

    def __post_init__(self) -> None:
        check_study_name(self.study_name)  # `run` refuses a name no one could type back

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage(self.results_dir)

    @classmethod
    def quick(cls, **overrides: Any) -> RunSettings:
        """A smoke preset: 5,000 training and 1,000 validation images, 2 epochs, 4 trials."""
        return cls(
            **{"n_trials": 4, "epochs": 2, "train_limit": 5000, "val_limit": 1000, **overrides}
        )

    @classmethod
    def accurate(cls, **overrides: Any) -> RunSettings:
        """The ``--preset accurate`` study: the wide space of spaces/accurate.toml (<= 100K
        parameters), 30 epochs per trial, 60 trials; a few hours on 2 cores with Hyperband."""
        return cls(
            **{
                "n_trials": 60,
                "epochs": 30,
                "space_file": SPACES_DIR / "accurate.toml",
                **overrides,
            }
        )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> RunSettings:
        """The settings of a named preset (``PRESETS``), with ``overrides`` on top."""
        if name not in PRESETS:
            raise UsageError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**overrides) if name == "default" else getattr(cls, name)(**overrides)

    def search_space(self) -> SearchSpace:
        return load_space(self.space_file) if self.space_file else default_space()

    @property
    def recycles(self) -> bool:
        """Whether this run's trials may need more than one worker process."""
        size = self.trials_per_process
        return size is not None and (self.n_trials is None or self.n_trials > size)

    def until_total(self, started: int) -> RunSettings:
        """These settings with "``n_trials`` more" said as "until the study has started
        ``started + n_trials``" (at most ``max_trials``), a total every worker can run to."""
        if self.n_trials is None:
            return self
        total = started + self.n_trials
        if self.max_trials is not None:
            total = min(total, self.max_trials)
        return replace(self, n_trials=None, max_trials=total)

    def protocol(self) -> dict[str, Any]:
        """The settings that make two trials' values comparable."""
        return {
            "epochs": self.epochs,
            "val_size": self.val_size,
            "train_limit": self.train_limit,
            "val_limit": self.val_limit,
            "split_seed": self.seed,
        }


def run_settings(preset: str, **given: Any) -> RunSettings:
    """The settings of one ``run``: the preset's, with the options the user gave on top.

    ``max_trials`` given without ``n_trials`` is the run's only trial limit, rather than a cap
    on the default number of trials to add.
    """
    if "max_trials" in given:
        given.setdefault("n_trials", None)
    return RunSettings.preset(preset, **given)
