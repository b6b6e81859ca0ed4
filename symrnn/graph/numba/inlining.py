"""A Numba linker whose cached wrappers inline the code they wrap: one compile per op, not two.

PyTensor's Numba backend wraps each op's jitted function (and the whole graph's) in a
generated ``def name(*args): return jitable_func(*args)`` that it caches on disk
under the op's key (``numba_funcify_ensure_cache``). Numba compiles the wrapped
function, then the wrapper, which links the wrapped function's code in and optimises
and emits all of it again: every op's code, and then the whole graph's, went through
LLVM twice. A cold lesson training function spent about a third of its Numba compile
in those wrappers (the graph's own wrapper alone about 1.8 s).

:class:`InliningNumbaLinker` (the ``numba`` backend's linker, see
:func:`symrnn.graph.backend.get_mode`) converts its graph with each wrapper PyTensor
makes remade by :func:`inlined`: with the wrapped function's parameters, calling an
``inline="always"`` copy of it, cached under the same key. Numba then types the
wrapped code inside the wrapper and compiles it once. The code is the same, so are
the results. A wrapped function with ``*args`` of its own, one whose bytecode Numba's
inliner does not take (:func:`inlinable`: f-strings, with-blocks, ...), a ``Scan``'s,
or a wrapper not of that form, is left as PyTensor made it. Nothing changes outside this
linker's conversions.
"""
import dis
import inspect
from functools import cache

from pytensor.scan.op import Scan

from ... import compat

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class InliningNumbaLinker(compat.NumbaLinker):
    """PyTensor's Numba linker, its cached wrappers remade by :func:`inlined`."""

    def fgraph_convert(self, fgraph, **kwargs):
        if not _internals_available():   # a PyTensor without them: its own wrappers
            return super().fgraph_convert(fgraph, **kwargs)
        with compat.numba_wrappers_remade(remade):
            return super().fgraph_convert(fgraph, **kwargs)


def remade(wrapper, op):
    """:func:`inlined` ``wrapper`` of ``op``'s code, but a ``Scan``'s as it is: it calls its
    inner function in a way Numba refuses once inlined."""
    return wrapper if isinstance(op, Scan) else inlined(wrapper)


@cache
def _internals_available():
    return compat.numba_internals_available()


def inlined(wrapper):
    """``wrapper`` (PyTensor's cached ``name(*args) -> jitable_func(*args)``) remade with
    the wrapped function's parameters and its code inlined; unchanged where it is not of
    that form."""
    py_func = getattr(wrapper, "py_func", None)
    cache_key = compat.numba_cache_key_of(py_func) if py_func else None
    wrapped = py_func.__globals__.get("jitable_func") if cache_key else None
    parameters = _positional_parameters(wrapped)
    if parameters is None:
        return wrapper
    import numba  # only a Numba compile gets here
    names = ", ".join(f"a{i}" for i in range(len(parameters)))
    copy = numba.jit(**{**wrapped.targetoptions, "inline": "always"})(wrapped.py_func)
    source = f"def {py_func.__name__}({names}):\n    return jitable_func({names})\n"
    function = compat.compile_numba_function_src(
        source, py_func.__name__, {**py_func.__globals__, "jitable_func": copy},
        cache_key=cache_key)
    if not inlinable(function):
        # CPython calls with more than 30 positional arguments through a built tuple
        # (CALL_FUNCTION_EX, as for *args), which Numba's inliner refuses: a graph with
        # many inputs (two stacked LSTMs trained with Adam have 34) keeps PyTensor's wrapper.
        return wrapper
    return compat.numba_njit(function, cache=True)


def _positional_parameters(function):
    """The parameters of a jitted ``function`` if all are plain positional ones and Numba
    can inline its code (:func:`inlinable`), else None."""
    py_func = getattr(function, "py_func", None)
    if py_func is None or not hasattr(function, "targetoptions") or not inlinable(py_func):
        return None
    parameters = list(inspect.signature(py_func).parameters.values())
    return parameters if all(p.kind in POSITIONAL for p in parameters) else None


# Bytecode Numba's inliner does not take: calls with *args, f-strings (their IR names broke
# an inlined copy), with-blocks (object mode), try blocks, generators and inner functions.
NOT_INLINABLE = {"CALL_FUNCTION_EX", "BUILD_STRING", "FORMAT_VALUE", "FORMAT_SIMPLE",
                 "FORMAT_WITH_SPEC", "CONVERT_VALUE", "SETUP_WITH", "BEFORE_WITH",
                 "SETUP_FINALLY", "SETUP_CLEANUP", "PUSH_EXC_INFO", "YIELD_VALUE",
                 "MAKE_FUNCTION", "LOAD_CLOSURE"}


def inlinable(py_func):
    """Whether ``py_func``'s bytecode holds nothing of :data:`NOT_INLINABLE` (the wrapped
    functions of PyTensor's ops are small: elementwise loops, reshapes, calls)."""
    code = py_func.__code__
    if any(isinstance(const, type(code)) for const in code.co_consts):
        return False
    return not any(i.opname in NOT_INLINABLE for i in dis.get_instructions(code))
