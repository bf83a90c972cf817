"""What the report says, computed: typed records a test can check against the storage.

``summarize`` gathers the study's counts, where its best trial came from
(``study.report.origin``), the retrained comparison with its paired test, the best model's
mistakes and the provenance. ``study.report.render`` only lays them out, as
Optuna's visualization splits ``_get_..._info`` from drawing.
"""

from __future__ import annotations

import datetime
import os
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState
from scipy.stats import binomtest

from lenet import FashionMNIST, TrainConfig
from study.objectives import study_objectives
from study.provenance import cpu_model, provenance
from study.report.language import N_
from study.report.origin import BestOrigin, best_origin
from study.report.retrain import RetrainResult, RetrainRun
from study.results import best_trial_or_none, over_budget, trained_epochs, trials_table
from study.samplers import screen_note
from study.settings import STARTUP_TRIALS
from study.storage import manifest_of

if TYPE_CHECKING:
    from study.report.front import FrontSection

TOP_TRIALS = 10
CONFUSED_PAIRS = 6
MISCLASSIFIED_SHOWN = 24
# Optuna's plots and the minimum completed trials each needs to say anything.
PLOT_MIN_COMPLETED = {"history": 1, "importances": 2, "parallel": 2, "slice": 1}
# PED-ANOVA (Optuna's default) contrasts the top 10 % of completed trials with all of them;
# below 10 trials that top holds a single trial, and the ranking is mostly noise.
IMPORTANCES_RELIABLE_FROM = 10
NO_COMPARISON = N_(
    "the study has no completed trial, so there is no best configuration to compare"
)


@dataclass(frozen=True)
class StudyFacts:
    """Section 1: how much the study ran, and what pruning saved."""

    name: str
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    n_unfinished: int  # running or waiting, e.g. a study still in progress elsewhere
    started: datetime.datetime | None  # the first trial's start
    compute_seconds: float  # sum of the finished trials' wall-clock durations
    epochs_per_trial: int
    epochs_run: int  # epochs the finished trials trained
    epochs_without_pruning: int  # the same trials, had none been pruned
    sampler: str  # as the study's command line names it: tpe, random
    pruner: str  # hyperband, median, none
    screened_at: int | None  # the epoch of the start-up screen, when it can stop a trial
    seed: int | None
    protocol: dict[str, Any]
    best_number: int | None
    best_value: float | None
    best_params: dict[str, Any]


@dataclass(frozen=True)
class Arm:
    """One retrained configuration over all seeds."""

    role: str  # "baseline" (the classic LeNet-5) or "best" (the best trial's configuration)
    config: dict[str, Any]  # model and training parameters
    runs: list[RetrainRun]

    @property
    def accuracies(self) -> list[float]:
        return [run.accuracy for run in self.runs]

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std_accuracy(self) -> float:
        """Sample standard deviation over seeds; 0 with a single seed."""
        return statistics.stdev(self.accuracies) if len(self.runs) > 1 else 0.0

    @property
    def n_params(self) -> int:
        return self.runs[0].n_params

    @property
    def mean_train_seconds(self) -> float:
        return statistics.fmean(run.train_seconds for run in self.runs)


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on one seed's paired test predictions."""

    seed: int
    only_baseline_right: int  # b: images the baseline gets right and the best gets wrong
    only_best_right: int  # c
    p_value: float  # two-sided exact binomial test of c against b + c at one half


@dataclass(frozen=True)
class Mistake:
    """One misclassified test image."""

    index: int  # in the 10,000 test images
    true: int
    predicted: int
    confidence: float
    pixels: np.ndarray  # (28, 28) uint8


@dataclass(frozen=True)
class Comparison:
    """Sections 3 and 4: the retrained arms, their paired tests and the best's mistakes."""

    baseline: Arm
    best: Arm
    epochs: int
    train_images: int
    test_images: int
    mcnemar: list[McNemar]
    confused_pairs: pd.DataFrame  # true, predicted (class indices), count, share of true
    mistakes: list[Mistake]
    from_cache: bool


