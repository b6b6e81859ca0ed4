"""A batched, by-hand numpy twin of the lesson RNN, for the benchmark.

:mod:`symrnn.lesson.numpy_rnn` is the readable oracle for one sequence; this is the
same maths written the way a speed-minded numpy programmer would: batch-major
data ``[B, T]`` (ids) or ``[B, T, V]`` (one-hot), time-major work arrays,
every matmul outside the time loop except the recurrence, SGD in place, and one
dtype throughout. The error is the summed cross-entropy of each sequence
averaged over the batch, so at ``B = 1`` it is the lesson's error.

Parameters are a dict in :data:`symrnn.lesson.numpy_rnn.PARAM_NAMES` order (with
biases), e.g. from :func:`symrnn.lesson.numpy_rnn.init_params`.

>>> import numpy as np
>>> from symrnn.lesson.numpy_rnn import init_params
>>> p = init_params(5, 4, np.random.default_rng(0))
>>> ids = np.array([[1, 2, 3], [0, 4, 4]])
>>> err, grads = loss_and_grads(p, ids, np.roll(ids, -1, axis=1), np.zeros((2, 4)))
>>> sorted(grads) == sorted(p)
True
"""
import numpy as np

from ..errors import ConfigError
from ..lesson.numpy_rnn import softmax

_ACTS = {"relu": (lambda a: np.maximum(a, 0, out=a), lambda h: h > 0),
         "tanh": (lambda a: np.tanh(a, out=a), lambda h: 1 - h * h)}


def _is_ids(x):
    return np.issubdtype(np.asarray(x).dtype, np.integer)


def projected(W, bias, x):
    """``x . W + bias`` for every step, time-major ``[T, B, width]``: a row lookup for
    ids, one matmul for one-hot rows. A fresh array the caller may overwrite."""
    x_tm = np.swapaxes(x, 0, 1)                       # [T, B] or [T, B, V]
    if _is_ids(x):
        xw = W[x_tm]                                  # row lookup, a copy
    else:
        xw = (x_tm.reshape(-1, x_tm.shape[-1]) @ W).reshape(*x_tm.shape[:2], -1)
    xw += bias
    return xw


def forward(params, x, h0, act="relu"):
    """Time-major hidden states ``[T, B, H]`` and logits ``[T*B, V]``."""
    fn, _ = _act(act)
    W_h = params["W_h"]
    xw = projected(params["W_x"], params["b_x"] + params["b_h"], x)
    h_tm1 = h0
    for t in range(len(xw)):                          # the recurrence, in place over xw
        xw[t] += h_tm1 @ W_h
        h_tm1 = fn(xw[t])
    hs = xw
    return hs, hs.reshape(-1, hs.shape[-1]) @ params["W_y"] + params["b_y"]


def _act(name):
    try:
        return _ACTS[name]
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; use one of {sorted(_ACTS)}") from None


def _target_ids(y):
    y_tm = np.swapaxes(y, 0, 1)
    return (y_tm if _is_ids(y) else y_tm.argmax(axis=-1)).reshape(-1)


def loss_and_grads(params, x, y, h0, act="relu"):
    """Forward and BPTT for a batch: ``(error, grads)`` with ``error`` a float."""
    _, act_grad = _act(act)
    hs, logits = forward(params, x, h0, act)
    error, dlogits = softmax_error_grad(logits, y, len(x))
    n_steps, _, n_hidden = hs.shape
    hs2d = hs.reshape(-1, n_hidden)
    dh_out = (dlogits @ params["W_y"].T).reshape(hs.shape)
    dpre, dh_next, W_hT = dh_out, np.zeros_like(h0), params["W_h"].T
    for t in reversed(range(n_steps)):                # BPTT, in place over dh_out
        dpre[t] += dh_next
        dpre[t] *= act_grad(hs[t])
        dh_next = dpre[t] @ W_hT
    dpre2d = dpre.reshape(-1, n_hidden)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(-1, n_hidden)
    db = dpre2d.sum(axis=0)
    grads = {"W_h": h_prev.T @ dpre2d, "b_h": db, "W_x": _input_grad(params, x, dpre2d),
             "b_x": db.copy(), "W_y": hs2d.T @ dlogits, "b_y": dlogits.sum(axis=0)}
    return float(error), grads


def softmax_error_grad(logits, y, batch):
    """``(error, d error / d logits)`` of the summed cross-entropy over ``batch``
    sequences; ``logits`` ``[T*B, V]`` time-major, overwritten by the gradient."""
    rows, ids = np.arange(len(logits)), _target_ids(y)
    logits -= logits.max(axis=1, keepdims=True)       # stable softmax, in place
    probs = np.exp(logits, out=logits)
    probs /= probs.sum(axis=1, keepdims=True)
    error = -np.log(probs[rows, ids]).sum() / batch
    probs[rows, ids] -= 1
    probs /= batch
    return float(error), probs


def _input_grad(params, x, dpre2d, name="W_x"):
    """Gradient of the input weights ``params[name]`` from ``d pre-activation`` rows."""
    x_tm = np.swapaxes(x, 0, 1)
    if not _is_ids(x):
        return x_tm.reshape(-1, x_tm.shape[-1]).T @ dpre2d
    dW_x = np.zeros_like(params[name])
    np.add.at(dW_x, x_tm.reshape(-1), dpre2d)         # a repeated id must accumulate
    return dW_x


def sgd_(params, grads, lr):
    """``w -= lr * g`` in place for every parameter (the benchmark's update)."""
    for name, g in grads.items():
        g *= lr
        params[name] -= g


def train_step(params, x, y, h0, lr, act="relu"):
    """One in-place SGD step; returns the error before it."""
    error, grads = loss_and_grads(params, x, y, h0, act)
    sgd_(params, grads, params["W_h"].dtype.type(lr))
    return error


def generate_step(params, x_id, h_tm1, act="relu"):
    """One step of generation: ``(probs [V], h_t [H])`` after character ``x_id``."""
    h_t = _act(act)[0](params["W_x"][x_id] + params["b_x"] + params["b_h"] + h_tm1 @ params["W_h"])
    return softmax(h_t @ params["W_y"] + params["b_y"]), h_t
