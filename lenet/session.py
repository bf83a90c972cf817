"""Freeing a trained model's graphs, so that a long-running process can train model after model.

``keras.backend.clear_session()`` alone leaves about 10 MiB per trained model behind
(keras-team/keras#17458, tensorflow/tensorflow#61791, both open). The owner, found by walking
the referrers of the surviving ``FuncGraph`` objects: in graph mode, every call of a
``tf.custom_gradient`` function registers its gradient in TensorFlow's process-wide gradient
registry under a fresh name ("CustomGradient-N") that is never removed, and the registered
closure holds the traced graph. Keras' TensorFlow train step makes two such calls per trace
(``tf.distribute``'s ``all_reduce``), so every model's training graph stayed alive for good.
"""

from __future__ import annotations

from typing import Any

import keras
from tensorflow.python.framework import ops

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"  # the names tf.custom_gradient generates


def _gradient_registry() -> dict[str, Any]:
    """TensorFlow's registry of gradient functions by op type; a private detail, so an empty
    dict (nothing cleared) if a TensorFlow release stores it otherwise."""
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else {}


def clear_session() -> None:
    """Forgets every model and graph built so far, including their registered gradients.

    Call it between models, like ``keras.backend.clear_session()``, which it wraps. Models
    built before the call must not be trained again afterwards; inference is fine. A
    gradient entry is looked up only while a train step is traced, and every trace registers
    its own, so the entries of discarded graphs are never needed again.
    """
    registry = _gradient_registry()
    for name in [name for name in registry if name.startswith(_CUSTOM_GRADIENT_PREFIX)]:
        del registry[name]
    keras.backend.clear_session()  # also runs the garbage collector, which frees the graphs
