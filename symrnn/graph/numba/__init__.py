"""The Numba backend's plumbing: the recurrence op's fused kernels and the BLAS calls.

- :mod:`.dispatch`: registers the kernels for the recurrence ops, with on-disk cache keys;
- :mod:`.kernels`: the fused forward and backward kernels;
- :mod:`.fastmath`: vectorisable float32 activations;
- :mod:`.blas`: row-major GEMM/GEMV calls on scipy's BLAS;
- :mod:`.blas_dot`: a matrix-product op that reads strides, and its rewrite.

Importing this package imports nothing from Numba; :func:`symrnn.graph.backend.get_mode`
enables what the ``numba`` backend uses.
"""
