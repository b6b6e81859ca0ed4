"""By-hand numpy GRU and LSTM for the benchmark: :mod:`symrnn.bench.numpy_twins` for gated cells.

These compute what :class:`symrnn.bench.fastgated.FastGated` computes: the same
weights (:data:`symrnn.bench.fastgated.PARAM_NAMES`), the same Keras 1 gate order,
``tanh`` candidates and ``sigmoid`` gates. The data layout is the same too:
batch-major data, time-major work arrays, and every matmul outside the time
loop except the recurrence. Like the simple RNN's twin, they exist to be timed
and to be checked against ``pytensor.grad`` (``tests/test_bench_gated.py``).
Nothing in the library trains with them.

>>> import numpy as np
>>> from symrnn.bench.fastgated import gated_params
>>> p = gated_params(5, 4, "gru", np.random.default_rng(0))
>>> ids = np.array([[1, 2, 3], [0, 4, 4]])
>>> err, grads = loss_and_grads(p, ids, np.roll(ids, -1, axis=1), np.zeros((2, 4)), "gru")
>>> sorted(grads) == sorted(p)
True
"""
import numpy as np

from ..lesson.numpy_rnn import softmax
from .fastgated import check_cell
from .numpy_twins import _input_grad, projected, sgd_, softmax_error_grad


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def gru_cell(xw_t, h_tm1, U):
    """One GRU step: ``h_t`` and what backprop needs ``(z, r, hh)``."""
    units = len(U)
    zr = sigmoid(xw_t[:, :2 * units] + h_tm1 @ U[:, :2 * units])
    z, r = zr[:, :units], zr[:, units:]
    hh = np.tanh(xw_t[:, 2 * units:] + (r * h_tm1) @ U[:, 2 * units:])
    return z * h_tm1 + (1 - z) * hh, (z, r, hh)


def lstm_cell(xw_t, h_tm1, c_tm1, U):
    """One LSTM step: ``(h_t, c_t)`` and what backprop needs ``(i, f, g, o, tanh(c_t), c_tm1)``."""
    units = len(U)
    a = xw_t + h_tm1 @ U
    i, f, o = (sigmoid(a[:, k * units:(k + 1) * units]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * units:3 * units])
    c_t = f * c_tm1 + i * g
    tanh_c = np.tanh(c_t)
    return o * tanh_c, c_t, (i, f, g, o, tanh_c, c_tm1)


def forward(params, x, h0, cell):
    """Hidden states ``[T, B, H]``, logits ``[T*B, V]`` and the per-step caches."""
    xw, U = projected(params["W"], params["b"], x), params["U"]
    states, hs, caches = [h0] + ([np.zeros_like(h0)] if check_cell(cell) == "lstm" else []), [], []
    for t in range(len(xw)):
        *states, cache = (gru_cell if cell == "gru" else lstm_cell)(xw[t], *states, U)
        hs.append(states[0])
        caches.append(cache)
    hs = np.array(hs)
    return hs, hs.reshape(-1, hs.shape[-1]) @ params["W_y"] + params["b_y"], caches


def _gru_backward(dh_out, hs, h0, caches, U):
    """``d pre-activation [T, B, 3H]`` and ``dU`` from ``d error / d h_t`` of the output layer."""
    units = len(U)
    U_zr_T, U_h_T = U[:, :2 * units].T, U[:, 2 * units:].T
    h_prev = np.concatenate([h0[None], hs[:-1]])
    dxw, dh_next = np.empty((*hs.shape[:2], 3 * units), hs.dtype), np.zeros_like(h0)
    for t in reversed(range(len(hs))):
        z, r, hh = caches[t]
        dh = dh_out[t] + dh_next
        da_h = dh * (1 - z) * (1 - hh * hh)
        d_rh = da_h @ U_h_T
        dxw[t, :, :units] = dh * (h_prev[t] - hh) * z * (1 - z)
        dxw[t, :, units:2 * units] = d_rh * h_prev[t] * r * (1 - r)
        dxw[t, :, 2 * units:] = da_h
        dh_next = dh * z + d_rh * r + dxw[t, :, :2 * units] @ U_zr_T
    rh = np.array([cache[1] for cache in caches]) * h_prev
    flat = lambda a: a.reshape(-1, a.shape[-1])
    dU = np.concatenate([flat(h_prev).T @ flat(dxw[:, :, :2 * units]),
                         flat(rh).T @ flat(dxw[:, :, 2 * units:])], axis=1)
    return dxw, dU


def _lstm_backward(dh_out, hs, h0, caches, U):
    """``d pre-activation [T, B, 4H]`` and ``dU`` for the LSTM."""
    units = len(U)
    h_prev = np.concatenate([h0[None], hs[:-1]])
    dxw = np.empty((*hs.shape[:2], 4 * units), hs.dtype)
    dh_next, dc_next, U_T = np.zeros_like(h0), np.zeros_like(h0), U.T
    for t in reversed(range(len(hs))):
        i, f, g, o, tanh_c, c_prev = caches[t]
        dh = dh_out[t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
        dxw[t, :, :units] = dc * g * i * (1 - i)
        dxw[t, :, units:2 * units] = dc * c_prev * f * (1 - f)
        dxw[t, :, 2 * units:3 * units] = dc * i * (1 - g * g)
        dxw[t, :, 3 * units:] = dh * tanh_c * o * (1 - o)
        dc_next = dc * f
        dh_next = dxw[t] @ U_T
    flat = lambda a: a.reshape(-1, a.shape[-1])
    return dxw, flat(h_prev).T @ flat(dxw)


BACKWARD = {"gru": _gru_backward, "lstm": _lstm_backward}


def loss_and_grads(params, x, y, h0, cell):
    """Forward and BPTT for a batch: ``(error, grads)``, grads keyed like ``params``."""
    hs, logits, caches = forward(params, x, h0, cell)
    error, dlogits = softmax_error_grad(logits, y, len(x))
    dh_out = (dlogits @ params["W_y"].T).reshape(hs.shape)
    dxw, dU = BACKWARD[cell](dh_out, hs, h0, caches, params["U"])
    dxw2d = dxw.reshape(-1, dxw.shape[-1])
    grads = {"W": _input_grad(params, x, dxw2d, name="W"), "U": dU, "b": dxw2d.sum(axis=0),
             "W_y": hs.reshape(-1, hs.shape[-1]).T @ dlogits, "b_y": dlogits.sum(axis=0)}
    return error, grads


def train_step(params, x, y, h0, lr, cell):
    """One in-place SGD step; returns the error before it."""
    error, grads = loss_and_grads(params, x, y, h0, cell)
    sgd_(params, grads, params["U"].dtype.type(lr))
    return error


def generate_step(params, x_id, states, cell):
    """One step of generation: ``(probs [V], new states)``, states ``[h]`` or ``[h, c]`` each [H]."""
    xw_t = (params["W"][x_id] + params["b"])[None]
    *states, _ = (gru_cell if cell == "gru" else lstm_cell)(xw_t, *(s[None] for s in states),
                                                             params["U"])
    return softmax(states[0][0] @ params["W_y"] + params["b_y"]), [s[0] for s in states]
