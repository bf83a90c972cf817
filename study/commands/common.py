"""What several commands share: the one-line parser error, --storage and friends."""

from __future__ import annotations

import argparse
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse, with its error as one line: the full usage text buries the one thing wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def places() -> Parser:
    """--storage and --results-dir, as ``run`` declares them."""
    from study.options import add_options
    from study.settings import RunSettings

    common = Parser(add_help=False)
    add_options(common, RunSettings, ["storage", "results_dir"], with_defaults=True)
    return common


def study_options() -> Parser:
    """--study-name, --storage and --results-dir, as ``run`` declares them."""
    from study.options import add_options
    from study.settings import RunSettings

    common = Parser(add_help=False, parents=[places()])
    add_options(common, RunSettings, ["study_name"], with_defaults=True)
    return common


def data_dir(parser: argparse.ArgumentParser) -> None:
    """--data-dir, as ``run`` declares it."""
    from study.options import add_options
    from study.settings import RunSettings, help_context

    add_options(parser, RunSettings, ["data_dir"], help_context())


def storage_url(args: argparse.Namespace) -> str:
    """``--storage``, or the SQLite file in ``--results-dir``."""
    from study.settings import default_storage

    return str(args.storage or default_storage(args.results_dir))
