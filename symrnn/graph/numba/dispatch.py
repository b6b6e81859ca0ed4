"""The recurrence ops on Numba: fused kernels with stable on-disk cache keys.

:func:`enable` registers Numba implementations of
:class:`symrnn.graph.recurrence.Recurrence` and
:class:`~symrnn.graph.recurrence.RecurrenceGrad` built by
:mod:`symrnn.graph.numba.kernels`, each under a cache key made of the op's
props, the dtype and :data:`IMPLEMENTATION_VERSION` (bump it whenever the
kernels' code changes, so PyTensor's cache does not serve stale code).
A node whose inputs and outputs are not all float32 or all float64 runs its
inner graph through PyTensor's own ``OpFromGraph`` implementation instead.

The sparse softmax cross-entropy ops (:class:`symrnn.graph.losses.SparseSoftmaxXent`
and :class:`~symrnn.graph.losses.SparseSoftmaxXentGrad`) get the kernels of
:mod:`symrnn.graph.numba.xent` the same way, keyed by :func:`xent_cache_key`
(their own :data:`XENT_VERSION` and sources: the recurrence kernels' keys stay as
they were); a node whose floats are not all one of those dtypes, or whose ids are
not integers, runs its inner graph. So do their one-hot (soft-target) forms,
:class:`~symrnn.graph.losses.SoftmaxXent` and :class:`~symrnn.graph.losses.SoftmaxXentGrad`,
whose inputs and outputs must all be one float dtype.

:func:`keeping_recurrences` is what :func:`symrnn.graph.backend.get_mode` applies to
the Numba mode: it enables the kernels and excludes the expansion rewrite
(:mod:`symrnn.graph.expansion`) so that the ops reach the linker. Nothing is
registered on import; :func:`enable` registers once per process.
"""
from functools import lru_cache
from hashlib import sha256
from pathlib import Path

from ... import compat
from .. import expansion
from ..losses import (
    SoftmaxXent,
    SoftmaxXentGrad,
    SparseSoftmaxXent,
    SparseSoftmaxXentGrad,
)
from ..recurrence import DTYPES, Recurrence, RecurrenceGrad
from . import xent

# Bump when kernels, fastmath, blas, blas_dot or direct_gemm change what the kernels compute
# or how.
# 2: the step mask; 3: the LSTM's packed W_h; 4: every cell's packed W_h; 5: the LSTM's
# saved gates copied element by element
IMPLEMENTATION_VERSION = 5
# Paths from this folder: the kernels build the cell records' counts into their code.
KERNEL_SOURCES = ("kernels.py", "fastmath.py", "blas.py", "blas_dot.py", "direct_gemm.py",
                  "../cellrecords.py")
# The cross-entropy kernels (symrnn.graph.numba.xent) have their own version and sources.
XENT_VERSION = 2   # 2: the one-hot kernels (kinds onehot_forward, onehot_backward)
XENT_SOURCES = ("xent.py",)

_enabled = []


def enable():
    """Register the kernels (once); True if active, False if this PyTensor lacks Numba."""
    if not _enabled:
        available = compat.numba_internals_available()
        if available:
            _register_kernels()
        _enabled.append(available)
    return _enabled[0]


def keeping_recurrences(numba_mode):
    """The Numba ``mode`` that runs recurrence ops with the kernels (unchanged without them)."""
    expansion.register()
    return expansion.keeping_ops(numba_mode) if enable() else numba_mode


def cache_key(kind, props, dtype):
    """A key naming the ``kind`` of kernel for an op's ``props`` (tuple) and ``dtype`` uniquely.

    Besides the version, it holds a digest of the kernels' source files, so an
    edit that forgets the version bump still misses the cache.
    """
    text = str(("symrnn.graph.recurrence", kind, tuple(props), str(dtype), IMPLEMENTATION_VERSION,
                _source_digest()))
    return sha256(text.encode()).hexdigest()


def xent_cache_key(kind, dtype, ids_dtype=None):
    """:func:`cache_key` for a cross-entropy kernel (``kind``) of float ``dtype`` and ids
    (``None`` for the one-hot kernels, which take none)."""
    text = str(("symrnn.graph.losses", kind, str(dtype), str(ids_dtype), XENT_VERSION,
                _source_digest(XENT_SOURCES)))
    return sha256(text.encode()).hexdigest()


