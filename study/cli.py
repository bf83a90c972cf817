"""The ``lenet-study`` command line: parse, dispatch to one command module, map errors.

Exit codes: 0 success, 1 a problem with the data, a model file, the storage or the study (one
line on stderr), 2 an invalid argument or input file, 130 Ctrl-C, 143 SIGTERM. Any other
exception is a bug and shows its traceback. Each command lives in ``study.commands``.
"""

from __future__ import annotations

import argparse
import sys
import time

# The commands that load Keras (`run` chooses its backend itself, from --backend).
_KERAS_COMMANDS = ("export", "evaluate", "predict", "report", "bench")


def build_parser() -> argparse.ArgumentParser:
    from study.commands import MODULES
    from study.commands.common import Parser

    parser = Parser(
        prog="lenet-study",
        description="Hyperparameter optimization of LeNet-5 on Fashion-MNIST with Optuna.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    started = time.monotonic()  # `run --timeout` counts from here
    from study.quiet import quiet_tensorflow

    # TensorFlow's start-up chatter would hide our progress lines; its errors still show.
    quiet_tensorflow()
    from study.commands.bench import section_argv

    typed = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(section_argv(typed))
    args.started = started
    args.argv = typed  # what the report quotes
    import optuna

    # Progress lines are ours; Optuna's INFO lines ("A new study created...") repeat them.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from lenet.errors import DataError, ModelFileError
    from study.errors import StudyError, UsageError

    try:
        model = getattr(args, "model", None)  # .onnx, .tflite: no Keras, no backend
        if args.command in _KERAS_COMMANDS and not (
            model is not None and model.suffix.lower() in (".onnx", ".tflite")
        ):
            from study.devices import select_backend

            select_backend()  # a bad keras.json or backend: one line, before Keras loads
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        print(f"lenet-study: error: {exc}", file=sys.stderr)
        return 2
    except (DataError, StudyError, ModelFileError) as exc:
        print(f"lenet-study: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        from study.runner import Terminated

        detail = "; the running trial was recorded as failed" if args.command == "run" else ""
        print(f"lenet-study: interrupted{detail}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
