"""``lenet-study bench``: what a study costs, other tuners, the front pruner, epoch speed,
predict start-up."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.bench.predict import PREDICT_QUICK_ROUNDS, PREDICT_ROUNDS
from study.commands.common import Parser, data_dir
from study.options import add_options, names, positive_float, positive_int

# `bench --section peers` options that are `run`'s, passed on to RunSettings.
PEERS_FIELDS = (
    "space_file", "epochs", "train_limit", "val_limit", "seed", "workers", "startup_trials",
)  # fmt: skip
# Their help here, where a contender or another section reads them too.
_PEERS_HELP = {
    "space_file": "search-space TOML, as in run (default: the preset's)",
    "epochs": "epochs per trial, KerasTuner's max_epochs (default: the preset's)",
    "train_limit": "stratified training subset (default: all)",
    "val_limit": "stratified validation subset (default: all)",
    "seed": "seeds the samplers, the split and training (default: {default.seed})",
    "workers": "our worker processes, as in run (default: {default.workers}); KerasTuner runs one",
    "startup_trials": "our TPE's random start-up trials, as in run (default: "
    "{default.startup_trials})",
}
# `bench front`'s: peers' but the seed, which --seeds replaces.
FRONT_FIELDS = tuple(name for name in PEERS_FIELDS if name != "seed")
_FRONT_HELP = {
    **_PEERS_HELP,
    "space_file": "search-space TOML (default: study/spaces/pareto.toml)",
    "epochs": "epochs per trial (default: {front[epochs]}; --quick: {front_quick[epochs]})",
    "train_limit": "stratified training subset (default: {front[train_limit]:,}; --quick: "
    "{front_quick[train_limit]:,})",
    "val_limit": "stratified validation subset (default: {front[val_limit]:,}; --quick: "
    "{front_quick[val_limit]:,})",
    "workers": "worker processes of each run, as in run (default: {default.workers})",
    "startup_trials": "TPE's random start-up trials, as in run (default: "
    "{default.startup_trials})",
}


def _seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``: distinct seeds, at least one."""
    from study.options import seed

    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"expected seeds such as 0,1,2, got {text!r}")
    seeds = tuple(seed(part) for part in parts)
    if len(set(seeds)) < len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds, got {text}")
    return seeds


class _SectionParser(Parser):
    """A ``bench`` section's parser: an option of another section is named as such."""

    sections: dict[str, argparse.ArgumentParser]  # every section's (add_parser shares one)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        for word in extras:
            flag = word.split("=", 1)[0]
            owners = [
                name for name, p in self.sections.items() if flag in p._option_string_actions
            ]
            if owners:
                self.error(f"{flag}: only with bench {' or bench '.join(owners)}")
        return parsed, extras


def add_parser(commands: Any) -> None:
    from study.settings import (
        BENCH_QUICK_IMAGES,
        BENCH_QUICK_ROUNDS,
        BENCH_ROUNDS,
        PEERS_BUDGET,
        PEERS_QUICK_BUDGET,
        RunSettings,
    )

    bench = commands.add_parser(
        "bench",
        help="measure training speed, trial overhead, workers, pruning and memory (cost); "
        "compare our search with random search and KerasTuner (peers); measure the front "
        "pruner of a multi-objective study (front); time epochs on this backend, TensorFlow "
        "or JAX (speed); time predict per exported format (predict)",
    )
    sections = bench.add_subparsers(
        dest="section",
        required=True,
        parser_class=_SectionParser,
        help="what to measure (without one: cost)",
    )
    every: dict[str, argparse.ArgumentParser] = {}

    def section(name: str, help: str, quick: str) -> Any:
        parser = sections.add_parser(name, help=help, description=help)
        parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
        data_dir(parser)
        parser.add_argument("--quick", action="store_true", help=quick)
        parser.set_defaults(handler=command, run=SECTIONS[name])
        parser.sections, every[name] = every, parser
        return parser

    section(
        "cost",
        "what a study costs on this machine: training speed, trial overhead, workers, pruning "
        "and memory (about 11 minutes, TensorFlow)",
        "every figure on a few thousand images (a minute)",
    )
    peers = section(
        "peers",
        "our study, random search and KerasTuner's Hyperband, each for --budget seconds",
        f"run's --quick data and epochs, {PEERS_QUICK_BUDGET:.0f} s per contender",
    )
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
    _add_front(section)
    speed = section(
        "speed",
        "seconds per epoch of plain model.fit and of our training paths, on the backend Keras "
        "runs on",
        f"{BENCH_QUICK_IMAGES:,} images, {BENCH_QUICK_ROUNDS} round",
    )
    speed.add_argument(
        "--train-limit",
        type=positive_int,
        help="the first N training images per epoch (default: all)",
    )
    speed.add_argument(
        "--rounds",
        type=positive_int,
        help=f"timed epochs per path, after a warm-up epoch each (default: {BENCH_ROUNDS})",
    )
    predict = section(
        "predict",
        "the wall time of `lenet-study predict` on one test image, per exported format",
        f"{PREDICT_QUICK_ROUNDS} timed run per format",
    )
    predict.add_argument(
        "--rounds",
        type=positive_int,
        help=f"timed runs per format (default: {PREDICT_ROUNDS})",
    )
    predict.add_argument(
        "--export",
        type=Path,
        dest="export_dir",
        metavar="DIR",
        help="a folder of `export --format keras,onnx,litert` (default: RESULTS_DIR/STUDY_NAME "
        "of the default study)",
    )


