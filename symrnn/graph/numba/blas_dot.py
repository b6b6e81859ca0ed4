"""A matrix product for the Numba backend that hands transposed operands to BLAS as they are.

Why this exists: PyTensor's Numba ``Dot`` calls ``np.dot``, and Numba's
``np.dot`` copies every operand whose *compile-time* layout is not known to be
C or F contiguous. PyTensor builds transposes with ``as_strided``, so their
layout is unknown, and every product with a transpose copies it first, with a
cache-hostile strided copy. The gradient of a recurrence is full of such
products: the backward ``scan`` multiplies by ``W_h.T`` at every step (a
256 x 256 strided copy per step, about 0.1 ms, which is most of a batch-1
training step), and the weight gradients multiply by transposed activations.

:class:`BlasDot` is PyTensor's ``Dot`` under another name, so graphs, shapes
and ``pytensor.grad`` are untouched. Only its Numba implementation differs: it
reads the strides at run time and calls ``sgemm``/``dgemm`` (scipy's
``cython_blas``, the BLAS Numba itself uses) with the transpose flag and
leading dimension that describe each operand in place. An operand that is
neither row- nor column-contiguous (a rare strided view) is copied first, as
before. A single-row left operand (a batch-1 step, one generated character)
goes to ``sgemv``/``dgemv`` instead: GEMM packs the whole right matrix into a
buffer on every call, which for one row costs as much as the product. The
product is compiled once per dtype (:func:`body`, taking both matrices typed
with any strides, layout "A"), so every product in a graph, whatever its
operands' layouts, shares that one compile, which a helper process can do
ahead (:mod:`.precompile`).

:func:`enable` registers the rewrite ``Dot -> BlasDot`` for 2-d float
operands in PyTensor's rewrite database under the ``numba`` tag, so it runs
only when a graph is compiled for the Numba linker, including the inner
graphs of ``scan``. It is called by :func:`symrnn.graph.backend.get_mode` for the
Numba backend (never on import) and registers once per process.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> enable()
True
>>> a, b = pt.fmatrix("a"), pt.fmatrix("b")
>>> f = pytensor.function([a, b], pt.dot(a.T, b), mode="NUMBA")
>>> any(isinstance(n.op, BlasDot) for n in f.maker.fgraph.toposort())
True
>>> x = np.arange(6, dtype="float32").reshape(3, 2)
>>> bool(np.allclose(f(x, x), x.T @ x))
True
"""
from functools import cache

import numpy as np
from pytensor.graph.basic import Constant, equal_computations
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.basic import MakeVector
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.math import Dot
from pytensor.tensor.shape import Reshape

from ... import compat
from .bodies import Body, keep_source
from .keys import cache_key
from .registry import register_once

keep_source(__file__)   # the kernel bodies are generated from it

# Bump when the Numba implementation changes, so PyTensor's on-disk cache keys change too.
IMPLEMENTATION_VERSION = 3
REWRITE_NAME = "symrnn_blas_dot"
BLAS_DTYPES = ("float32", "float64")


class BlasDot(Dot):
    """``Dot`` of two 2-d float matrices; same maths, strides-aware Numba kernel."""

    def __str__(self):
        return "BlasDot"


@node_rewriter([Dot])
def local_blas_dot(fgraph, node):
    """``Dot(x, y) -> BlasDot(x, y)`` for 2-d operands of one BLAS dtype."""
    if type(node.op) is not Dot:
        return None
    x, y = node.inputs
    [out] = node.outputs
    if x.ndim != 2 or y.ndim != 2 or not (x.dtype == y.dtype == out.dtype in BLAS_DTYPES):
        return None
    return [BlasDot()(x, y)]


@node_rewriter([Reshape])
def local_flatten_then_transpose(fgraph, node):
    """``reshape(moveaxis(x, -1, 0), (x.shape[-1], -1)) -> reshape(x, (-1, x.shape[-1])).T``.

    Both give the ``[H, rest]`` matrix of an ``[..., H]`` array, but the left
    one copies ``x`` through a transposed, cache-hostile stride pattern, while
    the right one is a view of ``x`` (or a row-by-row copy when ``x`` is a
    reversed time slice) that :class:`BlasDot` reads transposed in place.
    ``scan``'s gradient builds the left form for the weight gradient
    ``sum_t h_tm1_t^T . d_t``. The rewrite applies only when the first target
    dimension is provably the moved axis and the second is ``-1``.
    """
    moved, shape = node.inputs
    if node.op.ndim != 2 or moved.owner is None or not isinstance(moved.owner.op, DimShuffle):
        return None
    [x] = moved.owner.inputs
    n = x.ndim
    if n < 3 or tuple(moved.owner.op.new_order) != (n - 1, *range(n - 1)):
        return None
    if shape.owner is None or not isinstance(shape.owner.op, MakeVector):
        return None
    lead, rest = shape.owner.inputs
    if not (isinstance(rest, Constant) and rest.data == -1 and _is_length(fgraph, lead, x, n - 1)):
        return None
    return [x.reshape((-1, x.shape[-1])).T]


def _is_length(fgraph, scalar, x, axis):
    """Whether ``scalar`` is provably ``x.shape[axis]`` (same graph, per the shape feature)."""
    shape_feature = getattr(fgraph, "shape_feature", None)
    if shape_feature is None:
        return False
    return equal_computations([shape_feature.get_shape(x, axis)], [scalar])


_enabled = []


def enable():
    """Register the Numba ``BlasDot`` kernel and the rewrite (once); True if active.

    Returns False, leaving PyTensor's own ``Dot`` in place, when this PyTensor
    lacks the internals the kernel is built from (it then runs as before).
    """
    return register_once(_enabled, _register_numba_kernel, REWRITE_NAME,
                         local_flatten_then_transpose, local_blas_dot)


