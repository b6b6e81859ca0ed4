"""Fused Numba kernels for the softmax cross-entropies (sparse and one-hot) and their gradients.

:func:`forward_kernel` runs :class:`symrnn.graph.losses.SparseSoftmaxXent`:
``(z [N, V], ids [N]) -> (loss [N], probs [N, V])``, one pass per row (the
row's max, ``exp(z - max)`` written into ``probs`` while summing, then the
scale by ``1 / sum`` and ``loss = log(sum) + max - z[ids]``); the graph it
replaces makes a pass over ``[N, V]`` for each of the max, the exp, the sum
and the division, and a gather. :func:`backward_kernel` runs
:class:`~symrnn.graph.losses.SparseSoftmaxXentGrad`: ``(probs, ids, g_loss)
-> dz = g_loss[:, None] * probs``, less ``g_loss`` at each row's target, in
one pass.

The one-hot (or soft-target) form, :class:`~symrnn.graph.losses.SoftmaxXent`
and :class:`~symrnn.graph.losses.SoftmaxXentGrad`, has :func:`onehot_forward_kernel`
(the same pass, ``loss = sum_j y_j (log(sum) - (z_j - max))`` summed while scaling
the row) and :func:`onehot_backward_kernel` (``dz = g_loss * (probs * sum(y) - y)``).
Loss and gradient alone (float32, 2560 rows of 86, one-hot targets): 0.53 ms, against
1.1 ms for the ops' graphs on Numba and 2.2 ms for ``-(y * log_softmax(z)).sum(-1)``
and PyTensor's own gradient of it.

All check every shape (and the sparse ones every id, ``0 <= id < V``) and raise
``ValueError`` before writing any memory. As the recurrence kernels
(:mod:`symrnn.graph.numba.kernels`), each is a body compiled on its own for
C-ordered arrays (``*_body``, :mod:`.bodies`: one signature per dtype, which a
helper process can compile ahead) behind an adapter that hands it C-ordered
copies (no copy for C arrays); the bodies address ``z``, ``probs`` and ``y``
through flat 1-d views and compile with ``error_model="numpy"``. Arithmetic is
in the dtype of ``z`` (the float32 graph also sums its exps in float32).

The exp: float64 calls ``np.exp`` (the graph's, to rounding). float32 uses
:func:`exp32`, Cephes' ``expf`` in plain arithmetic (about 1 ulp), with the
power of two built from selects rather than from bits: Numba calls libm's
scalar ``expf``, which keeps LLVM from vectorising the row loop, and the exp
of ``N * V`` logits was the whole cost of the graph's and a scalar kernel's
pass alike (about 1 ms for 2560 rows of 86 on one core).

This module imports no Numba: the kernels are jitted when built
(``compat.numba_njit`` at call time), so :mod:`.dispatch` imports it freely.
"""
import inspect
from functools import cache

import numpy as np

from ... import compat
from .bodies import Body, adapter, keep_source
from .keys import xent_cache_key

keep_source(__file__)   # the kernel bodies are generated from it

F32 = np.float32
LOG2E32 = F32(1.44269504088896341)
LN2_HI32, LN2_LO32 = F32(0.693359375), F32(-2.12194440e-4)   # Cephes' split of log(2)
EXP32_POLY = tuple(F32(c) for c in (   # r^7 ... r^2 coefficients over r^2, Cephes expf
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1))
P5, P4, P3, P2, P1, P0 = EXP32_POLY
EXP32_LOWEST = F32(-87.0)   # below: 0 (expf's results there are below 2**-125)
HALF32, ONE32, ZERO32 = F32(0.5), F32(1), F32(0)
# 2**-k for k = 64, 32, ..., 1: 2**-n, 0 <= n <= 126, is a product of some of them
POW2_STEPS = tuple((F32(k), F32(2.0 ** -k)) for k in (64, 32, 16, 8, 4, 2, 1))
(K64, S64), (K32, S32), (K16, S16), (K8, S8), (K4, S4), (K2, S2), (K1, S1) = POW2_STEPS


