"""Metrics as symbolic expressions beside the loss: Keras' ``metrics=['accuracy']``.

A metric maps ``(y_pred, y_true)`` to one value per item, shaped like the
item-wise loss (``[B]`` or ``[B, T]``): 1.0 for a hit, 0.0 for a miss. A
model averages it like its loss (:func:`symrnn.graph.losses.mean`) and
compiles it as one more output of its training and evaluation functions, so
accuracy costs one argmax per step and no second pass over the data.

``'accuracy'`` (Keras 1 also spells it ``'acc'``) picks the accuracy that
fits the targets, as Keras does: class ids for a sparse loss, a single unit
(``round(p) == y``) for a one-unit output, else the argmax of one-hot rows.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> probs, ids = pt.dmatrix("probs"), pt.lvector("ids")
>>> hits = get_metric("accuracy", sparse=True, output_width=2)(probs, ids)
>>> f = pytensor.function([probs, ids], hits.mean())
>>> float(f(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])))
0.5
"""
import pytensor.tensor as pt

from ..errors import ConfigError
from .losses import binary_crossentropy

ACCURACY = ("accuracy", "acc")   # Keras 2 and Keras 1 spellings


def _hits(equal):
    return pt.cast(equal, "float64")


def categorical_accuracy(y_pred, y_onehot):
    """1.0 where the most likely class is the target row's largest entry."""
    return _hits(pt.eq(pt.argmax(y_pred, axis=-1), pt.argmax(y_onehot, axis=-1)))


def sparse_categorical_accuracy(y_pred, ids):
    """1.0 where the most likely class is the target id (``ids`` is ``y_pred`` minus its last axis)."""
    return _hits(pt.eq(pt.argmax(y_pred, axis=-1), ids))


def binary_accuracy(y_pred, y_true):
    """Mean over the last axis of ``round(y_pred) == y_true`` (Keras' 0.5 threshold, ties to even)."""
    return _hits(pt.eq(pt.round(y_pred, mode="half_to_even"), y_true)).mean(axis=-1)


METRICS = {"categorical_accuracy": categorical_accuracy,
           "sparse_categorical_accuracy": sparse_categorical_accuracy,
           "binary_accuracy": binary_accuracy}


def _is_binary_crossentropy(loss):
    return loss == "binary_crossentropy" or loss is binary_crossentropy


def get_metric(name, sparse, output_width, loss=None):
    """The metric function for ``name`` on an output whose loss takes class ids (``sparse``)
    or arrays shaped like the output, ``output_width`` wide on the last axis. ``'accuracy'``
    is binary for one unit or for ``loss`` (a name or function) binary cross-entropy, as in
    Keras: several independent sigmoid units score each unit.

    >>> get_metric("accuracy", False, 3, loss="binary_crossentropy").__name__
    'binary_accuracy'
    """
    if name in ACCURACY:
        if sparse:
            return sparse_categorical_accuracy
        binary = output_width == 1 or _is_binary_crossentropy(loss)
        return binary_accuracy if binary else categorical_accuracy
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; valid names: "
                          f"{', '.join(ACCURACY + tuple(sorted(METRICS)))}")
    if (name == "sparse_categorical_accuracy") != bool(sparse):
        targets = "class ids" if sparse else "arrays shaped like the output (one-hot rows)"
        raise ConfigError(f"metric {name!r} does not fit this output's targets, which are "
                          f"{targets} for its loss; use 'accuracy', which picks the right one")
    return METRICS[name]
