"""The recurrence ops on Numba: fused kernels with stable on-disk cache keys.

:func:`enable` registers Numba implementations of
:class:`symrnn.graph.recurrence.Recurrence` and
:class:`~symrnn.graph.recurrence.RecurrenceGrad` built by
:mod:`symrnn.graph.numba.kernels`, each under a cache key made of the op's
props, the dtype and the kernels' version (:mod:`symrnn.graph.numba.keys`: bump it
whenever the kernels' code changes, so PyTensor's cache does not serve stale code).
A node whose inputs and outputs are not all float32 or all float64 runs its
inner graph through PyTensor's own ``OpFromGraph`` implementation instead.

The sparse softmax cross-entropy ops (:class:`symrnn.graph.losses.SparseSoftmaxXent`
and :class:`~symrnn.graph.losses.SparseSoftmaxXentGrad`) get the kernels of
:mod:`symrnn.graph.numba.xent` the same way, keyed by :func:`xent_cache_key`
(their own version and sources in :mod:`.keys`: the recurrence kernels' keys stay as
they were); a node whose floats are not all one of those dtypes, or whose ids are
not integers, runs its inner graph. So do their one-hot (soft-target) forms,
:class:`~symrnn.graph.losses.SoftmaxXent` and :class:`~symrnn.graph.losses.SoftmaxXentGrad`,
whose inputs and outputs must all be one float dtype.

The lookup projection (:class:`symrnn.graph.lookup.LookupProjection` and its
:class:`~symrnn.graph.lookup.LookupProjectionGrad`) gets the kernels of
:mod:`symrnn.graph.numba.lookup`, keyed by :func:`lookup_cache_key`, on the same
condition as the sparse cross-entropy's: one float dtype, integer ids.

:func:`keeping_recurrences` is what :func:`symrnn.graph.backend.get_mode` applies to
the Numba mode: it enables the kernels and excludes the expansion rewrite
(:mod:`symrnn.graph.expansion`) so that the ops reach the linker. Nothing is
registered on import; :func:`enable` registers once per process.
"""
from functools import lru_cache, partial

from ... import compat
from .. import expansion
from ..lookup import LookupProjection, LookupProjectionGrad
from ..losses import (
    SoftmaxXent,
    SoftmaxXentGrad,
    SparseSoftmaxXent,
    SparseSoftmaxXentGrad,
)
from ..recurrence import DTYPES, Recurrence, RecurrenceGrad
from . import xent
from .keys import cache_key, lookup_cache_key, xent_cache_key

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


def kernel_dtype(node):
    """The one float dtype of every input and output of ``node``, or None."""
    dtypes = {v.type.dtype for v in (*node.inputs, *node.outputs)}
    return dtypes.pop() if len(dtypes) == 1 and next(iter(dtypes)) in DTYPES else None


def ids_node_dtypes(node, ids_at):
    """``(float dtype, ids dtype)`` of a node with integer ids (a cross-entropy, a lookup
    projection) whose other inputs and outputs share one float dtype of :data:`DTYPES` and whose ``ids`` (input ``ids_at``) are
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
    from . import kernels, lookup
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

    for op_class, kernel, key in (
            (SparseSoftmaxXent, xent.forward_kernel, partial(xent_cache_key, "forward")),
            (SparseSoftmaxXentGrad, xent.backward_kernel, partial(xent_cache_key, "backward")),
            (LookupProjection, lookup.forward_kernel, partial(lookup_cache_key, "forward")),
            (LookupProjectionGrad, lookup.backward_kernel, partial(lookup_cache_key, "backward"))):
        register_funcify_and_cache_key(op_class)(_ids_kernel_funcify(kernel, key))

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


def _ids_kernel_funcify(kernel, key):
    """The Numba funcify of an op with integer ids (input 1): ``kernel(dtype, ids_dtype)``
    under ``key(dtype, ids_dtype)``, or its inner graph where :func:`ids_node_dtypes` finds
    no single float dtype and integer ids."""
    kernel = lru_cache(maxsize=None)(kernel)

    def numba_funcify_ids_op(op, node=None, **kwargs):
        dtype, ids_dtype = ids_node_dtypes(node, ids_at=1)
        if dtype is None:
            return compat.numba_funcify_OpFromGraph(op, node=node, **kwargs)
        return kernel(dtype, ids_dtype), key(dtype, ids_dtype)
    return numba_funcify_ids_op
