"""``lenet-study delete-study``: a study, its trials' model files, its export and report."""

from __future__ import annotations

import argparse
from typing import Any

from study.commands.common import places, storage_url


def add_parser(commands: Any) -> None:
    delete_study = commands.add_parser(
        "delete-study",
        parents=[places()],
        help="delete a study, its trials' model files and its export and report folder",
    )
    delete_study.add_argument("--study-name", required=True, help="the study to delete")
    delete_study.add_argument("-y", "--yes", action="store_true", help="do not ask first")
    delete_study.add_argument(
        "--keep-files",
        action="store_true",
        help="delete only the study in the storage; name the files left",
    )
    delete_study.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.deletion import delete, plan_deletion
    from study.manage import confirmed

    plan = plan_deletion(storage_url(args), args.study_name, args.results_dir, args.keep_files)
    if not confirmed(plan.question, args.yes):
        print("nothing deleted")
        return 0
    print("\n".join(delete(plan)))
    return 0
