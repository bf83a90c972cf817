"""``lenet-study predict``: classify your own garment images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from study.options import positive_int


def add_parser(commands: Any) -> None:
    predict = commands.add_parser("predict", help="classify your own garment images")
    predict.add_argument(
        "--model", type=Path, required=True, help="a .keras, .onnx or .tflite file"
    )
    predict.add_argument("images", nargs="+", type=Path, help="PNG or JPEG files")
    predict.add_argument(
        "--top",
        type=positive_int,
        default=3,
        help="classes shown per image (default: %(default)s)",
    )
    predict.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from lenet import NoGarment, classify_file
    from lenet.runtime import load_any_model

    model = load_any_model(args.model)  # .onnx, .tflite: no Keras
    # One line per file, a result or the reason there is none; one bad file stops no other.
    failed = False
    for path in args.images:
        try:
            ranked = classify_file(model, path, args.top)
        except NoGarment as exc:
            print(f"lenet-study: warning: {exc}", file=sys.stderr)
        except ValueError as exc:
            print(f"lenet-study: error: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in ranked))
    return 1 if failed else 0
