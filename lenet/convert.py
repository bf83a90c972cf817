"""Converting a ``.keras`` LeNet to ONNX and LiteRT with Keras' own exporters, on TensorFlow.

Keras 3 exports LiteRT only from its TensorFlow (or PyTorch) backend, and ONNX from TensorFlow
through tf2onnx (from JAX through jax2onnx, a third converter). A ``.keras`` file loads on
either backend, so a model trained on JAX is converted by ``python -m lenet.convert`` in a
process of its own with ``KERAS_BACKEND=tensorflow``: one converter path for every model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# The formats this module writes, each with what it needs beyond TensorFlow and Keras.
CONVERTERS = {
    "onnx": ("tf2onnx", "onnx"),
    "litert": (),
    "litert_int8": (),
}
REPRESENTATIVE_BATCH = 1  # images per calibration step, as the converter is fed in use


def convert(
    model_path: Path, outputs: dict[str, Path], representative: np.ndarray | None = None
) -> None:
    """Writes each of ``outputs`` (format -> file) from the ``.keras`` model at ``model_path``.

    Formats: ``onnx``; ``litert`` (float32); ``litert_int8`` (full-integer: int8 weights,
    activations, input and output, calibrated on ``representative``, images from the
    training split). Runs on Keras' TensorFlow backend only.

    Raises:
        ValueError: an unknown format, or ``litert_int8`` without representative images.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError("lenet.convert runs on Keras' TensorFlow backend only")
    unknown = set(outputs) - set(CONVERTERS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; known: {sorted(CONVERTERS)}")
    import tensorflow as tf

    from lenet.saving import load_model

    model = load_model(model_path, expected_sha256=None)
    # A loaded functional model has never been called, so Keras cannot infer the signature.
    signature = [keras.InputSpec(shape=(None, 28, 28, 1), dtype="float32", name="image")]
    for name, path in outputs.items():
        if name == "onnx":
            model.export(str(path), format="onnx", verbose=False, input_signature=signature)
        elif name == "litert":
            model.export(str(path), format="litert", verbose=False, input_signature=signature)
        else:
            if representative is None or not len(representative):
                raise ValueError("litert_int8 needs representative images")
            images = np.asarray(representative, dtype=np.float32)

            def batches(images: np.ndarray = images) -> Iterator[list[np.ndarray]]:
                for start in range(0, len(images), REPRESENTATIVE_BATCH):
                    yield [images[start : start + REPRESENTATIVE_BATCH]]

            model.export(
                str(path),
                format="litert",
                verbose=False,
                input_signature=signature,
                optimizations=[tf.lite.Optimize.DEFAULT],
                representative_dataset=batches,
                target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
                inference_input_type=tf.int8,
                inference_output_type=tf.int8,
            )


def main(argv: list[str] | None = None) -> int:
    """``python -m lenet.convert MODEL --onnx PATH --litert PATH --litert-int8 PATH
    --representative FILE.npy``: ``convert`` in a process of its own."""
    parser = argparse.ArgumentParser(prog="python -m lenet.convert")
    parser.add_argument("model", type=Path)
    for name in CONVERTERS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=Path, dest=name)
    parser.add_argument("--representative", type=Path, help="a .npy file of images")
    args = parser.parse_args(argv)
    outputs = {name: getattr(args, name) for name in CONVERTERS if getattr(args, name)}
    representative = np.load(args.representative) if args.representative else None
    convert(args.model, outputs, representative)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