def exp32(y):
    """float32 ``exp(y)`` for ``y <= 0`` (a logit less the row's max), in plain arithmetic.

    ``y = n log 2 + r`` with ``|r| <= log(2) / 2``; ``exp(r)`` is Cephes' degree-7
    polynomial and ``2**n`` a product of selected powers of two (exact). 0 below
    ``EXP32_LOWEST`` (and at ``-inf``), NaN for NaN. Every branch is a select.
    """
    n = np.floor(y * LOG2E32 + HALF32)
    r = (y - n * LN2_HI32) - n * LN2_LO32
    p = (((((P5 * r + P4) * r + P3) * r + P2) * r + P1) * r + P0) * (r * r) + r + ONE32
    k = -n
    scale = ONE32
    scale *= S64 if k >= K64 else ONE32
    k -= K64 if k >= K64 else ZERO32
    scale *= S32 if k >= K32 else ONE32
    k -= K32 if k >= K32 else ZERO32
    scale *= S16 if k >= K16 else ONE32
    k -= K16 if k >= K16 else ZERO32
    scale *= S8 if k >= K8 else ONE32
    k -= K8 if k >= K8 else ZERO32
    scale *= S4 if k >= K4 else ONE32
    k -= K4 if k >= K4 else ZERO32
    scale *= S2 if k >= K2 else ONE32
    k -= K2 if k >= K2 else ZERO32
    scale *= S1 if k >= K1 else ONE32
    return ZERO32 if y < EXP32_LOWEST else p * scale


def exp_for(dtype):
    """The kernels' scalar exp for ``dtype``: :func:`exp32` for float32, else ``np.exp``."""
    if np.dtype(dtype) == np.float32:
        return compat.numba_njit(exp32, inline="always")
    return compat.numba_njit(lambda y: np.exp(y), inline="always")


def _check_ids(ids, N, V):
    """``ValueError`` unless ``ids`` is ``[N]`` with every id in ``[0, V)``."""
    if ids.shape[0] != N:
        raise ValueError("sparse softmax cross-entropy kernel: ids must be [N], N from z's rows")
    for i in range(N):
        if (ids[i] < 0) | (ids[i] >= V):
            raise ValueError("sparse softmax cross-entropy kernel: an id is outside [0, V)")


def softmax_row_for(dtype):
    """An inlined ``softmax_row(x, probs, o, V) -> (m, total)``: the softmax of the row
    ``x[o:o+V]`` written to ``probs[o:o+V]``, with the row's max ``m`` and the sum of
    ``exp(x - m)`` floored at 1 (the graphs' ``maximum(sum, 1)``; NaN stays NaN)."""
    zero, one, exp = np.dtype(dtype).type(0), np.dtype(dtype).type(1), exp_for(dtype)

    def softmax_row(x, probs, o, V):
        m = x[o]
        for j in range(1, V):
            v = x[o + j]
            m = v if v > m else m   # noqa: FURB136 (a select Numba vectorises; max() is a call)
        total = zero
        for j in range(V):
            e = exp(x[o + j] - m)
            probs[o + j] = e
            total += e
        total = one if total < one else total   # noqa: FURB136 (maximum(sum, 1); NaN stays)
        for j in range(V):
            probs[o + j] = probs[o + j] / total
        return m, total
    return compat.numba_njit(softmax_row, inline="always", error_model="numpy")


def forward_kernel(dtype, ids_dtype="int64"):
    """Jitted ``(z [N, V], ids [N]) -> (loss [N], probs [N, V])`` in float ``dtype``."""
    return _adapter("forward", forward_body(str(np.dtype(dtype)), str(np.dtype(ids_dtype))))


@cache
def forward_body(dtype, ids_dtype):
    """The :class:`~.bodies.Body` of :func:`forward_kernel` (dtypes by name)."""
    dtype = np.dtype(dtype)
    check_ids, softmax_row = compat.numba_njit(_check_ids, inline="always"), softmax_row_for(dtype)

    def forward(z, ids):
        N, V = z.shape
        check_ids(ids, N, V)
        x = np.ascontiguousarray(z).reshape(N * V)
        loss, probs = np.empty(N, dtype), np.empty(N * V, dtype)
        for i in range(N):
            o = i * V
            m, total = softmax_row(x, probs, o, V)
            loss[i] = np.log(total) + m - x[o + ids[i]]
        return loss, probs.reshape((N, V))
    return Body.of(forward, xent_cache_key("forward-body", dtype, ids_dtype), (2, 1),
                   (dtype, ids_dtype))


