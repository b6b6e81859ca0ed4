"""The recurrences of the benchmarked models, forward and backward by hand in numpy.

Each cell runs over a whole batch, time-major, from zero states (what the
layer models start from), with the input projection ``xw = x . W_x + b``
already done for every step: ``xw`` is ``[T, B, gates * H]`` in Keras gate
order. Only the recurrent matmul stays inside the time loop.

- ``forward(xw, W_h) -> (hs [T, B, H], cache)``
- ``backward(dh_out, hs, cache, W_h) -> (dxw [T, B, gates * H], dW_h)``, where
  ``dh_out`` is the loss's gradient with respect to every ``h_t`` from the
  layers above (the recurrence adds what flows back through later steps).
  ``xw`` and ``dh_out`` are work arrays: a cell may overwrite them.
- ``step(xw_t, states_tm1, W_h) -> states_t``: one step for generation.

The maths is :mod:`symrnn.graph.cells` and :mod:`symrnn.graph.gated` with
the CLI's activations: relu (simple RNN), tanh candidates and logistic
sigmoid gates (GRU, LSTM).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> xw, W_h = rng.normal(size=(3, 2, 16)), rng.normal(size=(4, 16))   # 4 gates, H = 4
>>> hs, cache = CELLS["lstm"].forward(xw, W_h)
>>> dxw, dW_h = CELLS["lstm"].backward(np.ones_like(hs), hs, cache, W_h)
>>> hs.shape, dxw.shape, dW_h.shape
((3, 2, 4), (3, 2, 16), (4, 16))
"""
from types import SimpleNamespace

import numpy as np

from ..graph.cellrecords import CELLS as RECORDS


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _flat(a):
    return a.reshape(-1, a.shape[-1])


def _previous(hs):
    """``h_tm1`` for every step: zeros, then ``hs[:-1]``."""
    return np.concatenate([np.zeros_like(hs[:1]), hs[:-1]])


# ------------------------------------------------------------------ simple (relu)

def simple_step(xw_t, states_tm1, W_h):
    [h_tm1] = states_tm1
    return [np.maximum(xw_t + h_tm1 @ W_h, 0)]


def simple_forward(xw, W_h):
    """``h_t = relu(xw_t + h_tm1 . W_h)``, in place over ``xw``."""
    hs, h_tm1 = xw, np.zeros_like(xw[0])
    for t in range(len(hs)):
        hs[t] += h_tm1 @ W_h
        h_tm1 = np.maximum(hs[t], 0, out=hs[t])
    return hs, None


def simple_backward(dh_out, hs, cache, W_h):
    dpre, dh_next, W_h_T = dh_out, np.zeros_like(hs[0]), W_h.T   # in place over dh_out
    for t in reversed(range(len(hs))):
        dpre[t] += dh_next
        dpre[t] *= hs[t] > 0          # relu's mask, read off its output
        dh_next = dpre[t] @ W_h_T
    return dpre, _flat(_previous(hs)).T @ _flat(dpre)


# -------------------------------------------------------------------------- GRU

def gru_gates(xw_t, h_tm1, W_h):
    """``(h_t, (z, r, hh))``: Keras' GRU, ``h_t = z h_tm1 + (1 - z) tanh(x_h + (r h_tm1) . U_h)``."""
    units = len(W_h)
    zr = sigmoid(xw_t[:, :2 * units] + h_tm1 @ W_h[:, :2 * units])
    z, r = zr[:, :units], zr[:, units:]
    hh = np.tanh(xw_t[:, 2 * units:] + (r * h_tm1) @ W_h[:, 2 * units:])
    return z * h_tm1 + (1 - z) * hh, (z, r, hh)


def gru_step(xw_t, states_tm1, W_h):
    return [gru_gates(xw_t, states_tm1[0], W_h)[0]]


def gru_forward(xw, W_h):
    h_tm1, hs, gates = np.zeros_like(xw[0, :, :len(W_h)]), [], []
    for xw_t in xw:
        h_tm1, saved = gru_gates(xw_t, h_tm1, W_h)
        hs.append(h_tm1)
        gates.append(saved)
    return np.array(hs), gates