@dataclass(frozen=True)
class Report:
    """Everything the report shows, except Optuna's plots, which are drawn from the study."""

    facts: StudyFacts
    origin: BestOrigin
    top_trials: pd.DataFrame
    plot_missing: dict[str, int]  # plot name -> the completed trials it needs, more than ran
    comparison: Comparison | None
    comparison_missing: str | None  # English; the page translates it
    provenance: dict[str, Any]
    written: datetime.date
    exports: dict[str, Any] | None = None  # the checked export beside the report, if any
    objectives: tuple[str, ...] = ("accuracy",)  # with a size: the accuracy-size section
    front: FrontSection | None = None  # that section, when a completed trial makes a front


def study_facts(study: optuna.Study) -> StudyFacts:
    """Counts and compute of a study, from its storage."""
    manifest = manifest_of(study)
    protocol = manifest.get("protocol", {})
    trials = study.get_trials(deepcopy=False)
    by_state = {s: [t for t in trials if t.state == s] for s in TrialState}
    finished = [t for t in trials if t.state.is_finished()]
    epochs = int(protocol.get("epochs") or 0)
    epochs_run = sum(trained_epochs(t) for t in finished)
    # A trial pruned before training (over the parameter budget) would not have trained
    # without a pruner either: it saved no epochs.
    saved = sum(
        max(epochs - trained_epochs(t), 0)
        for t in by_state[TrialState.PRUNED]
        if not over_budget(t)
    )
    best = best_trial_or_none(study)
    pruner = str(manifest.get("pruner", type(study.pruner).__name__))
    startup_epochs = manifest.get("startup_epochs") or 0
    screened = screen_note(
        pruner, startup_epochs, epochs, manifest.get("startup_trials", STARTUP_TRIALS)
    )
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    return StudyFacts(
        name=study.study_name,
        n_trials=len(trials),
        n_complete=len(by_state[TrialState.COMPLETE]),
        n_pruned=len(by_state[TrialState.PRUNED]),
        n_failed=len(by_state[TrialState.FAIL]),
        n_unfinished=len(trials) - len(finished),
        started=min(starts) if starts else None,
        compute_seconds=sum(t.duration.total_seconds() for t in finished if t.duration),
        epochs_per_trial=epochs,
        epochs_run=epochs_run,
        epochs_without_pruning=epochs_run + saved,
        sampler=str(manifest.get("sampler", type(study.sampler).__name__)),
        pruner=pruner,
        screened_at=startup_epochs if screened else None,
        seed=manifest.get("seed"),
        protocol=protocol,
        best_number=best.number if best else None,
        best_value=best.values[0] if best else None,
        best_params=dict(best.params) if best else {},
    )


def plot_missing(n_complete: int) -> dict[str, int]:
    """The Optuna plots that cannot be drawn with ``n_complete`` completed trials, and the
    completed trials each needs."""
    return {name: need for name, need in PLOT_MIN_COMPLETED.items() if n_complete < need}


def mcnemar(seed: int, y: np.ndarray, baseline: RetrainRun, best: RetrainRun) -> McNemar:
    """McNemar's exact test: do the two models err on the same images as often as chance says?"""
    base_right = np.asarray(baseline.predictions) == y
    best_right = np.asarray(best.predictions) == y
    b = int(np.sum(base_right & ~best_right))
    c = int(np.sum(~base_right & best_right))
    p_value = binomtest(c, b + c, 0.5).pvalue if b + c else 1.0
    return McNemar(seed, b, c, float(p_value))


