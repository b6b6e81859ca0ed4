"""Keep freed memory in the process so a training loop stops paying page faults.

Why: a compiled PyTensor function allocates every intermediate array afresh
on each call (a batch-64, 40-step training step allocates about 19 MB). glibc's
``malloc`` serves blocks above its mmap threshold with ``mmap`` and gives them
back with ``munmap`` when freed, and trims the top of its heap whenever more
than 128 kB is free there. Either way the next step touches brand-new pages,
and the kernel zero-fills each one. Measured on 2 shared cores (float32, V=86,
H=256, batch 64, seq 40): 4,700 minor page faults and 11 ms of system time per
42 ms step; with the settings below, none.

:func:`keep_freed_memory` raises glibc's mmap threshold to its maximum (32 MiB
on 64-bit), so those blocks come from the heap, and its trim threshold, so a
freed block stays mapped for the next step. The price is that the process
keeps its peak heap instead of returning it, which suits a training run. It
is a process-wide setting: like :func:`symrnn.threads.limit_blas_threads`, the
CLI, the lesson scripts and the benchmark call it at start; importing symrnn
never does. It does nothing where ``malloc`` is not glibc's, and leaves alone
any setting the user made with glibc's ``MALLOC_*_`` environment variables.

>>> keep_freed_memory() in (True, False)
True
"""
import ctypes
import os
import platform

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

    Safe to call more than once. Returns False (and changes nothing) on a
    platform without glibc's ``mallopt``.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    applied = [bool(mallopt(param, value)) for param, value, env in SETTINGS
               if env not in os.environ]
    return all(applied)
