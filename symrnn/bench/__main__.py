import sys

from ..runtime import limit_blas_threads

limit_blas_threads()   # before numpy loads its BLAS (the runner imports numpy): 1, as symrnn train
from .runner import main  # noqa: E402

sys.exit(main())
