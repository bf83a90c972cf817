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


def clear_session() -> None:
    """Forgets every model and graph built so far, including their registered gradients.

    Call it between models, like ``keras.backend.clear_session()``, which it wraps. Models
    built before the call must not be trained again afterwards; inference is fine. On
    TensorFlow it also empties the gradient registry (``lenet.backends.tensorflow``); on JAX,
    the compiled-function caches (``lenet.backends.jax``).
    """
    from lenet import backends

    backends.current().clear_session()
