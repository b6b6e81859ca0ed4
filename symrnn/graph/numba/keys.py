"""On-disk cache keys of the fused kernels: each names a kernel's configuration and code.

PyTensor's Numba cache finds a compiled function by the key its dispatcher gives
(:mod:`.dispatch`) and Numba's own index (the argument types). A key holds the
kernel's kind and configuration, a version (bump it whenever a kernel's code
changes what it computes or how) and a digest of the source files the kernels are
built from, so an edit that forgets the bump still misses the cache.

>>> cache_key("forward", ("simple", "tanh"), "float32") == cache_key("forward", ("simple", "tanh"), "float32")
True
>>> cache_key("forward", ("simple", "tanh"), "float32") == cache_key("forward", ("simple", "tanh"), "float64")
False
"""
from hashlib import sha256
from pathlib import Path

# Bump when kernels, bodies, fastmath, blas, blas_dot or direct_gemm change what the kernels
# compute or how.
# 2: the step mask; 3: the LSTM's packed W_h; 4: every cell's packed W_h; 5: the LSTM's
# saved gates copied element by element; 6: the bodies compiled on their own (bodies.py);
# 7: the gated cells' per-row loops on row views (vectorised); 8: the weight gradients read
# h_tm1 in hs without a mask (no h_in copies)
IMPLEMENTATION_VERSION = 8
# Paths from this folder: the kernels build the cell records' counts into their code.
KERNEL_SOURCES = ("kernels.py", "bodies.py", "fastmath.py", "blas.py", "blas_dot.py",
                  "direct_gemm.py", "../cellrecords.py")
# The cross-entropy kernels (symrnn.graph.numba.xent) have their own version and sources.
XENT_VERSION = 2   # 2: the one-hot kernels (kinds onehot_forward, onehot_backward)
XENT_SOURCES = ("xent.py",)
# The lookup projection's kernels (symrnn.graph.numba.lookup), likewise.
LOOKUP_VERSION = 1
LOOKUP_SOURCES = ("lookup.py", "bodies.py", "blas.py", "blas_dot.py")


def cache_key(kind, props, dtype):
    """A key naming the ``kind`` of recurrence kernel for ``props`` (a tuple: an op's props,
    or a body's configuration) and ``dtype`` uniquely."""
    text = str(("symrnn.graph.recurrence", kind, tuple(props), str(dtype), IMPLEMENTATION_VERSION,
                source_digest()))
    return sha256(text.encode()).hexdigest()


def xent_cache_key(kind, dtype, ids_dtype=None):
    """:func:`cache_key` for a cross-entropy kernel (``kind``) of float ``dtype`` and ids
    (``None`` for the one-hot kernels, which take none)."""
    return _family_key("symrnn.graph.losses", kind, dtype, ids_dtype, XENT_VERSION, XENT_SOURCES)


def lookup_cache_key(kind, dtype, ids_dtype):
    """:func:`cache_key` for a lookup-projection kernel (``kind``) of float ``dtype`` and
    integer ``ids_dtype``."""
    return _family_key("symrnn.graph.lookup", kind, dtype, ids_dtype, LOOKUP_VERSION,
                       LOOKUP_SOURCES)


def _family_key(family, kind, dtype, ids_dtype, version, sources):
    text = str((family, kind, str(dtype), str(ids_dtype), version, source_digest(sources)))
    return sha256(text.encode()).hexdigest()


_digest = {}


def source_digest(sources=KERNEL_SOURCES):
    """sha256 of the named source files (paths from this folder), read once per process."""
    if sources not in _digest:
        here = Path(__file__).parent
        text = b"".join((here / name).read_bytes() for name in sources)
        _digest[sources] = sha256(text).hexdigest()
    return _digest[sources]
