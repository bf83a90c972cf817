"""``lenet-study report``: write report.html and report.pdf for a study."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.commands.common import data_dir, storage_url, study_options
from study.options import positive_int


def add_parser(commands: Any) -> None:
    from study.report.language import DEFAULT_LANGUAGE, LANGUAGES
    from study.settings import DEFAULT_REPORT_SEEDS, DEFAULT_WORKERS

    report = commands.add_parser(
        "report", parents=[study_options()], help="write report.html and report.pdf for a study"
    )
    report.add_argument(
        "--seeds",
        type=positive_int,
        default=DEFAULT_REPORT_SEEDS,
        help="retraining seeds per model (default: %(default)s)",
    )
    report.add_argument(
        "--out",
        type=Path,
        help="folder (default: RESULTS_DIR/STUDY_NAME, made a safe folder name)",
    )
    report.add_argument("--retrain", action="store_true", help="retrain even if cached")
    report.add_argument(
        "--workers",
        type=positive_int,
        default=DEFAULT_WORKERS,
        help="processes retraining side by side, each with its share of the cores; one on a "
        "GPU machine (default: %(default)s)",
    )
    report.add_argument(
        "--epochs", type=positive_int, help="retraining epochs (default: the study's epochs)"
    )
    report.add_argument(
        "--train-limit", type=positive_int, help="stratified training subset (default: all)"
    )
    report.add_argument(
        "--test-limit", type=positive_int, help="stratified test subset (default: all)"
    )
    report.add_argument("--no-pdf", action="store_true", help="write report.html only")
    data_dir(report)
    report.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help="the report's language (es: report.es.html and report.es.pdf); another language "
        "reuses the retraining (default: %(default)s)",
    )
    report.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    import shlex

    from study.masking import mask_argv
    from study.paths import study_folder
    from study.report import ReportOptions, write_report

    files = write_report(
        ReportOptions(
            storage=storage_url(args),
            study_name=args.study_name,
            out=args.out or study_folder(args.results_dir, args.study_name),
            command=shlex.join(["lenet-study", *mask_argv(args.argv)]),  # as typed
            seeds=args.seeds,
            epochs=args.epochs,
            train_limit=args.train_limit,
            test_limit=args.test_limit,
            retrain=args.retrain,
            workers=args.workers,
            data_dir=args.data_dir,
            pdf=not args.no_pdf,
            lang=args.lang,
        ),
        progress=lambda line: print(line, flush=True),
    )
    if files.report.comparison_missing:
        print(f"note: {files.report.comparison_missing}")
    for path in (files.html, files.pdf):
        if path is not None:
            print(f"wrote {path}")
    return 0
