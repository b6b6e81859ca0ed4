"""Process plumbing for the programs symrnn starts: BLAS threads, malloc, child environments,
the helper processes that compile ahead.

Numpy-free and PyTensor-free; importing this module changes nothing. The CLI,
the lesson scripts and the benchmark call :func:`limit_blas_threads` and
:func:`keep_freed_memory` at start, and ``fit`` (:mod:`symrnn.layers.fitting`)
calls :func:`keep_freed_memory` before it trains; the graph core never does.

>>> import os
>>> limit_blas_threads()
>>> os.environ["OPENBLAS_NUM_THREADS"] != ""
True
>>> keep_freed_memory() in (True, False)
True
>>> env = isolated_caches({"PYTENSOR_FLAGS": "floatX=float32,base_compiledir=/old"}, "/tmp/c")
>>> env["PYTENSOR_FLAGS"], env["NUMBA_CACHE_DIR"]
('floatX=float32,base_compiledir=/tmp/c/pytensor', '/tmp/c/numba')
"""
import ctypes
import json
import os
import platform
import subprocess
import sys

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def limit_blas_threads(n=1):
    """Default the BLAS thread count to ``n`` unless the user set one.

    The matrices of a character RNN step are small (batch x hidden), so extra
    BLAS threads mostly spin; on a busy 2-core machine a Numba training step
    measured 23 ms with 1 OpenBLAS thread and 643 ms with 2. Numba's dot goes
    through scipy's OpenBLAS, which is loaded at the first compile and reads
    these variables then, so calling this at program start is enough.
    """
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, str(int(n)))


# --- freed memory kept for reuse ------------------------------------------------
# A compiled PyTensor function allocates every intermediate array afresh on each call (a
# batch-64, 40-step training step allocates about 19 MB). glibc serves big blocks with mmap
# and trims its heap when freed, so each step touched brand-new, kernel-zeroed pages:
# measured 4,700 minor page faults and 11 ms of system time per 42 ms step (2 shared
# cores, float32, V=86, H=256). With the settings below, none.

# mallopt(3) parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024   # glibc's ceiling on 64-bit (4 MiB * sizeof(long))
SETTINGS = (   # (parameter, value, environment variable that overrides it)
    (M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX, "MALLOC_MMAP_THRESHOLD_"),
    (M_TRIM_THRESHOLD, 1024 * 1024 * 1024, "MALLOC_TRIM_THRESHOLD_"),
    (M_TOP_PAD, 16 * 1024 * 1024, "MALLOC_TOP_PAD_"),
)


def _mallopt():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def keep_freed_memory():
    """Ask glibc to keep freed blocks for reuse; True if every setting took.

    Raises the mmap threshold to its maximum (32 MiB on 64-bit), so big blocks
    come from the heap, and the trim threshold, so a freed block stays mapped
    for the next step; the process then keeps its peak heap, which suits a
    training run. Settings the user made with glibc's ``MALLOC_*_`` variables
    are left alone. Safe to call more than once. Returns False (and changes nothing) on a
    platform without glibc's ``mallopt``.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    applied = [bool(mallopt(param, value)) for param, value, env in SETTINGS
               if env not in os.environ]
    return all(applied)


# --- child processes ---------------------------------------------------------------



def with_package_on_path(env):
    """``env`` with the directory holding this ``symrnn`` first on ``PYTHONPATH``."""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def isolated_caches(env, cache_dir):
    """``env`` with PyTensor's and Numba's caches under ``cache_dir``.

    ``base_compiledir``, not ``compiledir``: PyTensor 3 keeps its Numba cache in
    ``base_compiledir/numba`` (not in ``NUMBA_CACHE_DIR``), so a fresh
    ``compiledir`` alone would leave the Numba cache warm. Compile-dir flags
    already in ``PYTENSOR_FLAGS`` are replaced.
    """
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and "compiledir" not in f]
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    return env


# --- helper processes that compile ahead ----------------------------------------------
# Numba keeps compiled code on disk, so a second process can compile what a run will need
# while the run works: symrnn.graph.numba.precompile (a graph's kernel bodies, while the
# graph's own function compiles) and symrnn.app.ahead (symrnn train's after-training
# functions, while it trains).

COMPILE_AHEAD_SWITCH = "SYMRNN_COMPILE_AHEAD"


def usable_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def compile_ahead_wanted():
    """Whether helpers may compile ahead: two or more usable cores, and not turned off with
    ``SYMRNN_COMPILE_AHEAD=0``."""
    return usable_cores() >= 2 and os.environ.get(COMPILE_AHEAD_SWITCH, "1") != "0"


def start_helper(module, spec, report=False):
    """``python -m module`` (a ``subprocess.Popen``) reading the JSON-able ``spec`` on its
    standard input, with this ``symrnn`` on its path, one BLAS thread (its arrays are tiny)
    and no helpers of its own. Its output is thrown away; with ``report``, its standard
    output is a pipe (``process.stdout``) for the caller to read."""
    env = with_package_on_path(dict(os.environ))
    env.update(dict.fromkeys(BLAS_THREAD_VARIABLES, "1"))
    env[COMPILE_AHEAD_SWITCH] = "0"
    process = subprocess.Popen([sys.executable, "-m", module], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE if report else subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    with process.stdin as stdin:
        stdin.write(json.dumps(spec).encode())
    return process


def lower_priority(niceness):
    """Run this process at a lower priority (Unix; nothing elsewhere): a helper's work
    comes after the run's own."""
    if hasattr(os, "nice"):
        os.nice(niceness)
