"""``lenet-study dashboard``: browse the trials in optuna-dashboard."""

from __future__ import annotations

import argparse
from typing import Any

from study.commands.common import storage_url, study_options
from study.options import port


def add_parser(commands: Any) -> None:
    from study.settings import DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT

    dashboard = commands.add_parser(
        "dashboard", parents=[study_options()], help="browse the trials in optuna-dashboard"
    )
    dashboard.add_argument(
        "--port",
        type=port,
        default=DEFAULT_DASHBOARD_PORT,
        help="port to serve on (default: %(default)s)",
    )
    dashboard.add_argument(
        "--host",
        default=DEFAULT_DASHBOARD_HOST,
        help="address to bind (default: %(default)s); the dashboard has no login",
    )
    dashboard.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.dashboard import serve

    serve(storage_url(args), args.study_name, args.results_dir, host=args.host, port=args.port)
    return 0
