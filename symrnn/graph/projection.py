"""The input projection of a recurrent layer, ``x . W + b`` for every step, time-major.

The recurrence wants ``xw`` as a contiguous ``[T, B, G*H]`` array. When ``x``
is itself a row lookup ``E[ids]`` (an ``Embedding``, or one-hot rows taken
from the identity), the product is linear in the rows, so

    E[ids] . W + b  ==  (E . W)[ids] + b

and the right side projects the ``V`` rows of the table once instead of the
``B * T`` looked-up rows, gathers ``xw`` straight into time-major order (no
transposed copy of ``x``), and its gradient is a scatter-add of ``dxw`` into
``V`` rows followed by two small GEMMs, instead of two ``[B*T, ...]`` GEMMs.
For a character vocabulary (V = 86 against B * T = 2,560 rows at batch 64)
that removes most of the projection's matmul work. (The bias is added after
the lookup: added before it, PyTensor's ``local_add_of_sparse_write`` rewrite
fails on a table with a static shape, e.g. the one-hot identity.) Otherwise ``x`` is copied
to time-major order and projected with one 2-d GEMM.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> E, W, b = np.arange(6.0).reshape(3, 2), np.ones((2, 4)), np.zeros(4)
>>> ids = pt.lmatrix("ids")                       # [B, T]
>>> x = pt.as_tensor(E)[ids]                      # [B, T, F]
>>> xw = time_major_projection(x, pt.as_tensor(W), pt.as_tensor(b))
>>> f = pytensor.function([ids], xw, mode="FAST_COMPILE")
>>> f(np.array([[0, 2]]))[:, 0, 0].tolist()       # [T, B, G*H]: rows 0 and 2, summed
[1.0, 9.0]
"""
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.tensor.subtensor import AdvancedSubtensor, AdvancedSubtensor1

from .shapes import sizes

# Project the whole table when it has at most this many rows (character and small word
# vocabularies); a larger table would cost more to project than the rows a batch looks up.
MAX_TABLE_ROWS = 4096


def table_lookup(x):
    """``(E, ids)`` when ``x`` is ``E[ids]`` for a 2-d table ``E`` of a known, small
    number of rows and integer ``ids`` of ``x``'s leading shape; else ``None``."""
    node = x.owner
    if node is None or not isinstance(node.op, (AdvancedSubtensor, AdvancedSubtensor1)):
        return None
    if len(node.inputs) != 2:
        return None
    table, ids = node.inputs
    if table.ndim != 2 or not ids.dtype.startswith(("int", "uint")) or ids.ndim != x.ndim - 1:
        return None
    rows = _rows(table)
    return (table, ids) if rows is not None and rows <= MAX_TABLE_ROWS else None


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
        rows = pt.dot(table, W)[ids_tm.flatten()]   # one row per (t, b), time-major
        steps, batch = ids_tm.shape[0], ids_tm.shape[1]
        return rows.reshape(sizes([steps, batch, W.shape[1]],
                                  ids_tm.type.shape + (W.type.shape[1],))) + b
    x_tm = x.dimshuffle(1, 0, 2)
    steps, batch, n_in = (x_tm.shape[i] for i in range(3))
    T, B, F = x_tm.type.shape
    flat = x_tm.reshape(sizes([steps * batch, n_in], [None if None in (T, B) else T * B, F]))
    return (pt.dot(flat, W) + b).reshape(sizes([steps, batch, W.shape[1]], [T, B, W.type.shape[1]]))
