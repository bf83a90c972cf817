"""``lenet-study studies``: list the studies of a storage."""

from __future__ import annotations

import argparse
from typing import Any

from study.commands.common import places, storage_url


def add_parser(commands: Any) -> None:
    studies = commands.add_parser(
        "studies", parents=[places()], help="list the studies of a storage"
    )
    studies.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.manage import format_studies, list_studies

    print(format_studies(list_studies(storage_url(args))))
    return 0
