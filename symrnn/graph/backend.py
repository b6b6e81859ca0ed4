"""Which PyTensor linker runs a compiled graph, and :func:`compile_function`.

The one module of the graph core that reaches into the backends' plumbing
(:mod:`symrnn.graph.numba`, :mod:`symrnn.graph.jax`): it enables what a mode needs.

``numba`` is PyTensor 3's default; ``c`` is the C virtual machine, offered
only where PyTensor links a BLAS (:func:`c_blas_flags`); ``py`` is the
pure-python FAST_COMPILE mode (quick to build, slow to run: the tests use it);
``jax`` needs the optional jax extra (:mod:`symrnn.graph.jax.static_shapes`).
``SYMRNN_BACKEND`` in the environment sets the default; nothing here touches
``pytensor.config``.

>>> sorted(BACKENDS)
['c', 'jax', 'numba', 'py']
"""
import importlib.util
import os
import warnings

import pytensor
from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_mode

from ..errors import ConfigError
from . import expansion, rewrites
from .jax import static_shapes as jax_backend
from .numba import blas_dot, glue
from .numba import dispatch as numba_dispatch
from .numba import precompile as numba_precompile
from .numba.inlining import InliningNumbaLinker

BACKENDS = ("numba", "c", "py", "jax")
DEFAULT_BACKEND = "numba"


def default_backend():
    return os.environ.get("SYMRNN_BACKEND", DEFAULT_BACKEND)


def check_backend(name):
    """Validate a backend name before anything is built; returns the name."""
    name = default_backend() if name is None else name
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid names: {', '.join(BACKENDS)}")
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise ConfigError("backend 'jax' needs jax: pip install 'symrnn[jax]' (or pip install jax; "
                          "for NVIDIA GPUs pip install 'jax[cuda12]')")
    return name


def require_backend(name):
    """:func:`check_backend`, and whether this machine can run it well: ``c`` needs a BLAS.
    Every model symrnn compiles asks this first (:func:`symrnn.graph.backend.compile_function`)."""
    name = check_backend(name)
    if name == "c" and not c_blas_flags():
        raise ConfigError(C_WITHOUT_BLAS)
    return name


C_WITHOUT_BLAS = (
    "backend 'c' needs a BLAS library for PyTensor's C code, and PyTensor found none (its "
    "blas__ldflags is empty): its matrix products would go through numpy's C API, measured at "
    "5.7 ms per lesson training step against 0.6 ms on numba, after 80 s compiling the first "
    "(batch 1, 256 hidden units, one BLAS thread). Use the default backend, numba, which calls "
    "BLAS itself; or give PyTensor a BLAS: "
    "install OpenBLAS (apt install libopenblas-dev, or conda install openblas), which PyTensor "
    "finds, or name it: PYTENSOR_FLAGS='blas__ldflags=-L/path/to/lib -lopenblas'. (The "
    "OpenBLAS inside the numpy and scipy wheels cannot be linked: its symbols have a scipy_ "
    "prefix.)")


def c_blas_flags():
    """PyTensor's link flags for BLAS ('' when it found none). Read on first use of ``c``:
    PyTensor looks for a BLAS then, warning when it finds none (this function says so instead)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        return pytensor.config.blas__ldflags


def get_mode(name=None):
    """The PyTensor ``Mode`` for a backend name (``None``: the default)."""
    name = check_backend(name)
    expansion.register()    # recurrence ops run as their scan graphs (symrnn.graph.expansion)
    rewrites.enable()       # float32 sums in float32 on the compiled backends
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    if name == "py":
        return _pytensor_mode("FAST_COMPILE")
    if name == "jax":
        jax_backend.enable()   # PyTensor's JAX dispatch, reductions mended (see symrnn.graph.jax.static_shapes)
    if name == "numba":
        blas_dot.enable()   # strides-aware matrix products (see symrnn.graph.numba.blas_dot)
        glue.enable()       # fills and leading sums that compile fast (symrnn.graph.numba.glue)
        # recurrence ops run their fused kernels (symrnn.graph.numba.dispatch)
        # each op compiled once, not again in its cached wrapper (symrnn.graph.numba.inlining)
        mode = Mode(linker=InliningNumbaLinker(), optimizer=_pytensor_mode("NUMBA").provided_optimizer)
        return numba_dispatch.keeping_recurrences(mode)
    return _pytensor_mode(name.upper())


def compile_function(inputs, outputs, updates=None, backend=None, **kwargs):
    """``pytensor.function`` with the chosen backend's mode (see :mod:`symrnn.graph.backend`);
    for ``jax``, compiled once per set of input shapes (:mod:`symrnn.graph.jax.static_shapes`)."""
    backend = require_backend(backend)
    if backend == "jax":
        return jax_backend.StaticShapeFunction(inputs, outputs, updates, get_mode("jax"), **kwargs)
    fn = pytensor.function(inputs, outputs, updates=updates, mode=get_mode(backend), **kwargs)
    if backend == "numba":   # Numba compiles at the first call: its kernel bodies start now
        numba_precompile.start(fn.maker.fgraph)
    return jax_backend.host_values(fn)   # reads weights a JAX function left on its device