def confused_pairs(confusion: np.ndarray, n: int = CONFUSED_PAIRS) -> pd.DataFrame:
    """The ``n`` largest off-diagonal cells: which true class is taken for which."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:n]
    rows = []
    for flat in order:
        true, predicted = divmod(int(flat), confusion.shape[1])
        if off[true, predicted] == 0:
            break
        rows.append(
            {
                "true": true,
                "predicted": predicted,
                "count": int(off[true, predicted]),
                "share of true class": float(off[true, predicted] / confusion[true].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["true", "predicted", "count", "share of true class"])


def mistakes(
    run: RetrainRun, test_indices: list[int], data: FashionMNIST, n: int = MISCLASSIFIED_SHOWN
) -> list[Mistake]:
    """The ``n`` most confident mistakes of one run: the errors a reader should look at."""
    idx = np.asarray(test_indices)
    predicted = np.asarray(run.predictions)
    confidence = np.asarray(run.confidence)
    wrong = np.flatnonzero(predicted != data.y_test[idx])
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
    return [
        Mistake(
            index=int(idx[i]),
            true=int(data.y_test[idx[i]]),
            predicted=int(predicted[i]),
            confidence=float(confidence[i]),
            pixels=(data.x_test[idx[i], :, :, 0] * 255).round().astype(np.uint8),
        )
        for i in wrong
    ]


def compare(retrained: RetrainResult, data: FashionMNIST) -> Comparison:
    """The retrained arms side by side, tested pairwise seed by seed."""
    s = retrained.settings
    y = data.y_test[np.asarray(retrained.test_indices)]
    best_confusion = np.sum([run.confusion for run in retrained.best], axis=0)
    return Comparison(
        baseline=Arm(
            "baseline",
            {**s.baseline_model.to_dict(), **sampled_training(s.baseline_train)},
            retrained.baseline,
        ),
        best=Arm(
            "best",
            {**s.best_model.to_dict(), **sampled_training(s.best_train)},
            retrained.best,
        ),
        epochs=s.epochs,
        train_images=min(s.train_limit or len(data.y_train), len(data.y_train)),
        test_images=len(retrained.test_indices),
        mcnemar=[
            mcnemar(a.seed, y, a, b)
            for a, b in zip(retrained.baseline, retrained.best, strict=True)
        ],
        confused_pairs=confused_pairs(best_confusion),
        mistakes=mistakes(retrained.best[0], retrained.test_indices, data),
        from_cache=retrained.from_cache,
    )


def sampled_training(config: TrainConfig) -> dict[str, Any]:
    """The training settings the search space samples; the rest are the same for both."""
    return {"learning_rate": config.learning_rate, "batch_size": config.batch_size}


def summarize(
    study: optuna.Study,
    retrained: RetrainResult | None,
    data: FashionMNIST | None,
    command: str,
    written: datetime.date | None = None,
) -> Report:
    """Computes every number in the report.

    Args:
        study: the loaded study.
        retrained: the retrained baseline and best configuration; None when the study has no
            completed trial, so nothing can be compared.
        data: the verified data set (for the mistakes' images and the checksums).
        command: the command line that produced the report.
        written: the report's date; today's by default.
    """
    facts = study_facts(study)
    table = trials_table(study)
    if len(table):
        table = table.sort_values("val_accuracy", ascending=False, na_position="last")
        table = table.head(TOP_TRIALS)
    comparison = compare(retrained, data) if retrained and data else None
    objectives = study_objectives(manifest_of(study))
    front = None
    if len(objectives) > 1 and retrained and data:
        from study.report.front import front_section  # it builds on this module's records

        front = front_section(study, objectives, retrained, data, facts.best_number)
    return Report(
        facts=facts,
        origin=best_origin(study),
        top_trials=table,
        plot_missing=plot_missing(facts.n_complete),
        comparison=comparison,
        comparison_missing=None if comparison else NO_COMPARISON,
        # The CPU's model and cores apart, so that the page can say "cores" in its language.
        provenance={
            **provenance(
                study, data, command, list(retrained.settings.seeds) if retrained else []
            ),
            "cpu_model": cpu_model(),
            "logical_cores": os.cpu_count(),
        },
        written=written or datetime.date.today(),
        objectives=objectives,
        front=front,
    )
