"""What differs between the PyTensor and Numba versions symrnn supports, in one place.

Supported: PyTensor 3.0.7 (the newest release for Python 3.11) to 3.3.x, with
the Numba, llvmlite and numpy that pip picks for each (CI runs both ends:
Python 3.11 with PyTensor 3.0.7, and the newest Python here with the newest
PyTensor). Every other module takes version-dependent and private names from
here, never with a ``try/except ImportError`` of its own.

Private names still used, and why (PyTensor has no public API for them):

- ``pytensor.link.numba.dispatch.basic``: ``numba_njit`` (PyTensor's jit with
  its cache settings, so the kernels cache beside PyTensor's own code),
  ``register_funcify_and_cache_key`` and ``register_funcify_default_op_cache_key``
  (the only way to give an op a Numba implementation with an on-disk cache key).
- ``pytensor.link.numba.dispatch.compile_ops.numba_funcify_OpFromGraph``: runs a
  recurrence op through its inner graph when its dtypes have no kernel. Its
  signature changed in 3.1 (``mode=`` became ``ofg_memo=``); symrnn passes
  ``op``, ``node`` and PyTensor's own keyword arguments through, which both take.
- ``pytensor.link.numba.dispatch.linalg._LAPACK``: ``val_to_int_ptr``,
  ``val_to_sptr``, ``val_to_dptr`` (pass a scalar by pointer to a Fortran BLAS
  routine, as PyTensor's LAPACK calls do).
- ``pytensor.link.numba.cache``: ``_call_cached_ptr`` (a BLAS function pointer
  that Numba's on-disk cache can hold) and ``compile_numba_function_src``
  (compile generated source so that the cache can find it again).

The Numba-side names import Numba, which importing symrnn must not: they are
loaded on first use (``from symrnn.compat import numba_njit`` inside a module
that only Numba compiles load, or ``compat.numba_njit`` at call time).

Version facts, each measured on the versions named:

- :data:`SCAN_GRAD_READS_SAVED_OUTPUTS`: up to 3.0.x, ``scan``'s gradient reads
  activations a loop outputs instead of recomputing them (a gated layer's
  backward loop ran 2 matrix products instead of 3 for the LSTM, 5 instead of
  6 for the GRU); from 3.1 it recomputes them anyway (3.1.3, 3.2.4 and 3.3.8:
  3 and 3 for the LSTM, 7 saved against 6 not for the GRU), so saving them
  only costs.
- :func:`infer_shape_args` and :func:`inferred_shapes`: ``Op.infer_shape`` takes
  ``(fgraph, node, input_shapes)`` up to 3.0 and ``(node, input_shapes)`` from 3.1
  (3.3 wraps the old form with a DeprecationWarning).
- :func:`row_lookup`: 3.0 has ``AdvancedSubtensor1`` for ``E[v]``; 3.2 folded
  it into ``AdvancedSubtensor``, whose ``idx_list`` names the indexed axes.

>>> PYTENSOR_VERSION >= (3, 0)
True
"""
import importlib
import re
from contextlib import contextmanager

import pytensor
from pytensor.tensor import subtensor as _subtensor

PYTENSOR_VERSION = tuple(int(part) for part in
                         re.match(r"(\d+)\.(\d+)", pytensor.__version__).groups())

SCAN_GRAD_READS_SAVED_OUTPUTS = PYTENSOR_VERSION < (3, 1)

INFER_SHAPE_TAKES_FGRAPH = PYTENSOR_VERSION < (3, 1)


def infer_shape_args(args):
    """``(node, input_shapes)`` from an ``infer_shape(self, *args)`` call of any version."""
    return args[-2], args[-1]


def inferred_shapes(op, node, input_shapes):
    """``op.infer_shape`` called as this PyTensor calls it."""
    if INFER_SHAPE_TAKES_FGRAPH:
        return op.infer_shape(None, node, input_shapes)
    return op.infer_shape(node, input_shapes)


_ADVANCED_SUBTENSORS = tuple(getattr(_subtensor, name) for name in
                             ("AdvancedSubtensor", "AdvancedSubtensor1")
                             if hasattr(_subtensor, name))


def row_lookup(x):
    """``(table, ids)`` when ``x`` is ``table[ids]``: one integer array indexing the first
    axis only; else ``None``.

    >>> import pytensor.tensor as pt
    >>> E, ids = pt.matrix("E"), pt.lmatrix("ids")
    >>> row_lookup(E[ids]) == (E, ids), row_lookup(E[:, ids[0]]), row_lookup(E[ids, 0])
    (True, None, None)
    """
    node = x.owner
    if node is None or not isinstance(node.op, _ADVANCED_SUBTENSORS) or len(node.inputs) != 2:
        return None
    if getattr(node.op, "idx_list", (0,)) != (0,):   # 3.2+: which axes the index addresses
        return None
    return tuple(node.inputs)