def _add_front(section: Any) -> None:
    from study.bench.front import (
        FRONT_BUDGET,
        FRONT_QUICK_BUDGET,
        FRONT_QUICK_RUN,
        FRONT_QUICK_SEEDS,
        FRONT_RUN,
        FRONT_SEEDS,
    )
    from study.settings import RunSettings

    front = section(
        "front",
        "TPE with the front pruner, TPE without it and random search on a study of accuracy "
        "against parameters, each for --budget seconds at each of --seeds",
        f"{FRONT_QUICK_RUN['train_limit']:,} training images, {FRONT_QUICK_RUN['epochs']} "
        f"epochs, {FRONT_QUICK_BUDGET:.0f} s per contender, seed "
        f"{','.join(map(str, FRONT_QUICK_SEEDS))}",
    )
    front.add_argument(
        "--budget",
        type=positive_float,
        dest="budget_seconds",
        metavar="SECONDS",
        help=f"wall-clock seconds per contender and seed (default: {FRONT_BUDGET:.0f})",
    )
    front.add_argument(
        "--seeds",
        type=_seeds,
        metavar="N,...",
        help="seeds of the sampler, split and training; each contender runs once per seed "
        f"(default: {','.join(map(str, FRONT_SEEDS))})",
    )
    front.add_argument(
        "--contenders",
        type=names,
        metavar="NAME,...",
        help="which contenders to run, in this order: front, tpe, random (default: all three)",
    )
    context = {"front": FRONT_RUN, "front_quick": FRONT_QUICK_RUN}
    add_options(front, RunSettings, FRONT_FIELDS, context=context, helps=_FRONT_HELP)


def section_argv(argv: list[str]) -> list[str]:
    """``argv`` with the older ``bench --section NAME`` spelled ``bench NAME``, and a bare
    ``bench`` as ``bench cost``; any other command line as it is."""
    if not argv or argv[0] != "bench":
        return argv
    rest = argv[1:]
    for index, word in enumerate(rest):
        if word == "--section" and index + 1 < len(rest):
            return ["bench", rest[index + 1], *rest[:index], *rest[index + 2 :]]
        if word.startswith("--section="):
            return ["bench", word.split("=", 1)[1], *rest[:index], *rest[index + 1 :]]
    if rest and (rest[0] in SECTIONS or rest[0] in ("-h", "--help")):
        return argv
    return ["bench", "cost", *rest]


def command(args: argparse.Namespace) -> int:
    from study.paths import check_writable_file

    if args.json:
        check_writable_file(args.json, "JSON file")  # before minutes of measuring
    code: int = args.run(args)
    return code


def _shown(text: str, report: Any, json_path: Path | None) -> int:
    """Prints a section's table and, with ``--json``, writes its report; the exit code."""
    from study.files import write_json

    print(text)
    if json_path:
        write_json(report, json_path)
        print(f"wrote {json_path}")
    return 0


def _given(args: argparse.Namespace, fields: tuple[str, ...]) -> dict[str, Any]:
    """The run options among ``fields`` given on the command line, for RunSettings."""
    values = {name: getattr(args, name) for name in fields}
    return {name: value for name, value in values.items() if value is not None}


def _cost(args: argparse.Namespace) -> int:
    from study.bench import BenchSizes, render, run_bench

    report = run_bench(BenchSizes.quick() if args.quick else BenchSizes(), args.data_dir)
    return _shown(render(report), report, args.json)


def _peers(args: argparse.Namespace) -> int:
    from study.bench.peers import peers_settings, render, run_peers

    given = _given(args, PEERS_FIELDS)
    preset = "quick" if args.quick else args.preset or "default"
    settings = peers_settings(
        preset, args.budget_seconds, args.contenders, data_dir=args.data_dir, **given
    )
    report = run_peers(settings)
    return _shown(render(report), report, args.json)


def _front(args: argparse.Namespace) -> int:
    from study.bench.front import front_settings, render, run_front

    given = _given(args, FRONT_FIELDS)
    settings = front_settings(
        args.quick,
        args.budget_seconds,
        args.seeds,
        args.contenders,
        data_dir=args.data_dir,
        **given,
    )
    report = run_front(settings)
    return _shown(render(report), report, args.json)


def _speed(args: argparse.Namespace) -> int:
    from study.bench.speed import render, run_speed, speed_settings

    settings = speed_settings(args.quick, args.train_limit, args.rounds)
    report = run_speed(settings, args.data_dir)
    return _shown(render(report), report, args.json)


def _predict(args: argparse.Namespace) -> int:
    from study.bench.predict import render, run_predict_bench
    from study.paths import study_folder
    from study.settings import DEFAULT_RESULTS_DIR, DEFAULT_STUDY_NAME

    rounds = args.rounds or (PREDICT_QUICK_ROUNDS if args.quick else PREDICT_ROUNDS)
    folder = args.export_dir or study_folder(DEFAULT_RESULTS_DIR, DEFAULT_STUDY_NAME)
    report = run_predict_bench(folder, rounds, args.data_dir)
    return _shown(render(report), report, args.json)


SECTIONS = {
    "cost": _cost,
    "peers": _peers,
    "front": _front,
    "speed": _speed,
    "predict": _predict,
}
