"""The ``lenet-study`` command line: parse, build settings, call the library. Nothing else.

Exit codes: 0 success, 1 a problem with the data, storage or study (one line on stderr),
2 invalid arguments, 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# TensorFlow's C++ start-up chatter hides our progress lines; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _study_options() -> argparse.ArgumentParser:
    from study.settings import DEFAULT_RESULTS_DIR, DEFAULT_STUDY_NAME

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--study-name", default=DEFAULT_STUDY_NAME)
    common.add_argument(
        "--storage",
        help="SQLAlchemy URL (default: sqlite:///RESULTS_DIR/lenet-study.db)",
    )
    common.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help="models, exports and reports (default: %(default)s)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    from study.settings import PRUNERS, SAMPLERS

    parser = argparse.ArgumentParser(
        prog="lenet-study",
        description="Hyperparameter optimization of LeNet-5 on Fashion-MNIST with Optuna.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = _study_options()

    run = commands.add_parser("run", parents=[common], help="create or resume a study")
    run.add_argument("--n-trials", type=_positive_int, help="trials to run (default: 20)")
    run.add_argument("--timeout", type=_positive_float, help="seconds; no new trial after it")
    run.add_argument("--epochs", type=_positive_int, help="epochs per trial (default: 10)")
    run.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    run.add_argument("--pruner", choices=PRUNERS, default="hyperband")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--data-dir", type=Path, help="folder with the four *-ubyte.gz files")
    run.add_argument("--threads", type=_positive_int, help="TensorFlow CPU threads (default: all)")
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke preset: 5,000 training images, 2 epochs, 4 trials (about a minute)",
    )

    trials = commands.add_parser("trials", parents=[common], help="list a study's trials")
    trials.add_argument("--csv", type=Path, help="also write the table to this CSV file")

    bench = commands.add_parser(
        "bench", help="measure training speed, trial overhead, workers, pruning and memory"
    )
    bench.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    bench.add_argument("--data-dir", type=Path, help="folder with the four *-ubyte.gz files")
    bench.add_argument(
        "--quick", action="store_true", help="every figure on a few thousand images (a minute)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    from lenet import DataError
    from study.storage import StudyError

    try:
        return COMMANDS[args.command](args)
    except (DataError, StudyError, ValueError) as exc:
        print(f"lenet-study: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except KeyboardInterrupt as exc:
        from study.runner import Terminated

        print(
            "lenet-study: interrupted; the running trial was recorded as failed", file=sys.stderr
        )
        return 143 if isinstance(exc, Terminated) else 130


def _run(args: argparse.Namespace) -> int:
    from study.runner import run_study, summarize_best
    from study.settings import RunSettings

    options = {
        "study_name": args.study_name,
        "storage": args.storage,
        "results_dir": args.results_dir,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "seed": args.seed,
        "data_dir": args.data_dir,
        "timeout": args.timeout,
        "threads": args.threads,
    }
    if args.n_trials is not None:
        options["n_trials"] = args.n_trials
    if args.epochs is not None:
        options["epochs"] = args.epochs
    settings = RunSettings.quick(**options) if args.quick else RunSettings(**options)
    study = run_study(settings)
    print(summarize_best(study))
    return 0


def _trials(args: argparse.Namespace) -> int:
    from study.results import trials_table
    from study.settings import default_storage
    from study.storage import load_study

    study = load_study(args.storage or default_storage(args.results_dir), args.study_name)
    table = trials_table(study)
    print(table.to_string(index=False) if len(table) else "no trials yet")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from study.bench import BenchSizes, render, run_bench, write_json

    report = run_bench(BenchSizes.quick() if args.quick else BenchSizes(), args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


COMMANDS = {"run": _run, "trials": _trials, "bench": _bench}

if __name__ == "__main__":
    sys.exit(main())