ADVANCED_INC_SUBTENSORS = tuple(getattr(_subtensor, name) for name in
                                ("AdvancedIncSubtensor", "AdvancedIncSubtensor1")
                                if hasattr(_subtensor, name))


def row_scatter_add(node):
    """``(x, y, ids)`` when ``node`` adds the rows of ``y`` into ``x`` at ``ids`` (one
    integer vector indexing the first axis: ``inc_subtensor(x[ids], y)``); else ``None``.
    3.0 makes it an ``AdvancedIncSubtensor1``, 3.2+ an ``AdvancedIncSubtensor`` whose
    ``idx_list`` names the indexed axis.

    >>> import pytensor.tensor as pt
    >>> x, y, ids = pt.matrix("x"), pt.matrix("y"), pt.lvector("ids")
    >>> row_scatter_add(pt.inc_subtensor(x[ids], y).owner) == (x, y, ids)
    True
    >>> row_scatter_add(pt.set_subtensor(x[ids], y).owner) is None
    True
    """
    op = node.op
    if not isinstance(op, ADVANCED_INC_SUBTENSORS) or len(node.inputs) != 3:
        return None
    if op.set_instead_of_inc or getattr(op, "idx_list", (0,)) != (0,):
        return None
    if getattr(op, "ignore_duplicates", False):
        return None
    x, y, ids = node.inputs
    return (x, y, ids) if ids.ndim == 1 and ids.dtype.startswith(("int", "uint")) else None


_NUMBA_DISPATCH = "pytensor.link.numba.dispatch"
# name here -> (module, name there)
_NUMBA_NAMES = {
    "numba_njit": (f"{_NUMBA_DISPATCH}.basic", "numba_njit"),
    "register_funcify_and_cache_key": (f"{_NUMBA_DISPATCH}.basic",
                                       "register_funcify_and_cache_key"),
    "register_funcify_default_op_cache_key": (f"{_NUMBA_DISPATCH}.basic",
                                              "register_funcify_default_op_cache_key"),
    "numba_funcify_OpFromGraph": (f"{_NUMBA_DISPATCH}.compile_ops", "numba_funcify_OpFromGraph"),
    "val_to_int_ptr": (f"{_NUMBA_DISPATCH}.linalg._LAPACK", "val_to_int_ptr"),
    "val_to_sptr": (f"{_NUMBA_DISPATCH}.linalg._LAPACK", "val_to_sptr"),
    "val_to_dptr": (f"{_NUMBA_DISPATCH}.linalg._LAPACK", "val_to_dptr"),
    "call_cached_ptr": ("pytensor.link.numba.cache", "_call_cached_ptr"),
    "compile_numba_function_src": ("pytensor.link.numba.cache", "compile_numba_function_src"),
    # what wraps each op's jitted code in a cached function (symrnn.graph.numba.inlining)
    "numba_funcify_ensure_cache": (f"{_NUMBA_DISPATCH}.basic", "numba_funcify_ensure_cache"),
    "NumbaLinker": ("pytensor.link.numba.linker", "NumbaLinker"),   # the bench's step profile
    # Numba's compile events, for the bench's compile table
    "numba_event_listener": ("numba.core.event", "Listener"),
    "numba_event_register": ("numba.core.event", "register"),
}


def numba_internals_available():
    """Whether every Numba-side name above imports (False: symrnn runs PyTensor's own
    Numba code, without its kernels). Imports Numba."""
    try:
        for module, there in _NUMBA_NAMES.values():
            getattr(importlib.import_module(module), there)
    except (ImportError, AttributeError):
        return False
    return True


def numba_cache_key_of(py_func):
    """The on-disk cache key PyTensor registered for a generated Python function (None if
    it has none)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    return CACHED_SRC_FUNCTIONS.get(py_func)


def numba_ensure_cache_in_force():
    """The ``numba_funcify_ensure_cache`` PyTensor's Numba dispatch calls now."""
    return importlib.import_module(f"{_NUMBA_DISPATCH}.basic").numba_funcify_ensure_cache


@contextmanager
def numba_wrappers_remade(remake):
    """While in force, PyTensor's ``numba_funcify_ensure_cache`` returns
    ``(remake(function, op), key)`` for each op's (and graph's) cached function. PyTensor's
    Numba dispatch looks the name up in its module at each call, so this reaches every
    op of a graph converted meanwhile."""
    basic = importlib.import_module(f"{_NUMBA_DISPATCH}.basic")
    original = basic.numba_funcify_ensure_cache

    def ensure_cache(op, *args, **kwargs):
        function, key = original(op, *args, **kwargs)
        return remake(function, op), key

    basic.numba_funcify_ensure_cache = ensure_cache
    try:
        yield
    finally:
        basic.numba_funcify_ensure_cache = original


def __getattr__(name):
    """The Numba-side names, imported on first use (importing Numba takes about a second)."""
    if name not in _NUMBA_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, there = _NUMBA_NAMES[name]
    value = getattr(importlib.import_module(module), there)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_NUMBA_NAMES])
