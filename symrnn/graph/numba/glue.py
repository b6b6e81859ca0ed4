"""Two small graph ops with Numba code that compiles in a fraction of PyTensor's time.

Why this exists: a training graph's glue (zero states, the loss gradient's
fill, the bias gradients' sums) is a handful of ``Alloc`` and ``Sum`` nodes,
yet on fresh caches they cost about a fifth of the Numba compile. PyTensor's
Numba ``Alloc`` assigns with broadcasting (``res[...] = val``) and its ``Sum``
branches on the strides at run time (a quicksort of them included); both pull
in Numba's shape-mismatch error, which formats its message with ``str`` and
``join`` and is compiled again for every tuple length. Measured on the LSTM
training graph (B=64, T=40, fresh caches): the first step came 19% sooner
(``symrnn bench``'s compile table shows where).

:class:`FillAlloc` is ``Alloc`` of a value with one element (every static
dimension 1: a scalar fill); :class:`LeadingSum` is ``Sum`` over the leading
axes with input, output and accumulator of one float dtype. Each is its
PyTensor parent under another name, so shapes, ``perform`` and gradients are
the parent's; only the Numba code differs: a flat loop that fills, and a
contiguous copy (none when the input is already C-contiguous) summed row by
row (a full sum: one accumulator). A float32 ``LeadingSum`` adds in a different
order from PyTensor's, so the last bits of a float32 sum may differ.

:func:`enable` registers the rewrite ``Alloc -> FillAlloc`` and ``Sum ->
LeadingSum`` for the nodes that qualify under PyTensor's ``numba`` tag (after
the ``fast_run`` rewrites, which know the parents by type), so it runs only
when a graph is compiled for the Numba linker. It is called by
:func:`symrnn.graph.backend.get_mode` for the Numba backend (never on import).

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> from symrnn.graph.backend import get_mode
>>> x = pt.dtensor3("x")
>>> f = pytensor.function([x], [x.sum(axis=(0, 1)), pt.zeros_like(x)], mode=get_mode("numba"))
>>> sorted({type(n.op).__name__ for n in f.maker.fgraph.toposort()} & {"FillAlloc", "LeadingSum"})
['FillAlloc', 'LeadingSum']
>>> total, zeros = f(np.ones((2, 3, 4)))
>>> total.tolist(), float(zeros.sum())
([6.0, 6.0, 6.0, 6.0], 0.0)
"""
from hashlib import sha256

import numpy as np
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.scalar.basic import Add
from pytensor.tensor.basic import Alloc
from pytensor.tensor.math import Sum

from ... import compat

# Bump when the generated code changes in a way its source text does not show.
IMPLEMENTATION_VERSION = 1
REWRITE_NAME = "symrnn_numba_glue"
FLOAT_DTYPES = ("float32", "float64")


class FillAlloc(Alloc):
    """``Alloc`` of a one-element value: every element of the result is that value."""

    def __str__(self):
        return "FillAlloc"


class LeadingSum(Sum):
    """``Sum`` over the leading ``k`` axes, in one float dtype throughout."""

    def __str__(self):
        return f"LeadingSum{{{self.n_leading}}}"

    @property
    def n_leading(self):
        return len(self.axis)


def fills(node):
    """Whether an ``Alloc`` node fills its result with one value (and makes at least 1-d)."""
    val = node.inputs[0]
    return len(node.inputs) > 1 and all(size == 1 for size in val.type.shape)


def leading_axes(op, ndim):
    """How many leading axes a ``Sum`` of an ``ndim``-d input reduces, or 0 if its axes
    are not ``0 .. k-1``."""
    axes = tuple(range(ndim)) if op.axis is None else tuple(op.axis)
    return len(axes) if axes and axes == tuple(range(len(axes))) else 0


@node_rewriter([Alloc])
def local_fill_alloc(fgraph, node):
    """``Alloc(v, *shape) -> FillAlloc(v, *shape)`` for a ``v`` of one element."""
    if type(node.op) is not Alloc or not fills(node):
        return None
    return [FillAlloc()(*node.inputs)]


