"""Small graph ops with Numba code that compiles in a fraction of PyTensor's time.

Why this exists: a training graph's glue (zero states, the loss gradient's
fill, the bias gradients' sums) is a handful of ``Alloc`` and ``Sum`` nodes,
yet on fresh caches they cost about a fifth of the Numba compile. PyTensor's
Numba ``Alloc`` assigns with broadcasting (``res[...] = val``) and its ``Sum``
branches on the strides at run time (a quicksort of them included); both pull
in Numba's shape-mismatch error, which formats its message with ``str`` and
``join`` and is compiled again for every tuple length. So do the embedding
gradient's row scatter (PyTensor assigns whole rows) and the shape checks
PyTensor's rewrites insert (their messages are f-strings). Measured on the
character models' training graphs (B=64, T=40, fresh caches, against the tree
without these ops in the same hour): the first step came 25-39% sooner
(``symrnn bench``'s compile table shows where).

:class:`FillAlloc` is ``Alloc`` of a value with one element (every static
dimension 1: a scalar fill); :class:`LeadingSum` is ``Sum`` over the leading
axes with input, output and accumulator of one float dtype. Each is its
PyTensor parent under another name, so shapes, ``perform`` and gradients are
the parent's; only the Numba code differs: a flat loop that fills, and a
contiguous copy (none when the input is already C-contiguous) summed row by
row (a full sum: one accumulator). A float32 ``LeadingSum`` adds in a different
order from PyTensor's, so the last bits of a float32 sum may differ.

:func:`enable` registers the rewrites to these four ops, for the nodes that
qualify, under PyTensor's ``numba`` tag (after
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
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.basic import Alloc
from pytensor.tensor.math import Sum
from pytensor.tensor.shape import SpecifyShape
from pytensor.tensor.type_other import NoneTypeT

from ... import compat
from .registry import register_once

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


class ShapeCheck(SpecifyShape):
    """``SpecifyShape``, whose failure message names the axis but not the lengths."""

    def __str__(self):
        return "ShapeCheck"


def _scatter_add_rows_class(base):
    return type(f"ScatterAddRows{base.__name__}", (base,),
                {"__str__": lambda self: "ScatterAddRows", "__module__": __name__,
                 "__doc__": f"``{base.__name__}`` adding the rows of a matrix at integer ids."})


# one subclass per row-scatter op this PyTensor has (a name each, so pickling finds it)
SCATTER_ADD_ROWS = {base: _scatter_add_rows_class(base) for base in compat.ADVANCED_INC_SUBTENSORS}
globals().update({cls.__name__: cls for cls in SCATTER_ADD_ROWS.values()})
ScatterAddRows = tuple(SCATTER_ADD_ROWS.values())


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


def scatters_rows(node):
    """Whether a node adds the rows of a matrix ``y`` into a matrix ``x`` at integer ids,
    ``y`` with one row per id (no broadcasting) and of ``x``'s float dtype."""
    parts = compat.row_scatter_add(node)
    if parts is None or type(node.op) not in SCATTER_ADD_ROWS:
        return False
    x, y, _ = parts
    return (x.ndim == y.ndim == 2 and x.dtype == y.dtype in FLOAT_DTYPES
            and not any(y.type.broadcastable))


@node_rewriter(list(compat.ADVANCED_INC_SUBTENSORS))
def local_scatter_add_rows(fgraph, node):
    """The row scatter of a matrix -> :data:`ScatterAddRows` (same props)."""
    if not scatters_rows(node):
        return None
    return [SCATTER_ADD_ROWS[type(node.op)](**node.op._props_dict())(*node.inputs)]


@node_rewriter([SpecifyShape])
def local_shape_check(fgraph, node):
    """``SpecifyShape -> ShapeCheck``."""
    if type(node.op) is not SpecifyShape:
        return None
    return [ShapeCheck()(*node.inputs)]


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


def scatter_add_rows_source(inplace):
    """Python source of ``scatter_add_rows(x, y, ids)``: ``x[ids[i]] += y[i]`` for every
    ``i``, negative ids counted from the end as numpy does."""
    return ("def scatter_add_rows(x, y, ids):\n"
            f"    out = {'x' if inplace else 'x.copy()'}\n"
            "    rows, cols = out.shape\n"
            "    if y.shape[0] != ids.shape[0] or y.shape[1] != cols:\n"
            "        raise ValueError('row scatter: y needs one row per id, as wide as x')\n"
            "    for i in range(ids.shape[0]):\n"
            "        row = ids[i] + rows if ids[i] < 0 else ids[i]\n"
            "        if row < 0 or row >= rows:\n"
            "            raise IndexError('row scatter: an id is out of bounds for x')\n"
            "        for j in range(cols):\n"
            "            out[row, j] += y[i, j]\n"
            "    return out\n")


def shape_check_source(checked):
    """Python source of ``shape_check(x, s0, ..)`` checking the axes in ``checked``
    (a bool per axis: False where the graph gives ``None``)."""
    names = [f"s{i}" for i in range(len(checked))]
    lines = [f"def shape_check(x, {', '.join(names)}):\n"]
    for i, check in enumerate(checked):
        if check:
            lines.append(f"    if x.shape[{i}] != s{i}.item():\n"
                         f"        raise AssertionError('SpecifyShape: axis {i} of the input does"
                         f" not have the length the graph specifies')\n")
    lines.append("    return x\n")
    return "".join(lines)


def _key(kind, source, *dtypes):
    return sha256(str((__name__, kind, IMPLEMENTATION_VERSION, source, dtypes)).encode()).hexdigest()


_enabled = []


def enable():
    """Register the Numba code and the rewrite (once); True if active (False: this
    PyTensor lacks the internals, and its own ``Alloc`` and ``Sum`` run)."""
    return register_once(_enabled, _register_numba_code, REWRITE_NAME, local_fill_alloc,
                         local_leading_sum, local_scatter_add_rows, local_shape_check)


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

    def numba_funcify_ScatterAddRows(op, node, **kwargs):
        source = scatter_add_rows_source(op.inplace)
        fn = compile_src(source, "scatter_add_rows", {})
        return numba_njit(fn), _key("scatter_add_rows", source)

    for cls in SCATTER_ADD_ROWS.values():
        register(cls)(numba_funcify_ScatterAddRows)

    @register(ShapeCheck)
    def numba_funcify_ShapeCheck(op, node, **kwargs):
        checked = [not isinstance(s.type, NoneTypeT) for s in node.inputs[1:]]
        source = shape_check_source(checked)
        return numba_njit(compile_src(source, "shape_check", {})), _key("shape_check", source)
