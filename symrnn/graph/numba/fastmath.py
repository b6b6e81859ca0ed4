"""Scalar activations, and their derivatives from their outputs, for the fused kernels.

:func:`activation` and :func:`derivative` return small Numba functions (inlined
into the kernels' gate loops) for a name of
:data:`symrnn.graph.recurrence.ACTIVATIONS` and a dtype. ``derivative(name)``
takes the activation's *output* ``y``: the backward kernels read the saved
outputs and never recompute a pre-activation.

float64 is exact (``np.tanh``, ``1 / (1 + exp(-x))``), so the kernels match
the graph to rounding. float32 uses a rational approximation of ``tanh``
(Eigen's clamped 13/6 polynomial ratio, plain arithmetic) and
``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``: Numba calls libm's scalar ``tanhf``
and ``expf``, which keep LLVM from vectorising the gate loops (a float32 loop
of ``np.tanh`` over 655k values took 15-21 ms against numpy's 0.4 ms), while
the approximation vectorises. Compiled (with fused multiply-adds), the
absolute errors are about 2.6e-7 for ``tanh`` and 1.5e-7 for ``sigmoid`` (a
few float32 roundings of values near 1). NaN propagates; ``tanh(+-inf)`` is
exactly +-1 and ``sigmoid(+-inf)`` exactly 1 or 0.

The approximations are plain Python too (scalar functions), so they also run
without Numba, where, without fused multiply-adds, rounding takes the error to
about 4e-7:

>>> import numpy as np
>>> x = np.linspace(-20, 20, 20_001, dtype="float32")
>>> approx = np.vectorize(tanh32, otypes=["float32"])(x)
>>> float(np.abs(approx.astype("float64") - np.tanh(x.astype("float64"))).max()) < 5e-7
True
>>> [float(tanh32(np.float32(v))) for v in (-np.inf, np.inf, np.nan)]
[-1.0, 1.0, nan]
"""
import numpy as np

from ...compat import numba_njit

F32 = np.float32
# Eigen's generic_fast_tanh_float: tanh(x) ~ x * P(x^2) / Q(x^2) on [-c, c], +-1 beyond.
TANH32_CLAMP = F32(7.90531110763549805)
TANH32_NUMERATOR = tuple(F32(a) for a in (  # x^13, x^11, ..., x^1
    -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
    1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))
TANH32_DENOMINATOR = tuple(F32(b) for b in (  # x^6, x^4, x^2, x^0
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))
A13, A11, A9, A7, A5, A3, A1 = TANH32_NUMERATOR
B6, B4, B2, B0 = TANH32_DENOMINATOR
HALF32, ONE32 = F32(0.5), F32(1)
TANH32_ONE = F32(9)   # float32 tanh(x) rounds to 1 from x = 9.01 on; the rational is 1 - 2e-7 at c


def tanh32(x):
    """float32 ``tanh`` of a float32 scalar, in plain arithmetic (``np.vectorize`` it for arrays).

    Rational on ``[-c, c]``; beyond ``|x| >= 9``, where float32 ``tanh`` rounds
    to exactly +-1, exactly +-1. Every branch is a select, so loops vectorise.
    """
    c = TANH32_CLAMP if x > TANH32_CLAMP else (-TANH32_CLAMP if x < -TANH32_CLAMP else x)
    c2 = c * c
    p = ((((((c2 * A13 + A11) * c2 + A9) * c2 + A7) * c2 + A5) * c2 + A3) * c2 + A1) * c
    q = ((c2 * B6 + B4) * c2 + B2) * c2 + B0
    y = p / q
    y = ONE32 if x >= TANH32_ONE else y
    return -ONE32 if x <= -TANH32_ONE else y


_cache = {}


def activation(name, dtype):
    """Numba ``f(x)`` for activation ``name`` in ``dtype`` (float32 fast, float64 exact)."""
    return _cached("activation", name, np.dtype(dtype))


def derivative(name, dtype):
    """Numba ``f'(x)`` written as a function of ``y = f(x)``."""
    return _cached("derivative", name, np.dtype(dtype))


def _cached(kind, name, dtype):
    # one Numba function per (kind, name, dtype) and process, so kernels share compiled code
    key = (kind, name, dtype.name)
    if key not in _cache:
        _cache[key] = numba_njit(_python_function(kind, name, dtype), inline="always")
    return _cache[key]


def _python_function(kind, name, dtype):
    if kind == "activation" and dtype == np.float32 and name in ("tanh", "sigmoid"):
        return tanh32 if name == "tanh" else _sigmoid32_calling(activation("tanh", dtype))
    return _exact_functions(dtype)[kind][name]


def _sigmoid32_calling(tanh):
    def sigmoid(x):   # sigmoid32, on the Numba tanh32
        return HALF32 + HALF32 * tanh(HALF32 * x)
    return sigmoid


def _exact_functions(dtype):
    zero, one = dtype.type(0), dtype.type(1)
    slope, offset = dtype.type(0.2), dtype.type(0.5)   # symrnn.graph.cells.hard_sigmoid, in dtype

    def tanh(x):
        return np.tanh(x)

    def sigmoid(x):
        return one / (one + np.exp(-x))

    def hard_sigmoid(x):
        y = x * slope + offset
        y = zero if y < zero else y
        return one if y > one else y

    def relu(x):
        return zero if x < zero else x

    def linear(x):
        return x

    activations = {"tanh": tanh, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid,
                   "relu": relu, "linear": linear}
    derivatives = {
        "tanh": lambda y: one - y * y,
        "sigmoid": lambda y: y * (one - y),
        "hard_sigmoid": lambda y: slope if zero < y < one else zero,
        "relu": lambda y: one if y > zero else zero,
        "linear": lambda y: one,
    }
    return {"activation": activations, "derivative": derivatives}
