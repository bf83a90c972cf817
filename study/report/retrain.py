"""Retraining the baseline and the best configuration on all training images, with a cache.

The study picks its best trial on a validation split, so its validation accuracy is an
optimistic estimate. The report's comparison therefore retrains the classic LeNet-5 and the
best trial's configuration from scratch on the full training set, for the same epochs and the
same seeds, and scores both on the test set, which nothing here selects on.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lenet import (
    FashionMNIST,
    ModelConfig,
    Splits,
    TrainConfig,
    clear_session,
    count_params,
    summarize_predictions,
    train,
)
from lenet.data import stratified_indices
from study.files import write_atomic
from study.report.pool import retrain_in_processes
from study.text import plural

CACHE_FILE = "retrain.json"
CACHE_VERSION = 1  # bump when the stored record changes shape
SUBSET_SEED = 0  # which images --train-limit / --test-limit keep
BASELINE_TRAIN = TrainConfig()  # Adam 1e-3, batch 128: the usual LeNet-5 recipe


@dataclass(frozen=True)
class RetrainSettings:
    """What is retrained, on what, and how often. Any change means a new cache key."""

    baseline_model: ModelConfig
    baseline_train: TrainConfig
    best_model: ModelConfig
    best_train: TrainConfig
    seeds: tuple[int, ...]
    epochs: int
    train_limit: int | None = None  # stratified subset of the 60,000 images; None: all
    test_limit: int | None = None  # stratified subset of the 10,000 test images; None: all
    data: dict[str, str] = field(default_factory=dict)  # checksums of the files used

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("at least one seed is needed to retrain")
        if self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """A SHA-256 of everything that changes the retrained numbers."""
        text = json.dumps({"version": CACHE_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RetrainRun:
    """One configuration trained with one seed, scored on the test images."""

    seed: int
    accuracy: float
    loss: float
    per_class: list[dict[str, Any]]  # class, name, precision, recall, f1, support
    confusion: list[list[int]]  # confusion[true][predicted]
    history: dict[str, list[float]]  # training loss and accuracy per epoch
    train_seconds: float
    n_params: int
    predictions: list[int]  # predicted class of every test image, in order
    confidence: list[float]  # probability of the predicted class


@dataclass(frozen=True)
class Candidate:
    """A front trial's configuration, retrained with the same seeds, epochs and data."""

    number: int  # the trial
    model: ModelConfig
    train: TrainConfig

    def key(self, settings: RetrainSettings) -> str:
        """A SHA-256 of the shared settings and this configuration: its runs' cache entry."""
        text = json.dumps(
            {
                "settings": settings.key(),
                "model": self.model.to_dict(),
                "train": self.train.to_dict(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class FrontRuns:
    """One front trial's runs, seed by seed as the baseline's."""

    candidate: Candidate
    runs: list[RetrainRun]


@dataclass(frozen=True)
class RetrainResult:
    """Both arms' runs, seed by seed in the same order, and what produced them; with a size
    objective, the chosen front trials' runs too."""

    settings: RetrainSettings
    baseline: list[RetrainRun]
    best: list[RetrainRun]
    test_indices: list[int]  # which test images were scored (all, unless --test-limit)
    from_cache: bool = False
    front: tuple[FrontRuns, ...] = ()
    front_from_cache: bool = True  # no front run was trained for this report


def subset(n: int, labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of a stratified ``limit``-image subset, or of all ``n`` images."""
    if limit is None or limit >= n:
        return np.arange(n)
    return stratified_indices(labels, limit, SUBSET_SEED)


def retrain_one(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_images: Splits,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> RetrainRun:
    """Trains one configuration for all its epochs (no early stopping) and scores it."""
    clear_session()  # each run builds a new graph; free the previous one
    start = time.perf_counter()
    result = train(model_config, train_config, train_images, validate=False)
    seconds = time.perf_counter() - start
    probabilities = result.model.predict(x_test, batch_size=1000, verbose=0)
    evaluation = summarize_predictions(y_test, probabilities)
    return RetrainRun(
        seed=train_config.seed,
        accuracy=evaluation.accuracy,
        loss=evaluation.loss,
        per_class=evaluation.per_class,
        confusion=evaluation.confusion,
        history={k: result.history[k] for k in ("loss", "accuracy") if k in result.history},
        train_seconds=seconds,
        n_params=int(result.model.count_params()),
        predictions=probabilities.argmax(axis=1).astype(int).tolist(),
        confidence=np.round(probabilities.max(axis=1), 4).astype(float).tolist(),
    )


def retrain(
    settings: RetrainSettings,
    data: FashionMNIST,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> RetrainResult:
    """Retrains both arms with every seed on the (possibly limited) training images.

    Args:
        settings: the arms, seeds, epochs and data limits.
        data: the verified data set.
        progress: gets one line per finished run: retraining takes minutes per run.
        workers: processes sharing the runs and the cores (``study.report.pool``); 1: here.
    """
    arms = {
        "baseline": (settings.baseline_model, settings.baseline_train),
        "best": (settings.best_model, settings.best_train),
    }
    runs = train_arms(settings, arms, data, progress, workers)
    test_idx = subset(len(data.y_test), data.y_test, settings.test_limit)
    return RetrainResult(settings, runs["baseline"], runs["best"], test_idx.tolist())


def train_arms(
    settings: RetrainSettings,
    arms: dict[str, tuple[ModelConfig, TrainConfig]],
    data: FashionMNIST,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> dict[str, list[RetrainRun]]:
    """Trains each named ``(model, training)`` arm with every seed of ``settings``, for its
    epochs, on its training images, and scores it on its test images."""
    train_idx = subset(len(data.y_train), data.y_train, settings.train_limit)
    test_idx = subset(len(data.y_test), data.y_test, settings.test_limit)
    # validate=False: no validation set is used, so none is needed; nothing selects on test.
    images = Splits(
        x_train=data.x_train[train_idx],
        y_train=data.y_train[train_idx],
        x_val=data.x_train[:0],
        y_val=data.y_train[:0],
    )
    x_test, y_test = data.x_test[test_idx], data.y_test[test_idx]
    # The larger model's runs first: processes that finish early then take the short ones.
    order = sorted(arms, key=lambda name: -count_params(arms[name][0]))
    names = [name for name in order for _ in settings.seeds]
    runs = [
        (arms[name][0], replace(arms[name][1], epochs=settings.epochs, seed=seed))
        for name in order
        for seed in settings.seeds
    ]

    def finished(index: int, run: RetrainRun) -> None:
        if progress is not None:
            epochs = settings.epochs
            progress(
                f"retrained {names[index]}, seed {run.seed}: test accuracy {run.accuracy:.4f} "
                f"({plural(epochs, 'epoch')}, {run.train_seconds:.0f} s)"
            )

    workers = min(workers, len(runs))
    if workers > 1:
        results = retrain_in_processes(runs, images, x_test, y_test, workers, finished)
    else:
        from lenet import backends

        backends.current().quiet_logs()  # a new model per run: retracing is expected
        results = []
        for model_config, train_config in runs:
            results.append(retrain_one(model_config, train_config, images, x_test, y_test))
            finished(len(results) - 1, results[-1])
    by_arm: dict[str, list[RetrainRun]] = {name: [] for name in arms}
    for name, run in zip(names, results, strict=True):
        by_arm[name].append(run)
    return by_arm


def load_cached(path: Path, settings: RetrainSettings) -> RetrainResult | None:
    """The cached result for exactly these settings, or None (missing, stale or unreadable)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != settings.key():
        return None
    return RetrainResult(
        settings=settings,
        baseline=[RetrainRun(**run) for run in stored["baseline"]],
        best=[RetrainRun(**run) for run in stored["best"]],
        test_indices=stored["test_indices"],
        from_cache=True,
    )


def save(path: Path, result: RetrainResult, storage: str | None = None) -> None:
    """Writes the result as JSON, replacing the file only once it is complete; ``storage``:
    the study's ``storage_identity``, which delete-study and later writers check."""
    record: dict[str, Any] = {
        "storage": storage,
        "key": result.settings.key(),
        "settings": result.settings.to_dict(),
        "baseline": [asdict(run) for run in result.baseline],
        "best": [asdict(run) for run in result.best],
        "test_indices": result.test_indices,
    }
    if result.front:  # absent otherwise: a single-objective study's file stays as it was
        record["front"] = {
            arm.candidate.key(result.settings): {
                "trial": arm.candidate.number,
                "runs": [asdict(run) for run in arm.runs],
            }
            for arm in result.front
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record))


def retrain_or_load(
    settings: RetrainSettings,
    data: FashionMNIST,
    cache: Path,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    storage: str | None = None,
) -> RetrainResult:
    """Returns the cached result for these settings, or retrains and caches it.

    Args:
        settings: the arms, seeds, epochs and data limits.
        data: the verified data set.
        cache: the JSON file that holds the last result.
        force: retrain even if the cache matches.
        progress: gets one line per finished retraining run.
        workers: processes sharing the runs and the cores; 1: this process.
        storage: the study's ``storage_identity``, recorded in the cache.
    """
    if not force and (cached := load_cached(cache, settings)) is not None:
        return cached
    result = retrain(settings, data, progress, workers)
    save(cache, result, storage)
    return result
