"""Registering a Numba implementation and the rewrite that brings its op into graphs, once.

:mod:`.blas_dot` and :mod:`.glue` each give PyTensor ops (subclasses of PyTensor's
own) a Numba implementation, and a rewrite under the ``numba`` tag that swaps
them in: :func:`register_once` does both, once per process, or neither when
this PyTensor lacks the internals the implementations are built from.
"""
from pytensor.graph.rewriting.basic import dfs_rewriter

from ... import compat

# After the fast_run graph rewrites, which know PyTensor's ops by type and not their subclasses.
POSITION = 100


def register_once(enabled, register_code, name, *rewriters):
    """Run ``register_code()`` and register ``rewriters`` as ``name`` under the ``numba`` tag,
    the first time only (``enabled``: the caller's list that remembers it); True if
    active, False (nothing registered) where the Numba internals are missing."""
    if enabled:
        return enabled[0]
    if not compat.numba_internals_available():
        enabled.append(False)
        return False
    register_code()
    from pytensor.compile import optdb
    optdb.register(name, dfs_rewriter(*rewriters), "numba", position=POSITION)
    enabled.append(True)
    return True
