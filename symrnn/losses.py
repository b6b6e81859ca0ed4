"""Losses: an item-wise expression, then an explicit aggregation.

Cross-entropy is computed from a log-softmax, never ``log(softmax(z))``: once
a probability underflows to 0 the naive form gives ``0 * log 0 = NaN`` and the
weights stay NaN. When handed probabilities that a softmax produced, the loss
walks back to the logits in the graph, so a model ending in a softmax layer
still gets the stable form.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> z = pt.matrix("z"); ids = pt.ivector("ids")
>>> loss = total(sparse_categorical_crossentropy_from_logits(z, ids))
>>> f = pytensor.function([z, ids], loss)
>>> bool(np.isclose(f(np.zeros((2, 4)), np.array([0, 3], dtype="int32")), 2 * np.log(4)))
True
"""
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad
from pytensor.tensor.special import Softmax

from .errors import ConfigError

EPSILON = 1e-7  # Keras' clip for probabilities that do not come from a softmax


def log_softmax(z, axis=-1):
    """``z - logsumexp(z)``: finite for any finite logits.

    The max is subtracted by hand because only some backends' rewrites
    stabilise ``pt.logsumexp`` (FAST_COMPILE overflows at z = 1000); the
    shift cancels exactly, so its gradient is disconnected.
    """
    shift = disconnected_grad(pt.max(z, axis=axis, keepdims=True))
    shifted = z - shift
    return shifted - pt.log(pt.exp(shifted).sum(axis=axis, keepdims=True))


def logits_of(probs):
    """The logits behind ``probs`` if a softmax over the last axis made them, else None."""
    node = probs.owner
    if node is not None and isinstance(node.op, Softmax):
        axes = node.op.axis if isinstance(node.op.axis, tuple) else (node.op.axis,)
        if tuple(a % probs.ndim for a in axes) == (probs.ndim - 1,):
            return node.inputs[0]
    return None


def categorical_crossentropy_from_logits(z, y_onehot):
    """Per-item cross-entropy with one-hot (or soft) targets over the last axis."""
    return -(y_onehot * log_softmax(z)).sum(axis=-1)


def sparse_categorical_crossentropy_from_logits(z, ids):
    """Per-item cross-entropy with integer targets; ``ids`` has ``z``'s shape minus its last axis."""
    log_p = log_softmax(z)
    flat = log_p.reshape((-1, log_p.shape[-1]))
    picked = flat[pt.arange(flat.shape[0]), ids.flatten()]
    return -picked.reshape(ids.shape)


def categorical_crossentropy(probs, y_onehot):
    """Keras-style: takes probabilities; uses the logits when a softmax made them."""
    z = logits_of(probs)
    if z is not None:
        return categorical_crossentropy_from_logits(z, y_onehot)
    return -(y_onehot * pt.log(pt.clip(probs, EPSILON, 1.0))).sum(axis=-1)


def sparse_categorical_crossentropy(probs, ids):
    """Keras-style sparse form (integer targets) of :func:`categorical_crossentropy`."""
    z = logits_of(probs)
    if z is None:
        z = pt.log(pt.clip(probs, EPSILON, 1.0))  # log-probs are valid logits
    return sparse_categorical_crossentropy_from_logits(z, ids)


def mse(y_pred, y_true):
    """Per-item mean squared error over the last axis."""
    return pt.sqr(y_pred - y_true).mean(axis=-1)


def total(item_losses):
    """Sum over all items (the lesson's error, summed over the 8 characters)."""
    return item_losses.sum()


def mean(item_losses):
    """Mean over all items (Keras' reported loss)."""
    return item_losses.mean()


LOSSES = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "mse": mse, "mean_squared_error": mse,
}


def get_loss(name):
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; valid names: "
                          f"{', '.join(sorted(LOSSES))}") from None
