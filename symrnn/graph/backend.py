"""Which PyTensor linker runs a compiled graph.

``numba`` is PyTensor 3's default; ``c`` is the C virtual machine; ``py`` is
the pure-python FAST_COMPILE mode (quick to build, slow to run: the tests use
it); ``jax`` needs the optional jax extra. ``SYMRNN_BACKEND`` in the
environment sets the default; nothing here touches ``pytensor.config``.

>>> sorted(BACKENDS)
['c', 'jax', 'numba', 'py']
"""
import importlib.util
import os

from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_mode

from ..errors import ConfigError
from . import blas_dot, expansion, numba_dispatch, rewrites

BACKENDS = ("numba", "c", "py", "jax")
DEFAULT_BACKEND = "numba"


def default_backend():
    return os.environ.get("SYMRNN_BACKEND", DEFAULT_BACKEND)


def check_backend(name):
    """Validate a backend name before anything is built; returns the name."""
    name = default_backend() if name is None else name
    if name == "auto":
        raise ConfigError("backend 'auto' is gone: numba compiles a model in seconds now and is "
                          "the default; use --backend numba (or leave it out)")
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid names: {', '.join(BACKENDS)}")
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise ConfigError("backend 'jax' needs jax: pip install 'symrnn[jax]' (or pip install jax)")
    return name


def get_mode(name=None):
    """The PyTensor ``Mode`` for a backend name (``None``: the default)."""
    name = check_backend(name)
    expansion.register()    # recurrence ops run as their scan graphs (symrnn.graph.expansion)
    rewrites.enable()       # float32 sums in float32 on the compiled backends
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    if name == "py":
        return _pytensor_mode("FAST_COMPILE")
    if name == "numba":
        blas_dot.enable()   # strides-aware matrix products (see symrnn.graph.blas_dot)
        # recurrence ops run their fused kernels (symrnn.graph.numba_dispatch)
        return numba_dispatch.keeping_recurrences(_pytensor_mode("NUMBA"))
    return _pytensor_mode(name.upper())