def gru_backward(dh_out, hs, gates, W_h):
    units = len(W_h)
    U_zr_T, U_h_T = W_h[:, :2 * units].T, W_h[:, 2 * units:].T
    h_prev = _previous(hs)
    dxw, dh_next = np.empty((*hs.shape[:2], 3 * units), hs.dtype), np.zeros_like(hs[0])
    for t in reversed(range(len(hs))):
        z, r, hh = gates[t]
        dh = dh_out[t] + dh_next
        da_h = dh * (1 - z) * (1 - hh * hh)
        d_rh = da_h @ U_h_T
        dxw[t, :, :units] = dh * (h_prev[t] - hh) * z * (1 - z)
        dxw[t, :, units:2 * units] = d_rh * h_prev[t] * r * (1 - r)
        dxw[t, :, 2 * units:] = da_h
        dh_next = dh * z + d_rh * r + dxw[t, :, :2 * units] @ U_zr_T
    rh = np.array([saved[1] for saved in gates]) * h_prev
    dW_h = np.concatenate([_flat(h_prev).T @ _flat(dxw[:, :, :2 * units]),
                           _flat(rh).T @ _flat(dxw[:, :, 2 * units:])], axis=1)
    return dxw, dW_h


# ------------------------------------------------------------------------- LSTM

def lstm_gates(xw_t, h_tm1, c_tm1, W_h):
    """``(h_t, c_t, (i, f, g, o, tanh(c_t), c_tm1))``: Keras' LSTM, gates (i, f, c, o)."""
    units = len(W_h)
    a = xw_t + h_tm1 @ W_h
    i, f, o = (sigmoid(a[:, k * units:(k + 1) * units]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * units:3 * units])
    c_t = f * c_tm1 + i * g
    tanh_c = np.tanh(c_t)
    return o * tanh_c, c_t, (i, f, g, o, tanh_c, c_tm1)


def lstm_step(xw_t, states_tm1, W_h):
    return list(lstm_gates(xw_t, *states_tm1, W_h)[:2])


def lstm_forward(xw, W_h):
    h_tm1 = c_tm1 = np.zeros_like(xw[0, :, :len(W_h)])
    hs, gates = [], []
    for xw_t in xw:
        h_tm1, c_tm1, saved = lstm_gates(xw_t, h_tm1, c_tm1, W_h)
        hs.append(h_tm1)
        gates.append(saved)
    return np.array(hs), gates


def lstm_backward(dh_out, hs, gates, W_h):
    units = len(W_h)
    dxw = np.empty((*hs.shape[:2], 4 * units), hs.dtype)
    dh_next, dc_next, W_h_T = np.zeros_like(hs[0]), np.zeros_like(hs[0]), W_h.T
    for t in reversed(range(len(hs))):
        i, f, g, o, tanh_c, c_prev = gates[t]
        dh = dh_out[t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
        dxw[t, :, :units] = dc * g * i * (1 - i)
        dxw[t, :, units:2 * units] = dc * c_prev * f * (1 - f)
        dxw[t, :, 2 * units:3 * units] = dc * i * (1 - g * g)
        dxw[t, :, 3 * units:] = dh * tanh_c * o * (1 - o)
        dc_next = dc * f
        dh_next = dxw[t] @ W_h_T
    return dxw, _flat(_previous(hs)).T @ _flat(dxw)


def _twin(name, forward, backward, step, act, inner_act=None):
    return SimpleNamespace(forward=forward, backward=backward, step=step, act=act,
                           inner_act=inner_act, n_states=RECORDS[name].n_states)


#: Per cell of :data:`symrnn.graph.cellrecords.CELLS` (the same names, the same gate
#: layout): ``forward``, ``backward``, ``step``, the activations they compute (``act``,
#: ``inner_act``) and ``n_states`` (states carried, the record's).
CELLS = {
    "simple": _twin("simple", simple_forward, simple_backward, simple_step, "relu"),
    "gru": _twin("gru", gru_forward, gru_backward, gru_step, "tanh", "sigmoid"),
    "lstm": _twin("lstm", lstm_forward, lstm_backward, lstm_step, "tanh", "sigmoid"),
}