_digest = {}


def _source_digest(sources=KERNEL_SOURCES):
    if sources not in _digest:
        here = Path(__file__).parent
        text = b"".join((here / name).read_bytes() for name in sources)
        _digest[sources] = sha256(text).hexdigest()
    return _digest[sources]


def kernel_dtype(node):
    """The one float dtype of every input and output of ``node``, or None."""
    dtypes = {v.type.dtype for v in (*node.inputs, *node.outputs)}
    return dtypes.pop() if len(dtypes) == 1 and next(iter(dtypes)) in DTYPES else None


def xent_dtypes(node, ids_at):
    """``(float dtype, ids dtype)`` of a cross-entropy node whose other inputs and outputs
    share one float dtype of :data:`DTYPES` and whose ``ids`` (input ``ids_at``) are
    integers; ``(None, None)`` otherwise."""
    ids = node.inputs[ids_at]
    floats = [v for v in (*node.inputs, *node.outputs) if v is not ids]
    dtypes = {v.type.dtype for v in floats}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    if dtype not in DTYPES or not ids.type.dtype.startswith(("int", "uint")):
        return None, None
    return dtype, ids.type.dtype


def _register_kernels():
    # Imported here, not at the top: they import Numba (about a second), which
    # importing symrnn, or running it on another backend, should not pay for.
    from . import kernels
    register_funcify_and_cache_key = compat.register_funcify_and_cache_key
    numba_funcify_OpFromGraph = compat.numba_funcify_OpFromGraph

    forward = lru_cache(maxsize=None)(kernels.forward_kernel)
    backward = lru_cache(maxsize=None)(kernels.backward_kernel)

    @register_funcify_and_cache_key(Recurrence)
    def numba_funcify_Recurrence(op, node=None, **kwargs):
        dtype = kernel_dtype(node)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        kernel = forward(op.cell, op.act, op.inner_act, op.has_mask, dtype,
                         has_step_mask=op.has_step_mask)
        return kernel, cache_key("forward", op._props(), dtype)

    @register_funcify_and_cache_key(RecurrenceGrad)
    def numba_funcify_RecurrenceGrad(op, node=None, **kwargs):
        dtype = kernel_dtype(node)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        kernel = backward(op.cell, op.act, op.inner_act, op.has_mask, op.grad_clip,
                          op.truncate_gradient, dtype, has_step_mask=op.has_step_mask)
        return kernel, cache_key("backward", op._props(), dtype)

    xent_forward = lru_cache(maxsize=None)(xent.forward_kernel)
    xent_backward = lru_cache(maxsize=None)(xent.backward_kernel)

    @register_funcify_and_cache_key(SparseSoftmaxXent)
    def numba_funcify_SparseSoftmaxXent(op, node=None, **kwargs):
        dtype, ids_dtype = xent_dtypes(node, ids_at=1)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        return xent_forward(dtype), xent_cache_key("forward", dtype, ids_dtype)

    @register_funcify_and_cache_key(SparseSoftmaxXentGrad)
    def numba_funcify_SparseSoftmaxXentGrad(op, node=None, **kwargs):
        dtype, ids_dtype = xent_dtypes(node, ids_at=1)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        return xent_backward(dtype), xent_cache_key("backward", dtype, ids_dtype)

    onehot_forward = lru_cache(maxsize=None)(xent.onehot_forward_kernel)
    onehot_backward = lru_cache(maxsize=None)(xent.onehot_backward_kernel)

    @register_funcify_and_cache_key(SoftmaxXent)
    def numba_funcify_SoftmaxXent(op, node=None, **kwargs):
        dtype = kernel_dtype(node)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        return onehot_forward(dtype), xent_cache_key("onehot_forward", dtype)

    @register_funcify_and_cache_key(SoftmaxXentGrad)
    def numba_funcify_SoftmaxXentGrad(op, node=None, **kwargs):
        dtype = kernel_dtype(node)
        if dtype is None:
            return numba_funcify_OpFromGraph(op, node=node, **kwargs)
        return onehot_backward(dtype), xent_cache_key("onehot_backward", dtype)
