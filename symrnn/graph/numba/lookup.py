"""Numba kernels for :class:`symrnn.graph.lookup.LookupProjection` and its gradient.

:func:`forward_kernel` computes ``xw = table[ids] . W + b`` (``[N, G]``) and
:func:`backward_kernel` its gradient ``(d table, d W, d b)`` from ``g = d xw``,
each one of two ways, chosen per call by the number of ids ``N`` against the
table's rows ``V``:

- ``N >= V``, the table: forward, ``P = table . W + b`` (``V`` rows), then
  each id's row of ``P``; backward, ``dP`` = the rows of ``g`` added up
  per id (``[V, G]``), then ``d table = dP . W^T``, ``d W = table^T . dP`` and
  ``d b`` the sum of ``dP``'s rows.
- ``N < V``, the rows: forward, the ids' rows of the table gathered into
  ``X`` (``[N, F]``), then ``X . W + b``; backward, ``d X = g . W^T`` added up
  per id into ``d table``, ``d W = X^T . g`` and ``d b`` the sum of ``g``'s rows.

Both are ``pytensor.grad`` of the graph, in a different order of sums (the
tests prove each equal to the graph in float64). The products are
:func:`symrnn.graph.numba.blas.matmul_for`'s (BLAS, no transposed copies).
Negative ids count from the end, as the graph's indexing does; an id out of
range raises ``IndexError``, and shapes that do not fit raise ``ValueError``,
before anything is written. As the other kernels (:mod:`.bodies`), each is a
body compiled on its own for C-ordered arrays, one signature per dtype and ids
dtype (a helper process can compile it ahead, :mod:`.precompile`), behind an
adapter that hands it C-ordered copies (none for C arrays).
"""
from functools import cache

import numpy as np

from ...compat import numba_njit
from . import bodies
from .blas import NOTRANS, TRANS, matmul_for
from .keys import lookup_cache_key

bodies.keep_source(__file__)   # the bodies are generated from it

PARAMETERS = ("table", "ids", "W", "b")


@numba_njit(inline="always")
def sizes(table, ids, W, b):
    """``(V, F, N, G)`` after checking the inputs fit each other and every id is a row."""
    V, F = table.shape
    N, G = ids.shape[0], W.shape[1]
    if W.shape[0] != F:
        raise ValueError("lookup projection kernel: W must be [F, G], F the table's columns")
    if b.shape[0] != G:
        raise ValueError("lookup projection kernel: b must be [G], G from W's columns")
    for n in range(N):
        if ids[n] < -V or ids[n] >= V:
            raise IndexError("lookup projection kernel: an id is out of range for the table's "
                             "rows (ids must be in [-V, V))")
    return V, F, N, G


@numba_njit(inline="always")
def row_of(i, V):
    """The table row of id ``i`` (negative ids from the end, as numpy indexes)."""
    return i + V if i < 0 else i


@numba_njit(inline="always")
def gather_rows(table, ids, out, V, width):
    """``out[n] = table[ids[n]]``, rows of ``width`` in flat arrays."""
    for n in range(ids.shape[0]):
        r = row_of(ids[n], V)
        src, dst = table[r * width:(r + 1) * width], out[n * width:(n + 1) * width]
        for k in range(width):
            dst[k] = src[k]


@numba_njit(inline="always")
def add_rows(rows, ids, out, V, width):
    """``out[ids[n]] += rows[n]``, rows of ``width`` in flat arrays (repeated ids add up)."""
    for n in range(ids.shape[0]):
        r = row_of(ids[n], V)
        src, dst = rows[n * width:(n + 1) * width], out[r * width:(r + 1) * width]
        for k in range(width):
            dst[k] += src[k]


@numba_njit(inline="always")
def add_to_rows(out, b, n_rows, width):
    """``out[r] += b`` for each of ``n_rows`` rows of ``width`` in a flat array."""
    for r in range(n_rows):
        dst = out[r * width:(r + 1) * width]
        for j in range(width):
            dst[j] += b[j]


def _numbers(dtype):
    """``(dtype, 1, 0, matmul)``: what both bodies close over."""
    dtype = np.dtype(dtype)
    return dtype, dtype.type(1), dtype.type(0), matmul_for(dtype)


