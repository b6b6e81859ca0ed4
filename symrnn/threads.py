"""How many threads BLAS may use (numpy only: no pytensor import).

>>> import os
>>> limit_blas_threads()
>>> os.environ["OPENBLAS_NUM_THREADS"] != ""
True
"""
import os

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n=1):
    """Default the BLAS thread count to ``n`` unless the user set one.

    The matrices of a character RNN step are small (batch x hidden), so extra
    BLAS threads mostly spin; on a busy 2-core machine a Numba training step
    measured 23 ms with 1 OpenBLAS thread and 643 ms with 2. Numba's dot goes
    through scipy's OpenBLAS, which is loaded at the first compile and reads
    these variables then, so calling this at program start is enough. The CLI
    and the lesson scripts call it; importing symrnn never does.
    """
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, str(int(n)))