def backward_kernel(dtype, ids_dtype="int64"):
    """Jitted ``(probs [N, V], ids [N], g_loss [N]) -> dz [N, V]`` in float ``dtype``."""
    return _adapter("backward", backward_body(str(np.dtype(dtype)), str(np.dtype(ids_dtype))))


@cache
def backward_body(dtype, ids_dtype):
    """The :class:`~.bodies.Body` of :func:`backward_kernel` (dtypes by name)."""
    dtype = np.dtype(dtype)
    check_ids = compat.numba_njit(_check_ids, inline="always")

    def backward(probs, ids, g_loss):
        N, V = probs.shape
        if g_loss.shape[0] != N:
            raise ValueError("sparse softmax cross-entropy kernel: g_loss must be [N], "
                             "N from probs' rows")
        check_ids(ids, N, V)
        p = np.ascontiguousarray(probs).reshape(N * V)
        dz = np.empty(N * V, dtype)
        for i in range(N):
            o, g = i * V, g_loss[i]
            for j in range(V):
                dz[o + j] = g * p[o + j]
            dz[o + ids[i]] -= g
        return dz.reshape((N, V))
    return Body.of(backward, xent_cache_key("backward-body", dtype, ids_dtype), (2, 1, 1),
                   (dtype, ids_dtype, dtype))


def _check_targets(y, N, V):
    """``ValueError`` unless the targets ``y`` are ``[N, V]``."""
    if (y.shape[0] != N) | (y.shape[1] != V):
        raise ValueError("softmax cross-entropy kernel: y must be [N, V], the shape of z "
                         "(or probs)")


def onehot_forward_kernel(dtype):
    """Jitted ``(z [N, V], y [N, V]) -> (loss [N], probs [N, V])`` in float ``dtype``."""
    return _adapter("forward", onehot_forward_body(str(np.dtype(dtype))))


@cache
def onehot_forward_body(dtype):
    """The :class:`~.bodies.Body` of :func:`onehot_forward_kernel` (``dtype`` by name)."""
    dtype = np.dtype(dtype)
    check_targets = compat.numba_njit(_check_targets, inline="always")
    softmax_row = softmax_row_for(dtype)

    def forward(z, y):
        N, V = z.shape
        check_targets(y, N, V)
        x = np.ascontiguousarray(z).reshape(N * V)
        t = np.ascontiguousarray(y).reshape(N * V)
        loss, probs = np.empty(N, dtype), np.empty(N * V, dtype)
        for i in range(N):
            o = i * V
            m, total = softmax_row(x, probs, o, V)
            log_total = np.log(total)
            acc = dtype.type(0)
            for j in range(V):
                acc += t[o + j] * (log_total - (x[o + j] - m))
            loss[i] = acc
        return loss, probs.reshape((N, V))
    return Body.of(forward, xent_cache_key("onehot_forward-body", dtype), (2, 2), dtype)


def onehot_backward_kernel(dtype):
    """Jitted ``(probs [N, V], y [N, V], g_loss [N]) -> dz [N, V]`` in float ``dtype``."""
    return _adapter("backward", onehot_backward_body(str(np.dtype(dtype))))


@cache
def onehot_backward_body(dtype):
    """The :class:`~.bodies.Body` of :func:`onehot_backward_kernel` (``dtype`` by name)."""
    dtype = np.dtype(dtype)
    check_targets = compat.numba_njit(_check_targets, inline="always")

    def backward(probs, y, g_loss):
        N, V = probs.shape
        if g_loss.shape[0] != N:
            raise ValueError("softmax cross-entropy kernel: g_loss must be [N], "
                             "N from probs' rows")
        check_targets(y, N, V)
        p = np.ascontiguousarray(probs).reshape(N * V)
        t = np.ascontiguousarray(y).reshape(N * V)
        dz = np.empty(N * V, dtype)
        for i in range(N):
            o, g = i * V, g_loss[i]
            mass = dtype.type(0)
            for j in range(V):
                mass += t[o + j]
            for j in range(V):
                dz[o + j] = g * (p[o + j] * mass - t[o + j])
        return dz.reshape((N, V))
    return Body.of(backward, xent_cache_key("onehot_backward-body", dtype), (2, 2, 1), dtype)


def _adapter(name, body):
    """The kernel PyTensor calls: ``body`` (a :class:`~.bodies.Body`) on C-ordered copies."""
    return adapter(name, body.function, list(inspect.signature(body.function.py_func).parameters))