@cache
def forward_body(dtype, ids_dtype):
    """The :class:`~.bodies.Body` of :func:`forward_kernel` (dtypes by name)."""
    dtype, one, zero, matmul = _numbers(dtype)

    def lookup_forward(table, ids, W, b):
        V, F, N, G = sizes(table, ids, W, b)
        t, w = table.reshape(V * F), W.reshape(F * G)
        out = np.empty(N * G, dtype)
        if N >= V:   # project the table once (b added to its V rows), then pick rows
            P = np.empty(V * G, dtype)
            matmul(NOTRANS, NOTRANS, V, G, F, one, t, F, w, G, zero, P, G)
            add_to_rows(P, b, V, G)
            gather_rows(P, ids, out, V, G)
        else:        # gather the ids' rows, then project them
            X = np.empty(N * F, dtype)
            gather_rows(t, ids, X, V, F)
            matmul(NOTRANS, NOTRANS, N, G, F, one, X, F, w, G, zero, out, G)
            add_to_rows(out, b, N, G)
        return out.reshape((N, G))
    return bodies.Body.of(lookup_forward, lookup_cache_key("forward-body", dtype, ids_dtype),
                          (2, 1, 2, 1), (dtype, ids_dtype, dtype, dtype))


@cache
def backward_body(dtype, ids_dtype):
    """The :class:`~.bodies.Body` of :func:`backward_kernel` (dtypes by name)."""
    dtype, one, zero, matmul = _numbers(dtype)

    def lookup_backward(table, ids, W, b, g):
        V, F, N, G = sizes(table, ids, W, b)
        if (g.shape[0] != N) | (g.shape[1] != G):
            raise ValueError("lookup projection kernel: g must be [N, G], N ids and G from W")
        t, w, gf = table.reshape(V * F), W.reshape(F * G), g.reshape(N * G)
        d_table, d_W, d_b = np.zeros(V * F, dtype), np.empty(F * G, dtype), np.zeros(G, dtype)
        if N >= V:   # add g's rows up per id, then two products of V rows
            dP = np.zeros(V * G, dtype)
            add_rows(gf, ids, dP, V, G)
            matmul(NOTRANS, TRANS, V, F, G, one, dP, G, w, G, zero, d_table, F)
            matmul(TRANS, NOTRANS, F, G, V, one, t, F, dP, G, zero, d_W, G)
            summed, n_rows = dP, V
        else:        # the rows' gradient, added up per id, and X^T . g
            X, dX = np.empty(N * F, dtype), np.empty(N * F, dtype)
            gather_rows(t, ids, X, V, F)
            matmul(NOTRANS, TRANS, N, F, G, one, gf, G, w, G, zero, dX, F)
            add_rows(dX, ids, d_table, V, F)
            matmul(TRANS, NOTRANS, F, G, N, one, X, F, gf, G, zero, d_W, G)
            summed, n_rows = gf, N
        for r in range(n_rows):
            src = summed[r * G:(r + 1) * G]
            for j in range(G):
                d_b[j] += src[j]
        return d_table.reshape((V, F)), d_W.reshape((F, G)), d_b
    return bodies.Body.of(lookup_backward, lookup_cache_key("backward-body", dtype, ids_dtype),
                          (2, 1, 2, 1, 2), (dtype, ids_dtype, dtype, dtype, dtype))


def forward_kernel(dtype, ids_dtype="int64"):
    """Jitted ``(table [V, F], ids [N], W [F, G], b [G]) -> xw [N, G]`` in float ``dtype``."""
    body = forward_body(str(np.dtype(dtype)), str(np.dtype(ids_dtype)))
    return bodies.adapter("lookup_projection", body.function, list(PARAMETERS))


def backward_kernel(dtype, ids_dtype="int64"):
    """Jitted ``(table, ids, W, b, g [N, G]) -> (d table, d W, d b)`` in float ``dtype``."""
    body = backward_body(str(np.dtype(dtype)), str(np.dtype(ids_dtype)))
    return bodies.adapter("lookup_projection_grad", body.function, [*PARAMETERS, "g"])
