"""``lenet-study export``: write the best (or a chosen) trial's model and its record."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from study.commands.common import data_dir, storage_url, study_options


def add_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export", parents=[study_options()], help="write the best trial's model and its record"
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
    export.add_argument(
        "--trial",
        type=int,
        metavar="N",
        help="export completed trial N instead of the best",
    )
    export.add_argument(
        "--smallest-above",
        metavar="ACCURACY",
        help="export the smallest trial on the accuracy-size front whose validation accuracy "
        "is at least ACCURACY, a fraction such as 0.9 (`lenet-study trials --front` lists "
        "the front)",
    )
    data_dir(export)
    export.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.artifacts import artifact_store
    from study.export import export_best
    from study.export_choice import TRIALS_COMMAND, parse_choice
    from study.export_formats import parse_formats
    from study.paths import study_folder
    from study.progress import study_flags
    from study.storage import load_lenet_study, storage_identity

    formats = parse_formats(args.format)  # a typo fails before the study is read
    choice = parse_choice(args.trial, args.smallest_above)
    study = load_lenet_study(storage_url(args), args.study_name)
    out = args.out or study_folder(args.results_dir, args.study_name)
    storage = storage_identity(storage_url(args))
    where = study_flags(args.study_name, args.storage, args.results_dir)
    record = export_best(
        study,
        artifact_store(args.results_dir),
        out,
        formats,
        args.data_dir,
        storage,
        choice,
        " ".join([TRIALS_COMMAND, *map(shlex.quote, where)]),
    )
    sizes = ""
    for name, value in list(record["objective_values"].items())[1:]:
        if name != "params":  # the parameters are in the line already
            sizes += f", {value} {name}"
    print(
        f"exported trial {record['trial_number']} (val_accuracy {record['val_accuracy']:.4f}, "
        f"{record['n_params']} parameters{sizes}) to {out / 'best_model.keras'}"
    )
    for entry in list(record["formats"].values())[1:]:
        print(
            f"  {out / entry['file']}: test accuracy {entry['accuracy']:.4f}, "
            f"agrees with keras on {entry['agreement']:.2%}"
        )
    return 0