def _register_numba_kernel():
    register_funcify_default_op_cache_key = compat.register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(BlasDot)
    def numba_funcify_BlasDot(op, node, **kwargs):
        product = body(node.outputs[0].type.numpy_dtype.name).function

        @compat.numba_njit
        def blas_dot(x, y):
            # full slices are typed layout "A" whatever x and y are: one signature, the body's
            return product(x[:, :], y[:, :])

        return blas_dot, IMPLEMENTATION_VERSION


@cache
def body(dtype):
    """The product's :class:`~.bodies.Body` for ``dtype`` (a name): ``(x, y) -> x . y`` of two
    matrices typed layout "A" (any strides), compiled once per dtype and cached on disk."""
    numba_njit, val_to_int_ptr = compat.numba_njit, compat.val_to_int_ptr
    dtype = np.dtype(dtype)
    gemm, val_to_ptr = _routines("gemm")[dtype.name]
    gemv = _routines("gemv")[dtype.name][0]
    item = dtype.itemsize
    one, zero = dtype.type(1), dtype.type(0)

    @numba_njit(inline="always")
    def gemm_layout(a):
        # (op, leading dimension) of a row-major m x k operand seen by column-major BLAS:
        # row-contiguous rows are already its transpose ('N'), contiguous columns need 'T'.
        rows, cols = a.shape
        s_row, s_col = a.strides
        if s_col == item and s_row % item == 0 and s_row >= max(cols, 1) * item:
            return ord("N"), s_row // item
        if s_row == item and s_col % item == 0 and s_col >= max(rows, 1) * item:
            return ord("T"), s_col // item
        return 0, 0

    def blas_dot(x, y):
        m, k = x.shape
        n = y.shape[1]
        if k != y.shape[0]:
            raise ValueError("BlasDot: matrices are not aligned")
        out = np.empty((m, n), dtype)
        if m == 0 or n == 0:
            return out
        if k == 0:
            out[:] = 0
            return out
        op_y, ld_y = gemm_layout(y)
        if op_y == 0:   # neither row- nor column-contiguous: copy, as np.dot would
            y = np.ascontiguousarray(y)
            op_y, ld_y = ord("N"), n
        i32 = np.int32
        if m == 1 and (x.strides[1] > 0 or k == 1):
            # One row: out^T = (y as BLAS sees it, [n, k] or transposed [k, n]) . x^T.
            inc_x = x.strides[1] // item if k > 1 else 1
            rows, cols = (n, k) if op_y == ord("N") else (k, n)
            gemv(val_to_int_ptr(i32(op_y)), val_to_int_ptr(i32(rows)),
                 val_to_int_ptr(i32(cols)), val_to_ptr(one), y.ctypes,
                 val_to_int_ptr(i32(ld_y)), x.ctypes, val_to_int_ptr(i32(inc_x)),
                 val_to_ptr(zero), out.ctypes, val_to_int_ptr(i32(1)))
            return out
        op_x, ld_x = gemm_layout(x)
        if op_x == 0:
            x = np.ascontiguousarray(x)
            op_x, ld_x = ord("N"), k
        # Row-major out = x . y is column-major out^T = y^T . x^T.
        gemm(val_to_int_ptr(i32(op_y)), val_to_int_ptr(i32(op_x)),
             val_to_int_ptr(i32(n)), val_to_int_ptr(i32(m)), val_to_int_ptr(i32(k)),
             val_to_ptr(one), y.ctypes, val_to_int_ptr(i32(ld_y)),
             x.ctypes, val_to_int_ptr(i32(ld_x)),
             val_to_ptr(zero), out.ctypes, val_to_int_ptr(i32(n)))
        return out

    key = cache_key("blas_dot-body", (IMPLEMENTATION_VERSION,), dtype)
    return Body.of(blas_dot, key, (2, 2), dtype, layout="A")


# Fortran argument lists of the two BLAS routines: "i" an int pointer (chars are passed as
# pointers to int32 holding the character, as PyTensor does for LAPACK: Fortran reads the
# first byte, little-endian), "f" a pointer to the float type.
BLAS_SIGNATURES = {"gemm": "iiiiiffififfi", "gemv": "iiiffififfi"}


@cache
def _routines(routine):
    return _blas_functions(routine)


def _blas_functions(routine):
    """``{dtype: (numba wrapper of s/d<routine>, scalar-to-pointer intrinsic)}``."""
    import numba
    from numba import types
    from numba.extending import get_cython_function_address
    numba_njit = compat.numba_njit

    def wrapper(kind, float_type):
        name = f"{kind}{routine}"
        unique_name = f"symrnn.scipy.blas.{name}"   # a literal for the pointer cache
        pointer = {"i": types.CPointer(types.int32), "f": types.CPointer(float_type)}
        fn_type = types.FunctionType(types.void(*[pointer[c] for c in BLAS_SIGNATURES[routine]]))

        @numba_njit
        def get_pointer():
            with numba.objmode(ptr=types.intp):
                ptr = get_cython_function_address("scipy.linalg.cython_blas", name)
            return ptr

        @numba_njit
        def call(*args):
            fn = compat.call_cached_ptr(get_ptr_func=get_pointer, func_type_ref=fn_type,
                                  unique_func_name_lit=unique_name)
            fn(*args)

        return call

    return {"float32": (wrapper("s", types.float32), compat.val_to_sptr),
            "float64": (wrapper("d", types.float64), compat.val_to_dptr)}
