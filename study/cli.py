"""The ``lenet-study`` command line: parse, build settings, call one library function.

Exit codes: 0 success, 1 a problem with the data, a model file, the storage or the study (one
line on stderr), 2 an invalid argument or input file, 130 Ctrl-C, 143 SIGTERM. Any other
exception is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse, with its error as one line: the full usage text buries the one thing wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(text: str, low: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "0 or a positive integer")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


# Every seed a run derives (the study seed plus a trial number) must stay within NumPy's
# 0 .. 2**32 - 1, which Optuna's samplers and Keras' set_random_seed pass it to.
MAX_SEED = 2**31 - 1


def _seed(text: str) -> int:
    value = _int_at_least(text, 0, f"a seed from 0 to {MAX_SEED}")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {MAX_SEED}, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number up to 65535, got {value}")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _devices(text: str) -> tuple[int, ...]:
    from study.devices import parse_devices

    try:
        return parse_devices(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _study_options() -> _Parser:
    from study.settings import DEFAULT_STUDY_NAME

    common = _Parser(add_help=False, parents=[_places()])
    common.add_argument(
        "--study-name", default=DEFAULT_STUDY_NAME, help="the study's name (default: %(default)s)"
    )
    return common


def _places() -> _Parser:
    """--storage and --results-dir."""
    from study.settings import DEFAULT_RESULTS_DIR

    common = _Parser(add_help=False)
    common.add_argument(
        "--storage",
        help="SQLAlchemy URL of the study storage (default: sqlite:///RESULTS_DIR/lenet-study.db)",
    )
    common.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help="models, exports and reports (default: %(default)s)",
    )
    return common


def _data_dir_help() -> str:
    from lenet.data import DEBIAN_DATA_DIR, KERAS_CACHE_DIR

    return (
        "folder with the four *-ubyte.gz files (default: $LENET_DATA_DIR, then "
        f"{KERAS_CACHE_DIR}, then {DEBIAN_DATA_DIR})"
    )


def build_parser() -> argparse.ArgumentParser:
    from study.report.language import DEFAULT_LANGUAGE, LANGUAGES
    from study.samplers import PRUNERS, SAMPLERS
    from study.settings import (
        BENCH_QUICK_IMAGES,
        BENCH_QUICK_ROUNDS,
        BENCH_ROUNDS,
        BENCH_SECTIONS,
        DEFAULT_DASHBOARD_HOST,
        DEFAULT_DASHBOARD_PORT,
        DEFAULT_REPORT_SEEDS,
        DEFAULT_WORKERS,
        FASHION_MNIST_TRAIN_IMAGES,
        PEERS_BUDGET,
        PEERS_QUICK_BUDGET,
        PRESETS,
        RunSettings,
    )

    default = RunSettings()
    quick, accurate = RunSettings.quick(), RunSettings.accurate()
    data_dir_help = _data_dir_help()
    parser = _Parser(
        prog="lenet-study",
        description="Hyperparameter optimization of LeNet-5 on Fashion-MNIST with Optuna.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = _study_options()

    # Options left unset (None) take RunSettings' or the preset's value: one place for each.
    run = commands.add_parser("run", parents=[common], help="create or resume a study")
    run.add_argument(
        "--n-trials",
        type=_positive_int,
        help=f"trials to add (default: {default.n_trials}; --quick: {quick.n_trials}; "
        f"--preset accurate: {accurate.n_trials})",
    )
    run.add_argument(
        "--max-trials",
        type=_positive_int,
        metavar="N",
        help="stop once the study has started this many trials in all, every worker's and "
        "every earlier run's (without --n-trials: the only trial limit); give each worker of "
        "a study on several machines the same N",
    )
    run.add_argument(
        "--timeout",
        type=_positive_float,
        help="seconds from the command's start, loading included; no new trial after them "
        "(default: no time limit)",
    )
    run.add_argument(
        "--epochs",
        type=_positive_int,
        help=f"epochs per trial (default: {default.epochs}; --quick: {quick.epochs}; "
        f"--preset accurate: {accurate.epochs})",
    )
    run.add_argument(
        "--sampler",
        choices=SAMPLERS,
        help=f"how trials choose their parameters (default: {default.sampler})",
    )
    run.add_argument(
        "--pruner",
        choices=PRUNERS,
        help=f"how unpromising trials are stopped early (default: {default.pruner})",
    )
    run.add_argument(
        "--startup-trials",
        type=_non_negative_int,
        help="the sampler's first trials, drawn at random before TPE models the results "
        f"(TPE's n_startup_trials; default: {default.startup_trials})",
    )
    run.add_argument(
        "--startup-epochs",
        type=_non_negative_int,
        help="with a pruner, the sampler's first trials (random draws) train past this epoch "
        f"only while they lead; 0 trains them in full (default: {default.startup_epochs})",
    )
    run.add_argument(
        "--seed",
        type=_seed,
        help=f"seeds the sampler, the validation split and training (default: {default.seed})",
    )
    run.add_argument("--data-dir", type=Path, help=data_dir_help)
    run.add_argument(
        "--train-limit",
        type=_positive_int,
        help="use a stratified subset of this many training images (default: all "
        f"{FASHION_MNIST_TRAIN_IMAGES - default.val_size:,}; --quick: {quick.train_limit:,})",
    )
    run.add_argument(
        "--val-limit",
        type=_positive_int,
        help="use a stratified subset of this many validation images (default: all "
        f"{default.val_size:,}; --quick: {quick.val_limit:,})",
    )
    run.add_argument(
        "--workers",
        type=_positive_int,
        help="worker processes on this machine, sharing the trials and the cores "
        f"(default: {default.workers})",
    )
    run.add_argument(
        "--threads",
        type=_positive_int,
        help="TensorFlow CPU threads per worker (default: the cores divided among the workers)",
    )
    run.add_argument(
        "--heartbeat",
        type=_positive_int,
        dest="heartbeat_interval",
        metavar="SECONDS",
        help="seconds between worker heartbeats; a trial whose worker died is failed after 3 "
        f"missed beats and retried (default: {default.heartbeat_interval})",
    )
    run.add_argument(
        "--trials-per-process",
        type=_positive_int,
        help="start a fresh worker process after this many trials, which gives back the "
        f"memory TensorFlow keeps from trial to trial (default: {default.trials_per_process})",
    )
    run.add_argument(
        "--backend",
        help="Keras backend: tensorflow or jax (default: KERAS_BACKEND, ~/.keras/keras.json, "
        "else tensorflow)",
    )
    run.add_argument(
        "--devices",
        type=_devices,
        metavar="0,1",
        help="GPUs the workers take in turn, several workers per GPU allowed "
        "(default: every visible GPU; none: the CPU)",
    )
    # Set by `run` on the worker processes it starts: run the trials here, print no summary.
    run.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    run.add_argument(
        "--space",
        type=Path,
        dest="space_file",
        help="search-space TOML (default: study/spaces/default.toml; "
        "--preset accurate: study/spaces/accurate.toml)",
    )
    run.add_argument(
        "--preset",
        choices=PRESETS,
        default="default",
        help=f"quick: {quick.train_limit:,} training images, {quick.epochs} epochs, "
        f"{quick.n_trials} trials (about a minute); accurate: the wide space of "
        f"study/spaces/accurate.toml, {accurate.epochs} epochs, {accurate.n_trials} trials "
        "(default: %(default)s)",
    )
    run.add_argument("--quick", action="store_true", help="the same as --preset quick")
    loudness = run.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=2,
        help="also a line per epoch of every trial",
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=0,
        help="print only errors and the final summary",
    )

    trials = commands.add_parser("trials", parents=[common], help="list a study's trials")
    trials.add_argument("--csv", type=Path, help="also write the table to this CSV file")

    export = commands.add_parser(
        "export", parents=[common], help="write the best trial's model and its record"
    )
    export.add_argument(
        "--out",
        type=Path,
        help="folder (default: RESULTS_DIR/STUDY_NAME, made a safe folder name)",
    )
    export.add_argument(
        "--format",
        default="keras",
        help="keras, onnx, litert (float and int8), comma-separated; each checked against "
        "keras on the test set (default: %(default)s)",
    )
    export.add_argument("--data-dir", type=Path, help=data_dir_help)

    evaluate = commands.add_parser("evaluate", help="score a model on the 10,000 test images")
    evaluate.add_argument(
        "--model", type=Path, required=True, help="a .keras, .onnx or .tflite file"
    )
    evaluate.add_argument("--json", type=Path, help="also write the results as JSON")
    evaluate.add_argument("--data-dir", type=Path, help=data_dir_help)

    predict = commands.add_parser("predict", help="classify your own garment images")
    predict.add_argument(
        "--model", type=Path, required=True, help="a .keras, .onnx or .tflite file"
    )
    predict.add_argument("images", nargs="+", type=Path, help="PNG or JPEG files")
    predict.add_argument(
        "--top",
        type=_positive_int,
        default=3,
        help="classes shown per image (default: %(default)s)",
    )

    dashboard = commands.add_parser(
        "dashboard", parents=[common], help="browse the trials in optuna-dashboard"
    )
    dashboard.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_DASHBOARD_PORT,
        help="port to serve on (default: %(default)s)",
    )
    dashboard.add_argument(
        "--host",
        default=DEFAULT_DASHBOARD_HOST,
        help="address to bind (default: %(default)s); the dashboard has no login",
    )

    report = commands.add_parser(
        "report", parents=[common], help="write report.html and report.pdf for a study"
    )
    report.add_argument(
        "--seeds",
        type=_positive_int,
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
        type=_positive_int,
        default=DEFAULT_WORKERS,
        help="processes retraining side by side, each with its share of the cores; one on a "
        "GPU machine (default: %(default)s)",
    )
    report.add_argument(
        "--epochs", type=_positive_int, help="retraining epochs (default: the study's epochs)"
    )
    report.add_argument(
        "--train-limit", type=_positive_int, help="stratified training subset (default: all)"
    )
    report.add_argument(
        "--test-limit", type=_positive_int, help="stratified test subset (default: all)"
    )
    report.add_argument("--no-pdf", action="store_true", help="write report.html only")
    report.add_argument("--data-dir", type=Path, help=data_dir_help)
    report.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help="the report's language (es: report.es.html and report.es.pdf); another language "
        "reuses the retraining (default: %(default)s)",
    )

    commands.add_parser("studies", parents=[_places()], help="list the studies of a storage")
    delete_study = commands.add_parser(
        "delete-study",
        parents=[_places()],
        help="delete a study, its trials' model files and its export and report folder",
    )
    delete_study.add_argument("--study-name", required=True, help="the study to delete")
    delete_study.add_argument("-y", "--yes", action="store_true", help="do not ask first")
    delete_study.add_argument(
        "--keep-files",
        action="store_true",
        help="delete only the study in the storage; name the files left",
    )

    bench = commands.add_parser(
        "bench",
        help="measure training speed, trial overhead, workers, pruning and memory; with "
        "--section peers, compare our search with random search and KerasTuner; with "
        "--section speed, time epochs on this backend (TensorFlow or JAX)",
    )
    bench.add_argument(
        "--section",
        choices=BENCH_SECTIONS,
        default="cost",
        help="cost: what a study costs on this machine (about 11 minutes, TensorFlow); peers: "
        "our study, random search and KerasTuner's Hyperband, each for --budget seconds; "
        "speed: seconds per epoch of plain model.fit and of our training paths, on the "
        "backend Keras runs on (default: %(default)s)",
    )
    bench.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    bench.add_argument("--data-dir", type=Path, help=data_dir_help)
    bench.add_argument(
        "--quick",
        action="store_true",
        help="every figure on a few thousand images (a minute); peers: run's --quick data "
        f"and epochs, {PEERS_QUICK_BUDGET:.0f} s per contender; speed: {BENCH_QUICK_IMAGES:,} "
        f"images, {BENCH_QUICK_ROUNDS} round",
    )
    peers = bench.add_argument_group("--section peers")
    peers.add_argument(
        "--budget",
        type=_positive_float,
        dest="budget_seconds",
        metavar="SECONDS",
        help=f"wall-clock seconds per contender (default: {PEERS_BUDGET:.0f})",
    )
    peers.add_argument(
        "--contenders",
        type=_names,
        metavar="NAME,...",
        help="which contenders to run, in this order: ours, random, keras_tuner "
        "(default: all three)",
    )
    peers.add_argument(
        "--preset",
        choices=("default", "accurate"),
        help="the study's space and epochs, as in run (default: default)",
    )
    peers.add_argument(
        "--space",
        type=Path,
        dest="space_file",
        help="search-space TOML, as in run (default: the preset's)",
    )
    peers.add_argument(
        "--epochs",
        type=_positive_int,
        help="epochs per trial, KerasTuner's max_epochs (default: the preset's)",
    )
    peers.add_argument(
        "--train-limit",
        type=_positive_int,
        help="stratified training subset; speed: the first N training images per epoch "
        "(default: all)",
    )
    peers.add_argument(
        "--val-limit", type=_positive_int, help="stratified validation subset (default: all)"
    )
    peers.add_argument(
        "--seed",
        type=_seed,
        help=f"seeds the samplers, the split and training (default: {default.seed})",
    )
    peers.add_argument(
        "--workers",
        type=_positive_int,
        help=f"our worker processes, as in run (default: {default.workers}); KerasTuner runs one",
    )
    peers.add_argument(
        "--startup-trials",
        type=_non_negative_int,
        help=f"our TPE's random start-up trials, as in run (default: {default.startup_trials})",
    )
    speed = bench.add_argument_group("--section speed (and --train-limit)")
    speed.add_argument(
        "--rounds",
        type=_positive_int,
        help=f"timed epochs per path, after a warm-up epoch each (default: {BENCH_ROUNDS}); "
        "predict: timed runs per format (default: 5)",
    )
    bench.add_argument_group("--section predict (and --rounds)").add_argument(
        "--export",
        type=Path,
        dest="export_dir",
        metavar="DIR",
        help="a folder of `export --format keras,onnx,litert` (default: RESULTS_DIR/STUDY_NAME "
        "of the default study)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    started = time.monotonic()  # `run --timeout` counts from here
    from study.quiet import quiet_tensorflow

    # TensorFlow's start-up chatter would hide our progress lines; its errors still show.
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    args.started = started
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what the report quotes
    import optuna

    # Progress lines are ours; Optuna's INFO lines ("A new study created...") repeat them.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from lenet.errors import DataError, ModelFileError
    from study.errors import StudyError, UsageError

    try:
        if args.command in _KERAS_COMMANDS and not _runtime_model(args):
            from study.devices import select_backend

            select_backend()  # a bad keras.json or backend: one line, before Keras loads
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"lenet-study: error: {exc}", file=sys.stderr)
        return 2
    except (DataError, StudyError, ModelFileError) as exc:
        print(f"lenet-study: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        from study.runner import Terminated

        detail = "; the running trial was recorded as failed" if args.command == "run" else ""
        print(f"lenet-study: interrupted{detail}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


# The commands that load Keras (`run` chooses its backend itself, from --backend).
_KERAS_COMMANDS = ("export", "evaluate", "predict", "report", "bench")


def _runtime_model(args: argparse.Namespace) -> bool:
    """``evaluate`` or ``predict`` of an ``.onnx`` or ``.tflite`` file: no Keras, no backend."""
    model = getattr(args, "model", None)
    return model is not None and model.suffix.lower() in (".onnx", ".tflite")


def _storage_url(args: argparse.Namespace) -> str:
    """``--storage``, or the SQLite file in ``--results-dir``."""
    from study.settings import default_storage

    return args.storage or default_storage(args.results_dir)


# `run` options that are RunSettings fields of the same name, passed on only when given.
_RUN_FIELDS = (
    "study_name", "storage", "results_dir", "n_trials", "max_trials", "timeout", "epochs",
    "sampler", "pruner", "startup_trials", "startup_epochs", "seed", "data_dir", "train_limit",
    "val_limit", "workers", "threads", "heartbeat_interval", "trials_per_process", "space_file",
    "verbosity", "backend", "devices",
)  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from study.devices import select_backend

    args.backend = select_backend(args.backend)  # before anything imports Keras
    from study.runner import run
    from study.settings import run_settings

    given = {name: getattr(args, name) for name in _RUN_FIELDS if getattr(args, name) is not None}
    settings = run_settings("quick" if args.quick else args.preset, **given)
    return run(settings, supervised=args.supervised, started=args.started)


def _trials(args: argparse.Namespace) -> int:
    from study.paths import check_writable_file
    from study.results import trials_table
    from study.storage import load_study

    if args.csv:
        check_writable_file(args.csv, "CSV file")
    study = load_study(_storage_url(args), args.study_name)
    table = trials_table(study)
    shown = table.astype(object).where(table.notna(), "-")  # a pruned trial has no value
    print(shown.to_string(index=False) if len(table) else "no trials yet")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from study.artifacts import artifact_store
    from study.export import export_best
    from study.export_formats import parse_formats
    from study.paths import study_folder
    from study.storage import load_lenet_study

    formats = parse_formats(args.format)  # a typo fails before the study is read
    study = load_lenet_study(_storage_url(args), args.study_name)
    out = args.out or study_folder(args.results_dir, args.study_name)
    record = export_best(study, artifact_store(args.results_dir), out, formats, args.data_dir)
    print(
        f"exported trial {record['trial_number']} (val_accuracy {record['val_accuracy']:.4f}, "
        f"{record['n_params']} parameters) to {out / 'best_model.keras'}"
    )
    for entry in list(record["formats"].values())[1:]:
        print(
            f"  {out / entry['file']}: test accuracy {entry['accuracy']:.4f}, "
            f"agrees with keras on {entry['agreement']:.2%}"
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from lenet import evaluate_model, load_fashion_mnist
    from lenet.runtime import load_any_model
    from study.paths import check_writable_file

    if args.json:
        check_writable_file(args.json, "JSON file")  # before the evaluation, not after
    model = load_any_model(args.model)  # .onnx, .tflite: no Keras
    data = load_fashion_mnist(args.data_dir)
    evaluation = evaluate_model(model, data.x_test, data.y_test)
    print(f"{args.model} on the Fashion-MNIST test set")
    print(evaluation.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from lenet import CLASS_NAMES, is_blank, prepare_image
    from lenet.runtime import load_any_model

    model = load_any_model(args.model)  # .onnx, .tflite: no Keras
    # One line per file, a result or the reason there is none; one bad file stops no other.
    failed = False
    for path in args.images:
        try:
            image = prepare_image(path)
        except ValueError as exc:
            print(f"lenet-study: error: {exc}", file=sys.stderr)
            failed = True
            continue
        if is_blank(image):
            print(
                f"lenet-study: warning: {path} shows no garment (no contrast); not classified",
                file=sys.stderr,
            )
            continue
        probabilities = model.predict(image[None], verbose=0)[0]
        ranked = np.argsort(probabilities)[::-1][: args.top]
        print(f"{path}: " + ", ".join(f"{CLASS_NAMES[c]} {probabilities[c]:.3f}" for c in ranked))
    return 1 if failed else 0


def _dashboard(args: argparse.Namespace) -> int:
    from study.dashboard import serve

    storage = _storage_url(args)
    serve(storage, args.study_name, args.results_dir, host=args.host, port=args.port)
    return 0


def _report(args: argparse.Namespace) -> int:
    import shlex

    from study.masking import mask_argv
    from study.paths import study_folder
    from study.report import ReportOptions, write_report

    files = write_report(
        ReportOptions(
            storage=_storage_url(args),
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


def _studies(args: argparse.Namespace) -> int:
    from study.manage import format_studies, list_studies

    print(format_studies(list_studies(_storage_url(args))))
    return 0


def _delete_study(args: argparse.Namespace) -> int:
    from study.deletion import delete, plan_deletion
    from study.manage import confirmed

    plan = plan_deletion(_storage_url(args), args.study_name, args.results_dir, args.keep_files)
    if not confirmed(plan.question, args.yes):
        print("nothing deleted")
        return 0
    print("\n".join(delete(plan)))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from study.errors import UsageError
    from study.paths import check_writable_file

    foreign: dict[tuple[str, ...], list[str]] = {}
    for name, (flag, sections) in _SECTION_FLAGS.items():
        if getattr(args, name) is not None and args.section not in sections:
            foreign.setdefault(sections, []).append(flag)
    if foreign:
        raise UsageError(
            "; ".join(
                f"{', '.join(flags)}: only with --section {' or '.join(sections)}"
                for sections, flags in foreign.items()
            )
        )
    if args.json:
        check_writable_file(args.json, "JSON file")  # before minutes of measuring
    return _BENCH_SECTIONS[args.section](args)


# The bench options that belong to some sections: the flag of each, and those sections.
_SECTION_FLAGS = {
    "budget_seconds": ("--budget", ("peers",)), "preset": ("--preset", ("peers",)),
    "space_file": ("--space", ("peers",)), "epochs": ("--epochs", ("peers",)),
    "train_limit": ("--train-limit", ("peers", "speed")), "val_limit": ("--val-limit", ("peers",)),
    "seed": ("--seed", ("peers",)), "workers": ("--workers", ("peers",)),
    "contenders": ("--contenders", ("peers",)), "rounds": ("--rounds", ("speed", "predict")),
    "export_dir": ("--export", ("predict",)),
    "startup_trials": ("--startup-trials", ("peers",)),
}  # fmt: skip
# `bench --section peers` options passed on to RunSettings.
_PEERS_FIELDS = (
    "space_file", "epochs", "train_limit", "val_limit", "seed", "workers", "startup_trials",
)  # fmt: skip


def _bench_cost(args: argparse.Namespace) -> int:
    from study.bench import BenchSizes, render, run_bench, write_json

    report = run_bench(BenchSizes.quick() if args.quick else BenchSizes(), args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _bench_peers(args: argparse.Namespace) -> int:
    from study.bench.peers import peers_settings, render, run_peers, write_json

    given = {name: getattr(args, name) for name in _PEERS_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    preset = "quick" if args.quick else args.preset or "default"
    settings = peers_settings(
        preset, args.budget_seconds, args.contenders, data_dir=args.data_dir, **given
    )
    report = run_peers(settings)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _bench_speed(args: argparse.Namespace) -> int:
    from study.bench.speed import render, run_speed, speed_settings, write_json

    settings = speed_settings(args.quick, args.train_limit, args.rounds)
    report = run_speed(settings, args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _bench_predict(args: argparse.Namespace) -> int:
    from study.bench.predict import (
        PREDICT_QUICK_ROUNDS,
        PREDICT_ROUNDS,
        render,
        run_predict_bench,
        write_json,
    )
    from study.paths import study_folder
    from study.settings import DEFAULT_RESULTS_DIR, DEFAULT_STUDY_NAME

    rounds = args.rounds or (PREDICT_QUICK_ROUNDS if args.quick else PREDICT_ROUNDS)
    folder = args.export_dir or study_folder(DEFAULT_RESULTS_DIR, DEFAULT_STUDY_NAME)
    report = run_predict_bench(folder, rounds, args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


_BENCH_SECTIONS = {
    "cost": _bench_cost,
    "peers": _bench_peers,
    "speed": _bench_speed,
    "predict": _bench_predict,
}

COMMANDS = {
    "run": _run,
    "trials": _trials,
    "export": _export,
    "evaluate": _evaluate,
    "predict": _predict,
    "dashboard": _dashboard,
    "report": _report,
    "studies": _studies,
    "delete-study": _delete_study,
    "bench": _bench,
}

if __name__ == "__main__":
    sys.exit(main())
