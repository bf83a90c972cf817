"""Writing ``report.html`` and ``report.pdf``: load, retrain or reuse, summarize, render, print."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import optuna
from plotly.offline import get_plotlyjs

from lenet import ModelConfig, TrainConfig, backends, load_fashion_mnist
from study.files import write_atomic
from study.objectives import study_objectives
from study.paths import check_folder_storage, check_writable_folder
from study.report.exports import read_exports
from study.report.front import chosen_trials, trial_configs
from study.report.front_retrain import retrain_front_or_load
from study.report.language import DEFAULT_LANGUAGE, Language
from study.report.pdf import find_chromium, print_pdf, static_export
from study.report.pool import default_workers
from study.report.render import interactive_figure, page, static_figure
from study.report.retrain import (
    BASELINE_TRAIN,
    CACHE_FILE,
    Candidate,
    RetrainResult,
    RetrainSettings,
    retrain_or_load,
)
from study.report.summary import Report, summarize
from study.results import best_trial_or_none
from study.settings import DEFAULT_REPORT_SEEDS, DEFAULT_WORKERS
from study.storage import load_lenet_study, manifest_of, storage_identity


@dataclass(frozen=True)
class ReportOptions:
    """One ``lenet-study report``."""

    storage: str
    study_name: str
    out: Path  # folder for report.html, report.pdf and the retraining cache
    command: str  # the command line, quoted, as shown in the report
    seeds: int = DEFAULT_REPORT_SEEDS  # retraining seeds per configuration: 0 .. seeds - 1
    epochs: int | None = None  # retraining epochs; None: the study's epochs per trial
    train_limit: int | None = None  # stratified subset of the 60,000 training images
    test_limit: int | None = None  # stratified subset of the 10,000 test images
    retrain: bool = False  # ignore the cache
    data_dir: Path | None = None
    pdf: bool = True
    workers: int = DEFAULT_WORKERS  # retraining processes on a CPU machine; 1 with a GPU
    lang: str = DEFAULT_LANGUAGE  # the report's language: words, numbers, dates


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    report: Report


def report_files(lang: str) -> tuple[str, str]:
    """The page's and the PDF's file names: ``report.html``, or ``report.es.html`` for Spanish,
    each language its own files next to the one retraining cache they share."""
    stem = "report" if lang == DEFAULT_LANGUAGE else f"report.{lang}"
    return f"{stem}.html", f"{stem}.pdf"


def retrain_settings(
    study: optuna.Study, options: ReportOptions, checksums: dict[str, str]
) -> RetrainSettings | None:
    """The baseline and the best trial's configuration, trained alike; None without a best."""
    best = best_trial_or_none(study)
    if best is None:
        return None
    manifest = manifest_of(study)
    epochs = options.epochs or int(
        manifest.get("protocol", {}).get("epochs", TrainConfig().epochs)
    )
    # The trial's params hold only what was searched; a space file's [fixed] values (say
    # batch_norm = true) shaped the trial too, as they shape every trial of the study.
    params = {**manifest.get("search_space", {}).get("fixed", {}), **best.params}
    return RetrainSettings(
        baseline_model=ModelConfig.classic(),
        baseline_train=BASELINE_TRAIN,
        best_model=ModelConfig.from_params(params),
        best_train=TrainConfig.from_params(params),
        seeds=tuple(range(options.seeds)),
        epochs=epochs,
        train_limit=options.train_limit,
        test_limit=options.test_limit,
        data=checksums,
    )


def front_candidates(
    study: optuna.Study, objectives: tuple[str, ...], retrained: RetrainResult
) -> list[Candidate]:
    """The chosen front trials to retrain; the best trial among them is the best arm."""
    best = best_trial_or_none(study)
    return [
        Candidate(trial.number, *trial_configs(study, trial))
        for trial in chosen_trials(study, objectives, retrained.baseline)
        if best is None or trial.number != best.number
    ]


def write_report(
    options: ReportOptions, progress: Callable[[str], None] | None = None
) -> ReportFiles:
    """Writes ``report.html`` (and ``report.pdf``) into ``options.out``.

    ``progress`` gets a line per finished retraining run.

    Raises:
        study.storage.StudyError: no such study.
        lenet.DataError: the data files are missing or corrupt.
        ReportError: the PDF cannot be printed (no Chromium).
        ValueError: no such language, or fewer than one seed.
    """
    if options.seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {options.seeds}")
    language = Language(options.lang)
    study = load_lenet_study(options.storage, options.study_name)
    check_writable_folder(options.out, "report folder")  # before an hour of retraining
    storage = storage_identity(options.storage)
    check_folder_storage(options.out, storage)
    if options.pdf:
        find_chromium()  # before any retraining: fail in a second, not after an hour
    data = load_fashion_mnist(options.data_dir)
    settings = retrain_settings(study, options, data.checksums)
    retrained = None
    if settings is not None:
        cache = options.out / CACHE_FILE
        retrained = retrain_or_load(
            settings,
            data,
            cache,
            force=options.retrain,
            progress=progress,
            workers=default_workers(options.workers, backends.configured()),
            storage=storage,
        )
        objectives = study_objectives(manifest_of(study))
        if len(objectives) > 1:
            retrained = retrain_front_or_load(
                retrained,
                front_candidates(study, objectives, retrained),
                data,
                cache,
                force=options.retrain,
                progress=progress,
                workers=default_workers(options.workers, backends.configured()),
                storage=storage,
            )
    report = summarize(study, retrained, data, options.command)
    report = replace(report, exports=read_exports(options.out, report.facts.best_number))
    options.out.mkdir(parents=True, exist_ok=True)
    html_name, pdf_name = report_files(options.lang)
    html_path = options.out / html_name
    plotly_js = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    interactive = page(report, study, interactive_figure, head=plotly_js, t=language)
    write_atomic(html_path, interactive)
    pdf_path = None
    if options.pdf:
        with static_export():
            figure_html = partial(static_figure, alt=language.gettext("figure"))
            static_html = page(report, study, figure_html, t=language)
        pdf_path = print_pdf(static_html, options.out / pdf_name)
    return ReportFiles(html_path, pdf_path, report)
