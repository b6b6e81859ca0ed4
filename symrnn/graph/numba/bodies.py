"""Kernel bodies compiled on their own, with one signature per configuration.

A fused kernel (:mod:`.kernels`) is two functions. The *adapter* is what
PyTensor's graph function calls: it takes the op's inputs in whatever array
layouts the graph hands it (contiguous, or views such as a transpose), so Numba
compiles it once per combination of layouts, and only typing the graph in order
says which. The adapter hands the *body* C-ordered copies of its arrays (no copy
for an array that is C-ordered already), so the body's argument types depend on
nothing but the kernel's configuration: :func:`array_types` writes them down before
any graph is compiled. That is what lets a helper process compile the bodies,
the biggest code of a training function, while the graph's own function compiles
(:mod:`.precompile`). BlasDot's product takes its matrices typed with any strides
(layout "A", a full slice ``a[:, :]`` of either), so its one body serves every product.

:func:`separate` jits a body for that: generated from the body's source with its
closure's values as globals (Numba's on-disk index of a closure would hold its
cells' pickles, which name each jitted function by a per-process id, so no other
process would ever find the entry), cached under a key naming the configuration
and the kernels' code (:func:`symrnn.graph.numba.keys.cache_key`).

>>> import numpy as np
>>> [str(t) for t in array_types("float32", (3, 2))]
['array(float32, 3d, C)', 'array(float32, 2d, C)']
>>> [str(t) for t in array_types(["float64", "int32"], (2, 1))]
['array(float64, 2d, C)', 'array(int32, 1d, C)']
"""
import inspect
import os
import textwrap
from typing import NamedTuple

import numpy as np

from ... import compat


class Body(NamedTuple):
    """A kernel's body, jitted on its own (:func:`separate`), and the one signature it has."""
    function: object
    signature: tuple

    @classmethod
    def of(cls, body, key, ranks, dtypes, layout="C"):
        """The :class:`Body` of a Python function ``body`` whose parameters are arrays of
        ``dtypes`` (see :func:`array_types`), the given ``ranks`` and ``layout``, cached
        under ``key``."""
        return cls(separate(body, key), array_types(dtypes, ranks, layout))

    def compile(self):
        """Compile the body for its signature (or load it from the on-disk cache)."""
        self.function.compile(self.signature)


# Each kernel module's source lines, read when it was imported (keep_source): a body is
# generated from its function's lines, which must be those of the code this process runs,
# not of a file replaced since (a package upgraded under a running process).
_SOURCES = {}


def keep_source(path):
    """Remember the source lines of the module at ``path`` (call it at the module's import)."""
    with open(path, encoding="utf-8") as f:
        _SOURCES[path] = f.readlines()


def separate(body, key):
    """``body`` (a Python function of a module that called :func:`keep_source`, possibly a
    closure) jitted on its own and cached on disk under ``key``, with the kernels' options."""
    code = body.__code__
    lines = _SOURCES[code.co_filename][code.co_firstlineno - 1:]
    source = textwrap.dedent("".join(inspect.getblock(lines)))
    env = dict(body.__globals__)
    env.update(zip(code.co_freevars, (cell.cell_contents for cell in body.__closure__ or ())))
    function = compat.compile_numba_function_src(source, body.__name__, env, cache_key=key)
    if function.__code__.co_varnames != code.co_varnames:
        raise RuntimeError(f"the source of {body.__qualname__} does not match its code")
    return compat.numba_njit(function, error_model="numpy", cache=numba_cache_enabled())


def array_types(dtypes, ndims, layout="C"):
    """The Numba types of writeable arrays, one per rank in ``ndims``, of ``dtypes`` (one
    dtype for all, or one each) and ``layout``: ``"C"`` is what an adapter's
    ``np.ascontiguousarray`` hands a body, ``"A"`` what a full slice ``a[:, :]`` of any
    matrix is typed as."""
    from numba import from_dtype, types
    if isinstance(dtypes, (str, np.dtype)):
        dtypes = [dtypes] * len(ndims)
    return tuple(types.Array(from_dtype(np.dtype(d)), n, layout) for d, n in zip(dtypes, ndims))


def adapter(name, body, parameters, absent=(), dtype=None, results=None):
    """Jitted ``name(the parameters not absent)``, calling ``body(every parameter)`` with a
    C-ordered copy of each array (no copy for one in C order already).

    An absent parameter gets an empty ``[0, 0]`` array of ``dtype``. With ``results`` (a
    name per parameter, in order: the body returns one gradient each) the adapter returns
    only the gradients of the parameters it takes; without, whatever the body returns.
    Generated parameters, not ``*args``, keep Numba from building tuples of array structs.
    """
    taken = [p for p in parameters if p not in absent]
    passed = ["np.empty((0, 0), dtype)" if p in absent else f"np.ascontiguousarray({p})"
              for p in parameters]
    source = f"def {name}({', '.join(taken)}):\n"
    if results is None:
        source += f"    return body({', '.join(passed)})\n"
    else:
        kept = [r for r, p in zip(results, parameters) if p not in absent]
        source += (f"    {', '.join(results)} = body({', '.join(passed)})\n"
                   f"    return {', '.join(kept)}\n")   # at least three: a tuple
    function = compat.compile_numba_function_src(source, name,
                                                 {"body": body, "np": np, "dtype": dtype})
    return compat.numba_njit(function, error_model="numpy")


def numba_cache_enabled():
    """Whether PyTensor keeps compiled Numba code on disk (its ``numba__cache`` flag)."""
    import pytensor
    return bool(getattr(pytensor.config, "numba__cache", False))


def is_on_disk(function):
    """Whether a cached jitted ``function`` has an entry in its on-disk index (of any
    signature: a body has one). False where Numba's cache internals are not as expected."""
    cache = getattr(function, "_cache", None)
    index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
    return index is not None and os.path.exists(index)
