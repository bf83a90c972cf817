"""Writing ``report.html`` and ``report.pdf``: load, retrain or reuse, summarize, render, print.

The PDF is the static variant of the same page (figures as SVG from kaleido) printed by
headless Chromium, the browser kaleido itself drives; no second layout to keep in step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna
from plotly.offline import get_plotlyjs

from lenet import ModelConfig, TrainConfig, load_fashion_mnist
from study.report import Report, best_trial_or_none, summarize
from study.report_render import interactive_figure, page, static_figure
from study.retrain import BASELINE_TRAIN, CACHE_FILE, RetrainSettings, retrain_or_load
from study.storage import StudyError, load_study

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_SECONDS = 180
CHROMIUM_HINT = "install Chromium (`apt-get install chromium`) or set BROWSER_PATH to a Chrome"


class ReportError(StudyError):
    """The report cannot be written; the message says what to install or change."""


@dataclass(frozen=True)
class ReportOptions:
    """One ``lenet-study report``."""

    storage: str
    study_name: str
    out: Path  # folder for report.html, report.pdf and the retraining cache
    command: str  # the command line, quoted, as shown in the report
    seeds: int = 3  # retraining seeds per configuration: 0 .. seeds - 1
    epochs: int | None = None  # retraining epochs; None: the study's epochs per trial
    train_limit: int | None = None  # stratified subset of the 60,000 training images
    test_limit: int | None = None  # stratified subset of the 10,000 test images
    retrain: bool = False  # ignore the cache
    data_dir: Path | None = None
    pdf: bool = True


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    report: Report


def retrain_settings(
    study: optuna.Study, options: ReportOptions, checksums: dict[str, str]
) -> RetrainSettings | None:
    """The baseline and the best trial's configuration, trained alike; None without a best."""
    best = best_trial_or_none(study)
    if best is None:
        return None
    manifest = study.user_attrs.get("manifest", {})
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


def write_report(
    options: ReportOptions, progress: Callable[[str], None] | None = None
) -> ReportFiles:
    """Writes ``report.html`` (and ``report.pdf``) into ``options.out``.

    ``progress`` gets a line per finished retraining run.

    Raises:
        study.storage.StudyError: no such study.
        lenet.DataError: the data files are missing or corrupt.
        ReportError: the PDF cannot be printed (no Chromium).
    """
    if options.seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {options.seeds}")
    study = load_study(options.storage, options.study_name)
    if options.pdf:
        find_chromium()  # before any retraining: fail in a second, not after an hour
    data = load_fashion_mnist(options.data_dir)
    settings = retrain_settings(study, options, data.checksums)
    retrained = None
    if settings is not None:
        cache = options.out / CACHE_FILE
        retrained = retrain_or_load(
            settings, data, cache, force=options.retrain, progress=progress
        )
    report = summarize(study, retrained, data, options.command)
    options.out.mkdir(parents=True, exist_ok=True)
    html_path = options.out / "report.html"
    plotly_js = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    html_path.write_text(page(report, study, interactive_figure, head=plotly_js), encoding="utf-8")
    pdf_path = None
    if options.pdf:
        with static_export():
            static_html = page(report, study, static_figure)
        pdf_path = print_pdf(static_html, options.out / "report.pdf")
    return ReportFiles(html_path, pdf_path, report)


def find_chromium() -> str:
    """The Chrome or Chromium that kaleido and the PDF printer use (``$BROWSER_PATH`` first)."""
    for candidate in (os.environ.get("BROWSER_PATH"), *CHROMIUM_NAMES):
        if candidate and (path := shutil.which(candidate)):
            return path
    raise ReportError(f"the PDF needs a Chrome or Chromium, none found; {CHROMIUM_HINT}")


@contextmanager
def static_export() -> Iterator[None]:
    """Keeps one kaleido browser open for all figures: starting one costs seconds each."""
    import kaleido

    previous = os.environ.get("BROWSER_PATH")
    # Where choreographer (kaleido's browser driver) looks first: the same browser as the PDF.
    os.environ["BROWSER_PATH"] = find_chromium()
    kaleido.start_sync_server(silence_warnings=True)
    try:
        with warnings.catch_warnings():
            # plotly passes kaleido options that a running server ignores; nothing to act on.
            warnings.filterwarnings("ignore", "The kopts argument", UserWarning)
            yield
    except Exception as exc:
        if type(exc).__module__.startswith(("kaleido", "choreographer")):
            raise ReportError(f"static figure export failed ({exc}); {CHROMIUM_HINT}") from None
        raise
    finally:
        kaleido.stop_sync_server(silence_warnings=True)
        if previous is None:
            del os.environ["BROWSER_PATH"]
        else:
            os.environ["BROWSER_PATH"] = previous


def print_pdf(html_text: str, pdf_path: Path) -> Path:
    """Prints an HTML page to PDF with headless Chromium, offline and without a profile."""
    with tempfile.TemporaryDirectory(prefix="lenet-report-") as tmp:
        page_path = Path(tmp) / "report-static.html"
        page_path.write_text(html_text, encoding="utf-8")
        partial = Path(tmp) / "report.pdf"
        command = [
            find_chromium(),
            "--headless",
            "--no-sandbox",  # containers and root have no user namespaces for the sandbox
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={partial}",
            page_path.as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(
                f"Chromium did not print the PDF in {PDF_TIMEOUT_SECONDS} s"
            ) from None
        if not partial.is_file() or partial.stat().st_size == 0:
            raise ReportError(f"Chromium ({command[0]}) wrote no PDF; {CHROMIUM_HINT}")
        shutil.move(partial, pdf_path)
    return pdf_path
