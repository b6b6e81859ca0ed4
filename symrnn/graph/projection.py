"""The input projection of a recurrent layer, ``x . W + b`` for every step, time-major.

The recurrence wants ``xw`` as a contiguous ``[T, B, G*H]`` array. When ``x``
is a row lookup ``E[ids]`` (an ``Embedding``, or one-hot rows taken from the
identity), the ids are taken in time-major order (``ids.T``: no transposed copy
of ``x``); one-hot rows need no product at all (``I[ids] . W == W[ids]``), and
an embedding's rows are one :func:`symrnn.graph.lookup.lookup_projection` node,
``E[ids] . W + b``, which on Numba projects the whole table (``(E . W + b)[ids]``)
when the batch has at least as many ids as the table has rows, and the rows
otherwise (the batch size is not known when the graph is built, so the kernel
chooses per call). Otherwise ``x`` is copied to time-major order and projected
with one 2-d GEMM.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> E, W, b = np.arange(6.0).reshape(3, 2), np.ones((2, 4)), np.zeros(4)
>>> ids = pt.lmatrix("ids")                       # [B, T]
>>> x = pt.as_tensor(E)[ids]                      # [B, T, F]
>>> xw = time_major_projection(x, pt.as_tensor(W), pt.as_tensor(b))
>>> f = pytensor.function([ids], xw, mode="FAST_COMPILE")
>>> f(np.array([[0, 2]]))[:, 0, 0].tolist()       # [T, B, G*H]: rows 0 and 2, summed
[1.0, 9.0]
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Constant

from ..compat import row_lookup
from .lookup import lookup_projection
from .shapes import sizes

# A lookup in a table of at most this many rows is recognised (a larger one-hot input is
# not a V x V constant, see layers.core.OneHot, so there is no table to find).
MAX_TABLE_ROWS = 4096


def table_lookup(x):
    """``(E, ids)`` when ``x`` is ``E[ids]`` for a 2-d table ``E`` of a known, small
    number of rows and integer ``ids`` of ``x``'s leading shape; else ``None``."""
    lookup = row_lookup(x)
    if lookup is None:
        return None
    table, ids = lookup
    if table.ndim != 2 or not ids.dtype.startswith(("int", "uint")) or ids.ndim != x.ndim - 1:
        return None
    rows = _rows(table)
    return (table, ids) if rows is not None and rows <= MAX_TABLE_ROWS else None


def _is_identity(table):
    """Whether ``table`` is a constant identity matrix (one-hot rows)."""
    if not isinstance(table, Constant):
        return False
    data = table.data
    return data.ndim == 2 and data.shape[0] == data.shape[1] and np.array_equal(
        data, np.eye(data.shape[0], dtype=data.dtype))


def _rows(table):
    if isinstance(table, Constant):
        return table.data.shape[0]
    if table.type.shape[0] is not None:
        return table.type.shape[0]
    get_value = getattr(table, "get_value", None)   # a shared variable's current size
    return None if get_value is None else get_value(borrow=True).shape[0]


def time_major_projection(x, W, b):
    """``x . W + b`` with ``x`` batch-major ``[B, T, F]``, returned time-major ``[T, B, G*H]``."""
    lookup = table_lookup(x)
    if lookup is not None:
        table, ids = lookup
        ids_tm = ids.T
        picked = ids_tm.flatten()                   # one row per (t, b), time-major
        steps, batch = ids_tm.shape[0], ids_tm.shape[1]
        shape = sizes([steps, batch, W.shape[1]], ids_tm.type.shape + (W.type.shape[1],))
        if _is_identity(table):
            # b after the lookup: added before it, PyTensor's local_add_of_sparse_write
            # rewrite fails on a table with a static shape, such as the identity
            return W[picked].reshape(shape) + b
        return lookup_projection(table, picked, W, b).reshape(shape)
    x_tm = x.dimshuffle(1, 0, 2)
    steps, batch, n_in = (x_tm.shape[i] for i in range(3))
    T, B, F = x_tm.type.shape
    flat = x_tm.reshape(sizes([steps * batch, n_in], [None if None in (T, B) else T * B, F]))
    return (pt.dot(flat, W) + b).reshape(sizes([steps, batch, W.shape[1]], [T, B, W.type.shape[1]]))
