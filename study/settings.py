"""The settings of ``lenet-study run``, the one place its defaults live. Light to import."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from study.errors import UsageError
from study.objectives import SINGLE
from study.options import (
    comma_joined,
    no_option,
    non_negative_int,
    option,
    positive_float,
    positive_int,
    switches,
)
from study.options import devices as device_list
from study.options import objectives as objective_list
from study.options import seed as seed_number
from study.paths import check_study_name
from study.space import SPACES_DIR, SearchSpace, default_space, load_space, space_objectives

PRESETS = ("default", "quick", "accurate", "pareto")
SAMPLERS = ("tpe", "random")  # `run --sampler`; study.samplers makes them
PRUNERS = ("hyperband", "median", "front", "none")  # `run --pruner`
# Optuna's pruners compare one reported value; a study with a size objective has two.
SINGLE_OBJECTIVE_PRUNERS = ("hyperband", "median")
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
PEERS_BUDGET = 1200.0  # `bench peers`: wall-clock seconds per contender
PEERS_QUICK_BUDGET = 60.0  # the same with --quick: a smoke test, not evidence
BENCH_ROUNDS = 3  # `bench` cost and speed: timed epochs per path, after a warm-up epoch each
BENCH_QUICK_IMAGES = 2_048  # the same with --quick: images per epoch, a smoke test
BENCH_QUICK_ROUNDS = 1


# A worker process' storage URL: in its environment, never on its command line, which `ps`
# shows every local user (a PostgreSQL URL holds the password).
STORAGE_ENV = "LENET_STUDY_STORAGE"


def default_storage(results_dir: Path = DEFAULT_RESULTS_DIR) -> str:
    return f"sqlite:///{results_dir / 'lenet-study.db'}"


@dataclass(frozen=True)
class RunSettings:
    """One ``lenet-study run``: what to optimize, where to store it, how long."""

    # Each field is declared once, with its `run` option: flag, parser and help (the help's
    # {default}, {quick}, {accurate} are those presets' settings; see study.options).
    storage: str | None = option(  # SQLAlchemy URL; default: SQLite in results_dir
        None,
        "--storage",
        "SQLAlchemy URL of the study storage (default: sqlite:///RESULTS_DIR/lenet-study.db)",
    )
    results_dir: Path = option(  # model artifacts, exports and reports
        DEFAULT_RESULTS_DIR,
        "--results-dir",
        "models, exports and reports (default: {default.results_dir})",
        type=Path,
    )
    study_name: str = option(
        DEFAULT_STUDY_NAME, "--study-name", "the study's name (default: {default.study_name})"
    )
    n_trials: int | None = option(  # trials this run adds; None: until timeout or max_trials
        20,
        "--n-trials",
        "trials to add (default: {default.n_trials}; --quick: {quick.n_trials}; "
        "--preset accurate: {accurate.n_trials})",
        type=positive_int,
    )
    max_trials: int | None = option(  # stop once the study has started this many, all workers'
        None,
        "--max-trials",
        "stop once the study has started this many trials in all, every worker's and every "
        "earlier run's (without --n-trials: the only trial limit); give each worker of a study "
        "on several machines the same N",
        type=positive_int,
        metavar="N",
    )
    timeout: float | None = option(  # seconds; stop starting trials after this
        None,
        "--timeout",
        "seconds from the command's start, loading included; no new trial after them "
        "(default: no time limit)",
        type=positive_float,
    )
    epochs: int = option(  # per trial (the pruner's max resource)
        10,
        "--epochs",
        "epochs per trial (default: {default.epochs}; --quick: {quick.epochs}; "
        "--preset accurate: {accurate.epochs})",
        type=positive_int,
    )
    objectives: tuple[str, ...] = option(  # None given: the space file's, else accuracy
        None,
        "--objectives",
        "what the study optimizes: accuracy (validation), or accuracy and the model's size, "
        "accuracy,params or accuracy,macs, for a Pareto front (default: the space file's "
        "objectives, else accuracy; --preset pareto: accuracy,params)",
        type=objective_list,
        metavar="accuracy[,params|macs]",
        spell=comma_joined,
    )
    sampler: str = option(
        "tpe",
        "--sampler",
        "how trials choose their parameters (default: {default.sampler})",
        choices=SAMPLERS,
    )
    pruner: str = option(  # None given: hyperband, or front with a size objective
        None,
        "--pruner",
        "how unpromising trials are stopped early; front, for a study with a size objective, "
        "stops a trial that cannot reach the front at its size (default: hyperband, or front "
        "with a size objective)",
        choices=PRUNERS,
    )
    startup_trials: int = option(  # TPE's random draws before it models the results
        STARTUP_TRIALS,
        "--startup-trials",
        "the sampler's first trials, drawn at random before TPE models the results "
        "(TPE's n_startup_trials; default: {default.startup_trials})",
        type=non_negative_int,
    )
    startup_epochs: int = option(  # the start-up trials train past it only while they lead
        2,
        "--startup-epochs",
        "with a pruner, the sampler's first trials (random draws) train past this epoch only "
        "while they lead; 0 trains them in full (default: {default.startup_epochs})",
        type=non_negative_int,
    )
    seed: int = option(  # sampler, data split and per-trial training seeds
        0,
        "--seed",
        "seeds the sampler, the validation split and training (default: {default.seed})",
        type=seed_number,
    )
    val_size: int = no_option(  # validation images taken from the 60,000 training images
        10_000, "fixed, so that every study's values are comparable"
    )
    data_dir: Path | None = option(None, "--data-dir", "{data_dir_help}", type=Path)
    train_limit: int | None = option(  # stratified subset of the training images (smoke runs)
        None,
        "--train-limit",
        "use a stratified subset of this many training images (default: all "
        "{train_images:,}; --quick: {quick.train_limit:,})",
        type=positive_int,
    )
    val_limit: int | None = option(  # stratified subset of the validation images (smoke runs)
        None,
        "--val-limit",
        "use a stratified subset of this many validation images (default: all "
        "{default.val_size:,}; --quick: {quick.val_limit:,})",
        type=positive_int,
    )
    workers: int = option(  # processes on this machine sharing the trials and cores
        DEFAULT_WORKERS,
        "--workers",
        "worker processes on this machine, sharing the trials and the cores "
        "(default: {default.workers})",
        type=positive_int,
    )
    threads: int | None = option(  # CPU threads per worker; None: cores / workers
        None,
        "--threads",
        "TensorFlow CPU threads per worker (default: the cores divided among the workers)",
        type=positive_int,
    )
    heartbeat_interval: int = option(  # seconds; a dead worker's trial fails after 3 beats
        10,
        "--heartbeat",
        "seconds between worker heartbeats; a trial whose worker died is failed after 3 "
        "missed beats and retried (default: {default.heartbeat_interval})",
        type=positive_int,
        metavar="SECONDS",
    )
    trials_per_process: int | None = option(  # None: all in one process
        DEFAULT_TRIALS_PER_PROCESS,
        "--trials-per-process",
        "start a fresh worker process after this many trials, which gives back the memory "
        "TensorFlow keeps from trial to trial (default: {default.trials_per_process})",
        type=positive_int,
    )
    backend: str | None = option(  # Keras backend; None: KERAS_BACKEND or ~/.keras/keras.json
        None,
        "--backend",
        "Keras backend: tensorflow or jax (default: KERAS_BACKEND, ~/.keras/keras.json, "
        "else tensorflow)",
    )
    devices: tuple[int, ...] | None = option(  # GPUs the workers take in turn; None: all
        None,
        "--devices",
        "GPUs the workers take in turn, several workers per GPU allowed "
        "(default: every visible GPU; none: the CPU)",
        type=device_list,
        metavar="0,1",
        spell=comma_joined,
    )

    space_file: Path | None = option(  # search-space TOML; None: study/spaces/default.toml
        None,
        "--space",
        "search-space TOML (default: study/spaces/default.toml; "
        "--preset accurate: study/spaces/accurate.toml)",
        type=Path,
    )
    verbosity: int = switches(  # 0 (-q): errors and the summary; 2 (-v): a line per epoch too
        1,
        (("-v", "--verbose"), 2, "also a line per epoch of every trial"),
        (("-q", "--quiet"), 0, "print only errors and the final summary"),
    )

    def __post_init__(self) -> None:
        check_study_name(self.study_name)  # `run` refuses a name no one could type back
        # Resolved once, here, so that workers, the manifest and the header see one value.
        objectives = self.objectives
        if objectives is None and self.space_file is not None:
            objectives = space_objectives(self.space_file)
        objectives = objectives or SINGLE
        object.__setattr__(self, "objectives", objectives)
        several = len(objectives) > 1
        pruner = self.pruner or ("front" if several else "hyperband")
        if several and pruner in SINGLE_OBJECTIVE_PRUNERS:
            raise UsageError(
                f"--pruner {pruner} compares one value per epoch and this study has "
                f"{len(objectives)} objectives; use --pruner front or none"
            )
        if not several and pruner == "front":
            raise UsageError(
                "--pruner front needs a size objective: add --objectives accuracy,params "
                "(or accuracy,macs)"
            )
        object.__setattr__(self, "pruner", pruner)

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
    def pareto(cls, **overrides: Any) -> RunSettings:
        """The ``--preset pareto`` study: accuracy against parameters over
        spaces/pareto.toml, models from about 3K to 300K parameters, 12 epochs per trial,
        40 minutes of trials; about an hour on 2 cores with export and report."""
        return cls(
            **{
                "n_trials": None,
                "timeout": 2400.0,
                "epochs": 12,
                "space_file": SPACES_DIR / "pareto.toml",
                "objectives": ("accuracy", "params"),
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


def help_context() -> dict[str, Any]:
    """What the help templates of ``RunSettings``' options name besides ``default``."""
    from lenet.data import DEBIAN_DATA_DIR, KERAS_CACHE_DIR

    return {
        "quick": RunSettings.quick(),
        "accurate": RunSettings.accurate(),
        "train_images": FASHION_MNIST_TRAIN_IMAGES - RunSettings().val_size,
        "data_dir_help": "folder with the four *-ubyte.gz files (default: $LENET_DATA_DIR, "
        f"then {KERAS_CACHE_DIR}, then {DEBIAN_DATA_DIR})",
    }
