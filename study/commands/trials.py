"""``lenet-study trials``: list a study's trials."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.commands.common import storage_url, study_options


def add_parser(commands: Any) -> None:
    trials = commands.add_parser("trials", parents=[study_options()], help="list a study's trials")
    trials.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    trials.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.files import atomic_path
    from study.paths import check_writable_file
    from study.results import format_trials_table, trials_table
    from study.storage import load_study

    if args.csv:
        check_writable_file(args.csv, "CSV file")
    study = load_study(storage_url(args), args.study_name)
    table = trials_table(study)
    print(format_trials_table(table))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.csv) as path:
            table.to_csv(path, index=False)
        print(f"wrote {args.csv}")
    return 0
