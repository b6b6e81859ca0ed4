"""Row-major matrix products for Numba kernels, on scipy's BLAS.

:func:`matmul_for` returns a Numba function that computes, in row-major terms,
``c[m, n] = alpha * op(a)[m, k] . op(b)[k, n] + beta * c`` where ``op`` is the
identity (``NOTRANS``) or a transpose (``TRANS``) that BLAS applies in place:
no transposed copy is ever made. Each matrix is given as a flat C-contiguous
array that starts at its first element, and its leading dimension (the row
stride of the stored matrix, in elements), so column blocks of a wider matrix
(a GRU's ``U_h`` inside ``W_h``) are read where they lie. It checks that every
matrix fits in its array before calling BLAS, and uses GEMV for a single row
(GEMM packs the whole right operand on every call, which for one row costs as
much as the product).

The BLAS routines come from :func:`symrnn.graph.numba.blas_dot._blas_functions`, the
machinery :class:`symrnn.graph.numba.blas_dot.BlasDot` uses (scipy's ``cython_blas``,
with a function-pointer cache that Numba's on-disk cache can hold).
"""
import numpy as np

from ...compat import numba_njit, val_to_int_ptr
from .blas_dot import _blas_functions

# int64 scalars, not Python ints: Numba would type those as literals and compile the
# product once per combination of flags.
NOTRANS, TRANS = np.int64(ord("N")), np.int64(ord("T"))

_routines = {}


def _routine(name, dtype):
    """The Numba wrapper of s/d<name> and its scalar-to-pointer intrinsic, made once per process."""
    if name not in _routines:
        _routines[name] = _blas_functions(name)
    return _routines[name][dtype]


_matmuls = {}


def matmul_for(dtype):
    """``matmul(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`` for ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.name not in _matmuls:
        _matmuls[dtype.name] = _make_matmul(dtype)
    return _matmuls[dtype.name]


def _make_matmul(dtype):
    gemm, val_to_ptr = _routine("gemm", dtype.name)
    gemv = _routine("gemv", dtype.name)[0]
    zero = dtype.type(0)

    @numba_njit(inline="always")
    def fits(buffer, trans, rows, cols, ld):
        # a stored matrix op^-1 of shape (rows, cols) with row stride ld inside buffer
        stored_rows, stored_cols = (rows, cols) if trans == NOTRANS else (cols, rows)
        if stored_rows == 0 or stored_cols == 0:
            return True
        return ld >= stored_cols and (stored_rows - 1) * ld + stored_cols <= buffer.size

    @numba_njit
    def matmul(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        if not (fits(a, trans_a, m, k, lda) and fits(b, trans_b, k, n, ldb)
                and fits(c, NOTRANS, m, n, ldc)):
            raise ValueError("recurrence kernel: a matrix product does not fit its buffers")
        if m == 0 or n == 0:
            return
        if k == 0:   # BLAS may leave c untouched; the product is zero
            for row in range(m):
                for col in range(n):
                    c[row * ldc + col] = c[row * ldc + col] * beta if beta != zero else zero
            return
        i32 = np.int32
        if m == 1:
            # c^T = op(b)^T . a^T: GEMV on b as BLAS (column-major) sees it
            rows, cols = (n, k) if trans_b == NOTRANS else (k, n)
            inc_a = 1 if trans_a == NOTRANS else lda
            gemv(val_to_int_ptr(i32(trans_b)), val_to_int_ptr(i32(rows)),
                 val_to_int_ptr(i32(cols)), val_to_ptr(alpha), b.ctypes,
                 val_to_int_ptr(i32(ldb)), a.ctypes, val_to_int_ptr(i32(inc_a)),
                 val_to_ptr(beta), c.ctypes, val_to_int_ptr(i32(1)))
            return
        # row-major c = op(a) . op(b) is column-major c^T = op(b)^T . op(a)^T
        gemm(val_to_int_ptr(i32(trans_b)), val_to_int_ptr(i32(trans_a)),
             val_to_int_ptr(i32(n)), val_to_int_ptr(i32(m)), val_to_int_ptr(i32(k)),
             val_to_ptr(alpha), b.ctypes, val_to_int_ptr(i32(ldb)),
             a.ctypes, val_to_int_ptr(i32(lda)),
             val_to_ptr(beta), c.ctypes, val_to_int_ptr(i32(ldc)))

    return matmul
