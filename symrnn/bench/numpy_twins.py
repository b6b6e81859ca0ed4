"""The benchmarked models by hand in numpy: forward, backward, SGD and one generation step.

Each function takes the model's weights keyed by role
(:func:`symrnn.bench.spec.twin_weights`) and the model's name, and computes
what the layer model of that name computes:

1. the input rows: ``E[ids]`` (an embedding lookup) for ``simplernn``, ``gru``
   and ``lstm``; one-hot rows of the ids for ``lesson`` (its ``OneHot`` layer);
2. ``xw = rows . W_x + b`` for every step in one matmul;
3. the recurrence (:mod:`symrnn.bench.numpy_cells`), from zero states;
4. logits ``hs . W_y + b_y`` for every step in one matmul, softmax, and the
   sparse cross-entropy averaged over all ``B * T`` characters (the CLI's
   default ``--loss mean``);
5. backward through the same steps, and SGD ``w -= lr * dw`` in place.

Work arrays are time-major; every matmul except the recurrence's runs once
per step over all ``B * T`` rows, and the arrays stay in the weights' dtype.

>>> import numpy as np
>>> from symrnn.bench.spec import compiled_model, twin_weights
>>> model = compiled_model(5, "lstm", hidden=4, seq_len=3, dtype="float64", backend="py")
>>> w = twin_weights(model)
>>> ids = np.array([[1, 2, 3], [0, 4, 4]])
>>> loss, grads = loss_and_grads(w, "lstm", ids, np.roll(ids, -1, axis=1))
>>> sorted(grads) == sorted(w), bool(0 < loss < 3)
(True, True)
"""
import numpy as np

from .numpy_cells import CELLS
from .spec import CELL, uses_embedding


def input_rows(weights, model, ids_tm):
    """Time-major input rows ``[T, B, F]`` of time-major ids ``[T, B]``."""
    if uses_embedding(model):
        return weights["E"][ids_tm]                      # a lookup: a fresh copy
    return np.eye(len(weights["W_x"]), dtype=weights["W_x"].dtype)[ids_tm]


def forward(weights, model, x):
    """``(logits [T*B, V], hs [T, B, H], rows [T, B, F], cell cache)`` for ids ``x [B, T]``."""
    rows = input_rows(weights, model, np.swapaxes(x, 0, 1))
    xw = (_flat(rows) @ weights["W_x"]).reshape(*rows.shape[:2], -1)
    xw += weights["b"]
    hs, cache = CELLS[CELL[model]].forward(xw, weights["W_h"])
    logits = _flat(hs) @ weights["W_y"]
    logits += weights["b_y"]
    return logits, hs, rows, cache


def _flat(a):
    return a.reshape(-1, a.shape[-1])


def mean_xent_grad(logits, targets_tm):
    """``(loss, d loss / d logits)``: sparse cross-entropy averaged over the rows of
    ``logits`` ``[N, V]`` (overwritten by the gradient) at time-major targets ``[T, B]``."""
    rows, ids = np.arange(len(logits)), targets_tm.reshape(-1)
    logits -= logits.max(axis=1, keepdims=True)          # a stable softmax, in place
    probs = np.exp(logits, out=logits)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, ids]).mean()
    probs[rows, ids] -= 1
    probs /= len(probs)
    return float(loss), probs


def loss_and_grads(weights, model, x, y):
    """The loss of ids ``x`` against targets ``y`` (both ``[B, T]``) and every weight's
    gradient, keyed like ``weights``."""
    logits, hs, rows, cache = forward(weights, model, x)
    loss, dlogits = mean_xent_grad(logits, np.swapaxes(y, 0, 1))
    dh_out = (dlogits @ weights["W_y"].T).reshape(hs.shape)
    dxw, dW_h = CELLS[CELL[model]].backward(dh_out, hs, cache, weights["W_h"])
    dxw2d, rows2d = _flat(dxw), _flat(rows)
    grads = {"W_x": rows2d.T @ dxw2d, "W_h": dW_h, "b": dxw2d.sum(axis=0),
             "W_y": _flat(hs).T @ dlogits, "b_y": dlogits.sum(axis=0)}
    if uses_embedding(model):
        grads["E"] = np.zeros_like(weights["E"])
        # a repeated id must accumulate its rows' gradients
        np.add.at(grads["E"], np.swapaxes(x, 0, 1).reshape(-1), dxw2d @ weights["W_x"].T)
    return loss, grads


def sgd_(weights, grads, lr):
    """``w -= lr * g`` in place for every weight."""
    for role, g in grads.items():
        g *= lr
        weights[role] -= g


def train_step(weights, model, x, y, lr):
    """One in-place SGD step on ids ``x`` and targets ``y``; returns the loss before it."""
    loss, grads = loss_and_grads(weights, model, x, y)
    sgd_(weights, grads, weights["W_h"].dtype.type(lr))
    return loss


def zero_states(weights, model):
    """Generation's starting states: ``[h]`` (or ``[h, c]`` for an LSTM), each ``[1, H]``."""
    zeros = np.zeros((1, len(weights["W_h"])), weights["W_h"].dtype)
    return [zeros] * CELLS[CELL[model]].n_states


def generate_step(weights, model, x_id, states):
    """One character: ``(next-character probabilities [V], new states)`` after ``x_id``."""
    row = weights["E"][x_id] @ weights["W_x"] if uses_embedding(model) else weights["W_x"][x_id]
    states = CELLS[CELL[model]].step((row + weights["b"])[None], states, weights["W_h"])
    logits = states[0][0] @ weights["W_y"] + weights["b_y"]
    probs = np.exp(logits - logits.max())
    return probs / probs.sum(), states
