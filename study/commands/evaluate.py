"""``lenet-study evaluate``: score a model on the 10,000 test images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from study.commands.common import data_dir


def add_parser(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", help="score a model on the 10,000 test images")
    evaluate.add_argument(
        "--model", type=Path, required=True, help="a .keras, .onnx or .tflite file"
    )
    evaluate.add_argument("--json", type=Path, help="also write the results as JSON")
    data_dir(evaluate)
    evaluate.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:

    from lenet import evaluate_model, load_fashion_mnist
    from lenet.runtime import load_any_model
    from study.files import write_json
    from study.paths import check_writable_file

    if args.json:
        check_writable_file(args.json, "JSON file")  # before the evaluation, not after
    model = load_any_model(args.model)  # .onnx, .tflite: no Keras
    data = load_fashion_mnist(args.data_dir)
    evaluation = evaluate_model(model, data.x_test, data.y_test)
    print(f"{args.model} on the Fashion-MNIST test set")
    print(evaluation.table())
    if args.json:
        write_json(evaluation, args.json)
        print(f"wrote {args.json}")
    return 0
