"""``lenet-study export``: write the best trial's model and its record."""

from __future__ import annotations

import argparse
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
    data_dir(export)
    export.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.artifacts import artifact_store
    from study.export import export_best
    from study.export_formats import parse_formats
    from study.paths import study_folder
    from study.storage import load_lenet_study, storage_identity

    formats = parse_formats(args.format)  # a typo fails before the study is read
    study = load_lenet_study(storage_url(args), args.study_name)
    out = args.out or study_folder(args.results_dir, args.study_name)
    storage = storage_identity(storage_url(args))
    record = export_best(
        study, artifact_store(args.results_dir), out, formats, args.data_dir, storage
    )
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