@node_rewriter([Sum])
def local_leading_sum(fgraph, node):
    """``Sum(x, axis=(0, .., k-1)) -> LeadingSum`` when ``x``, the sum and its accumulator
    share one float dtype."""
    op, [x] = node.op, node.inputs
    if type(op) is not Sum or not (x.dtype == op.dtype == op.acc_dtype in FLOAT_DTYPES):
        return None
    k = leading_axes(op, x.ndim)
    if not k:
        return None
    return [LeadingSum(axis=tuple(range(k)), dtype=op.dtype, acc_dtype=op.acc_dtype)(x)]


def fill_alloc_source(val_ndim, out_ndim):
    """Python source of ``fill_alloc(val, s0, .., s{n-1})`` (each ``s`` a 0-d int array)."""
    shapes = [f"s{i}" for i in range(out_ndim)]
    first = "val[()]" if val_ndim == 0 else f"val[{', '.join(['0'] * val_ndim)}]"
    return (f"def fill_alloc(val, {', '.join(shapes)}):\n"
            f"    out = np.empty(({''.join(f'{s}.item(), ' for s in shapes)}), dtype)\n"
            f"    flat = out.reshape(out.size)\n"
            f"    value = {first}\n"
            f"    for i in range(flat.size):\n"
            f"        flat[i] = value\n"
            f"    return out\n")


def leading_sum_source(ndim, k):
    """Python source of ``leading_sum(x)`` over the first ``k`` of ``ndim`` axes."""
    head = ("def leading_sum(x):\n"
            "    c = np.ascontiguousarray(x)\n"
            "    flat = c.reshape(c.size)\n")
    if k == ndim:   # one accumulator, a 0-d result
        return head + ("    total = zero\n"
                       "    for i in range(flat.size):\n"
                       "        total += flat[i]\n"
                       "    return np.array(total)\n")
    kept = "".join(f"c.shape[{i}], " for i in range(k, ndim))
    rows = " * ".join(f"c.shape[{i}]" for i in range(k))
    return head + (f"    out = np.zeros(({kept}), dtype)\n"
                   f"    o = out.reshape(out.size)\n"
                   f"    cols = o.size\n"
                   f"    for r in range({rows}):\n"
                   f"        row = flat[r * cols:(r + 1) * cols]\n"
                   f"        for j in range(cols):\n"
                   f"            o[j] += row[j]\n"
                   f"    return out\n")


def _key(kind, source, *dtypes):
    return sha256(str((__name__, kind, IMPLEMENTATION_VERSION, source, dtypes)).encode()).hexdigest()


_enabled = []


def enable():
    """Register the Numba code and the rewrite (once); True if active (False: this
    PyTensor lacks the internals, and its own ``Alloc`` and ``Sum`` run)."""
    if _enabled:
        return _enabled[0]
    if not compat.numba_internals_available():
        _enabled.append(False)
        return False
    _register_numba_code()
    from pytensor.compile import optdb
    # position 100: after the fast_run graph rewrites (which know Alloc and Sum by type)
    optdb.register(REWRITE_NAME, dfs_rewriter(local_fill_alloc, local_leading_sum), "numba",
                   position=100)
    _enabled.append(True)
    return True


def _register_numba_code():
    numba_njit, compile_src = compat.numba_njit, compat.compile_numba_function_src
    register = compat.register_funcify_and_cache_key

    @register(FillAlloc)
    def numba_funcify_FillAlloc(op, node, **kwargs):
        dtype = node.outputs[0].type.numpy_dtype
        source = fill_alloc_source(node.inputs[0].ndim, len(node.inputs) - 1)
        fn = compile_src(source, "fill_alloc", {"np": np, "dtype": dtype})
        return numba_njit(fn), _key("fill_alloc", source, dtype.name)

    @register(LeadingSum)
    def numba_funcify_LeadingSum(op, node, **kwargs):
        dtype = node.outputs[0].type.numpy_dtype
        source = leading_sum_source(node.inputs[0].ndim, op.n_leading)
        fn = compile_src(source, "leading_sum", {"np": np, "dtype": dtype, "zero": dtype.type(0)})
        return numba_njit(fn), _key("leading_sum", source, dtype.name)
