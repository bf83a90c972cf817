"""``lenet-study trials``: list a study's trials, or the trials on its accuracy-size front."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.commands.common import storage_url, study_options


def add_parser(commands: Any) -> None:
    trials = commands.add_parser("trials", parents=[study_options()], help="list a study's trials")
    trials.add_argument(
        "--front",
        action="store_true",
        help="only the trials on the accuracy-size Pareto front, smallest first (a study "
        "without a size objective: accuracy against parameters)",
    )
    trials.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    trials.add_argument("--json", type=Path, help="also write the table to this JSON file")
    trials.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from optuna.trial import TrialState

    from study.files import atomic_path, write_json
    from study.paths import check_writable_file
    from study.results import format_trials_table, trials_table
    from study.storage import load_study

    if args.csv:
        check_writable_file(args.csv, "CSV file")
    if args.json:
        check_writable_file(args.json, "JSON file")
    study = load_study(storage_url(args), args.study_name)
    table = trials_table(study, front_only=args.front)
    if args.front and not len(table):
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        print(
            "no completed trial records its parameter count, so no front"
            if completed
            else "no completed trial yet, so no front"
        )
    else:
        print(format_trials_table(table))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.csv) as path:
            table.to_csv(path, index=False)
        print(f"wrote {args.csv}")
    if args.json:
        # One object per row, in Python's types; a value a trial does not have is null.
        write_json(table.astype(object).where(table.notna(), None).to_dict("records"), args.json)
        print(f"wrote {args.json}")
    return 0
