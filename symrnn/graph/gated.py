"""Gated recurrent cells as pure step functions (GRU and LSTM).

Neither creates variables or compiles anything. The cells take the input projection ``xw_t = x_t . W + b``
already done for every step before the loop (one big matmul instead of T
small ones), with the gates concatenated in Keras 1 order: GRU ``(z, r, h)``
in ``3H`` columns, LSTM ``(i, f, c, o)`` in ``4H`` columns. Their signature is
the ``Recurrent`` layer's contract ``step(xw_t, *states_tm1, *recurrent_params)``:

- :func:`gru_step` ``(xw_t, h_tm1, U) -> h_t``
- :func:`lstm_step` ``(xw_t, h_tm1, c_tm1, U) -> [h_t, c_t]``

>>> gru_param_count(86, 256)
263424
>>> lstm_param_count(64, 64)
33024
>>> lstm_bias_init(2).tolist()
[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
"""
import numpy as np
import pytensor.tensor as pt

from ..errors import ConfigError
from .cells import activation

GRU_GATES = ("z", "r", "h")        # Keras 1 column order of W, U and b
LSTM_GATES = ("i", "f", "c", "o")  # Keras 1 column order of W, U and b

# With ``with_gates=True`` a step returns, after its states, the gate activations a
# loop can keep for the backward pass (named in symrnn.graph.cellrecords' ``saved``):
# PyTensor's scan gradient swaps any recomputation of a step output (such as the
# ``sigmoid(a)`` that sigmoid's gradient rebuilds) for the saved value, so the
# backward loop no longer recomputes the step's matmuls and activations.


def _gate_slice(a, k, units):
    """Columns of gate number ``k`` in a gate-concatenated last axis."""
    return a[..., k * units:(k + 1) * units]


def gru_step(xw_t, h_tm1, U, act="tanh", inner_act="hard_sigmoid", h_in=None):
    """One Keras 1 GRU step.

    Parameters
    ----------
    xw_t : tensor (..., 3H)
        ``x_t . W + b`` for the gates in order (z, r, h).
    h_tm1 : tensor (..., H)
    U : tensor (H, 3H)
        Recurrent weights, same gate order.
    act, inner_act : str or callable
        Candidate activation and gate activation (Keras 1 defaults: tanh,
        hard_sigmoid).
    h_in : tensor (..., H), optional
        ``h_tm1`` as the recurrent weights see it (e.g. with recurrent dropout
        applied); the blend with ``z`` always uses the plain ``h_tm1``.

    Returns
    -------
    h_t : tensor (..., H)
        ``z * h_tm1 + (1 - z) * act(x_h + (r * h_tm1) . U_h)``.
    """
    return gru_step_split(xw_t, h_tm1, *gru_split_weights(U), act, inner_act, h_in)


def gru_split_weights(U):
    """``(U_zr, U_h)``: the recurrent weights' ``[z, r]`` columns and ``h`` columns."""
    units = U.shape[0]
    return U[:, :2 * units], U[:, 2 * units:]


def gru_step_split(xw_t, h_tm1, U_zr, U_h, act="tanh", inner_act="hard_sigmoid", h_in=None,
                   with_gates=False):
    """:func:`gru_step` with ``U`` given as ``(U_zr, U_h)`` (:func:`gru_split_weights`).

    Inside a loop, pass the two blocks as the loop's non-sequences, sliced
    once outside it. If the step slices ``U`` itself, the gradient of ``U``
    becomes an increment of a zero ``[H, 3H]`` matrix at every step, and
    PyTensor cannot move it out of the loop. With the blocks passed in, each
    block's gradient is a plain product, and PyTensor moves it out of the
    loop: one GEMM over all steps.

    ``with_gates=True`` returns ``[h_t, z, r, hh]``: the GRU record's ``saved`` gates
    (:mod:`symrnn.graph.cellrecords`).
    """
    act, inner_act = activation(act), activation(inner_act)
    units = U_h.shape[0]
    h_in = h_tm1 if h_in is None else h_in
    hu = pt.dot(h_in, U_zr)  # z and r see the same h: one matmul for both
    z = inner_act(_gate_slice(xw_t, 0, units) + _gate_slice(hu, 0, units))
    r = inner_act(_gate_slice(xw_t, 1, units) + _gate_slice(hu, 1, units))
    hh = act(_gate_slice(xw_t, 2, units) + pt.dot(r * h_in, U_h))
    h_t = z * h_tm1 + (1 - z) * hh
    return [h_t, z, r, hh] if with_gates else h_t


def lstm_step(xw_t, h_tm1, c_tm1, U, act="tanh", inner_act="hard_sigmoid", with_gates=False):
    """One Keras 1 LSTM step; returns ``[h_t, c_t]``.

    ``xw_t`` is ``x_t . W + b`` for the gates in order (i, f, c, o), shape
    (..., 4H); ``U`` is (H, 4H). ``c_t = f * c_tm1 + i * act(x_c + h_tm1 . U_c)``
    and ``h_t = o * act(c_t)``. ``with_gates=True`` returns
    ``[h_t, c_t, i, f, g, o, act(c_t)]`` (``g`` the candidate): the LSTM record's
    ``saved`` gates (:mod:`symrnn.graph.cellrecords`).
    """
    act, inner_act = activation(act), activation(inner_act)
    units = U.shape[0]
    a = xw_t + pt.dot(h_tm1, U)  # all four pre-activations in one matmul
    i = inner_act(_gate_slice(a, 0, units))
    f = inner_act(_gate_slice(a, 1, units))
    g = act(_gate_slice(a, 2, units))
    c_t = f * c_tm1 + i * g
    o = inner_act(_gate_slice(a, 3, units))
    act_c = act(c_t)
    return [o * act_c, c_t, i, f, g, o, act_c] if with_gates else [o * act_c, c_t]


def _check_sizes(input_dim, units):
    for name, value in (("input_dim", input_dim), ("units", units)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")


def _gated_shapes(input_dim, units, n_gates):
    _check_sizes(input_dim, units)
    width = n_gates * units
    return {"W": (input_dim, width), "U": (units, width), "b": (width,)}


def gru_param_shapes(input_dim, units):
    """Shapes of the Keras GRU weights: ``{"W": (in, 3H), "U": (H, 3H), "b": (3H,)}``."""
    return _gated_shapes(input_dim, units, len(GRU_GATES))


def lstm_param_shapes(input_dim, units):
    """Shapes of the Keras LSTM weights: ``{"W": (in, 4H), "U": (H, 4H), "b": (4H,)}``."""
    return _gated_shapes(input_dim, units, len(LSTM_GATES))


def gru_param_count(input_dim, units):
    """``3 * (in*H + H*H + H)``, what Keras' ``summary()`` prints for a GRU."""
    _check_sizes(input_dim, units)
    return 3 * (input_dim * units + units * units + units)


def lstm_param_count(input_dim, units):
    """``4 * (in*H + H*H + H)``, what Keras' ``summary()`` prints for an LSTM."""
    _check_sizes(input_dim, units)
    return 4 * (input_dim * units + units * units + units)


def lstm_bias_init(units, dtype="float64"):
    """LSTM bias: zeros except 1 on the forget gate, so the cell remembers by default."""
    _check_sizes(1, units)
    b = np.zeros(len(LSTM_GATES) * units, dtype=dtype)
    b[units:2 * units] = 1.0  # forget gate is the second block (i, f, c, o)
    return b
