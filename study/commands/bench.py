"""``lenet-study bench``: what a study costs, other tuners, epoch speed, predict start-up."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.commands.common import data_dir
from study.options import add_options, names, positive_float, positive_int

# `bench --section peers` options that are `run`'s, passed on to RunSettings.
PEERS_FIELDS = (
    "space_file", "epochs", "train_limit", "val_limit", "seed", "workers", "startup_trials",
)  # fmt: skip
# Their help here, where a contender or another section reads them too.
_PEERS_HELP = {
    "space_file": "search-space TOML, as in run (default: the preset's)",
    "epochs": "epochs per trial, KerasTuner's max_epochs (default: the preset's)",
    "train_limit": "stratified training subset; speed: the first N training images per epoch "
    "(default: all)",
    "val_limit": "stratified validation subset (default: all)",
    "seed": "seeds the samplers, the split and training (default: {default.seed})",
    "workers": "our worker processes, as in run (default: {default.workers}); KerasTuner runs one",
    "startup_trials": "our TPE's random start-up trials, as in run (default: "
    "{default.startup_trials})",
}
# The bench options that belong to some sections: the flag of each, and those sections.
SECTION_FLAGS = {
    "budget_seconds": ("--budget", ("peers",)), "preset": ("--preset", ("peers",)),
    "space_file": ("--space", ("peers",)), "epochs": ("--epochs", ("peers",)),
    "train_limit": ("--train-limit", ("peers", "speed")), "val_limit": ("--val-limit", ("peers",)),
    "seed": ("--seed", ("peers",)), "workers": ("--workers", ("peers",)),
    "contenders": ("--contenders", ("peers",)), "rounds": ("--rounds", ("speed", "predict")),
    "export_dir": ("--export", ("predict",)),
    "startup_trials": ("--startup-trials", ("peers",)),
}  # fmt: skip


def add_parser(commands: Any) -> None:
    from study.settings import (
        BENCH_QUICK_IMAGES,
        BENCH_QUICK_ROUNDS,
        BENCH_ROUNDS,
        BENCH_SECTIONS,
        PEERS_BUDGET,
        PEERS_QUICK_BUDGET,
        RunSettings,
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
    data_dir(bench)
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
        type=positive_float,
        dest="budget_seconds",
        metavar="SECONDS",
        help=f"wall-clock seconds per contender (default: {PEERS_BUDGET:.0f})",
    )
    peers.add_argument(
        "--contenders",
        type=names,
        metavar="NAME,...",
        help="which contenders to run, in this order: ours, random, keras_tuner "
        "(default: all three)",
    )
    peers.add_argument(
        "--preset",
        choices=("default", "accurate"),
        help="the study's space and epochs, as in run (default: default)",
    )
    add_options(peers, RunSettings, PEERS_FIELDS, helps=_PEERS_HELP)
    speed = bench.add_argument_group("--section speed (and --train-limit)")
    speed.add_argument(
        "--rounds",
        type=positive_int,
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
    bench.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.errors import UsageError
    from study.paths import check_writable_file

    foreign: dict[tuple[str, ...], list[str]] = {}
    for name, (flag, sections) in SECTION_FLAGS.items():
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
    return SECTIONS[args.section](args)


def _cost(args: argparse.Namespace) -> int:
    from study.bench import BenchSizes, render, run_bench, write_json

    report = run_bench(BenchSizes.quick() if args.quick else BenchSizes(), args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _peers(args: argparse.Namespace) -> int:
    from study.bench.peers import peers_settings, render, run_peers, write_json

    given = {name: getattr(args, name) for name in PEERS_FIELDS}
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


def _speed(args: argparse.Namespace) -> int:
    from study.bench.speed import render, run_speed, speed_settings, write_json

    settings = speed_settings(args.quick, args.train_limit, args.rounds)
    report = run_speed(settings, args.data_dir)
    print(render(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _predict(args: argparse.Namespace) -> int:
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


SECTIONS = {"cost": _cost, "peers": _peers, "speed": _speed, "predict": _predict}
