"""``lenet-study run``: create or resume a study. Its options are ``RunSettings``' fields."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from study.settings import RunSettings


def add_parser(commands: Any) -> None:
    from study.options import add_options, option_names
    from study.settings import PRESETS, RunSettings, help_context

    context = help_context()
    quick, accurate = context["quick"], context["accurate"]
    # Options left unset (None) take RunSettings' or the preset's value: one place for each.
    run = commands.add_parser("run", help="create or resume a study")
    # -v and -q last, after --preset and --quick, as `run --help` has always listed them.
    louder = ["verbosity"]
    add_options(
        run, RunSettings, [n for n in option_names(RunSettings) if n not in louder], context
    )
    # Set by `run` on the worker processes it starts: run the trials here, print no summary.
    run.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
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
    add_options(run, RunSettings, louder)
    run.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from study.devices import select_backend

    args.backend = select_backend(args.backend)  # before anything imports Keras
    from study.runner import run

    return run(settings_of(args), supervised=args.supervised, started=args.started)


def settings_of(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> RunSettings:
    """The settings ``run``'s parsed ``args`` give: the preset's, with the options given on
    top; a worker process (``--supervised``) takes its storage URL from ``environ``."""
    from study.options import given_options
    from study.settings import STORAGE_ENV, RunSettings, run_settings

    given = given_options(RunSettings, args)
    if args.supervised and "storage" not in given and environ.get(STORAGE_ENV):
        given["storage"] = environ[STORAGE_ENV]  # see study.workers.worker_env
    return run_settings("quick" if args.quick else args.preset, **given)
