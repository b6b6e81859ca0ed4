"""The Numba backend's plumbing: the fused kernels of the recurrence and loss ops, BLAS calls.

- :mod:`.dispatch`: registers the kernels for the recurrence and softmax cross-entropy ops,
  with on-disk cache keys;
- :mod:`.kernels`: the recurrence op's fused forward and backward kernels;
- :mod:`.xent`: the softmax cross-entropies' fused kernels, sparse and one-hot (one pass per row);
- :mod:`.fastmath`: vectorisable float32 activations;
- :mod:`.blas`: row-major GEMM/GEMV calls on scipy's BLAS;
- :mod:`.blas_dot`: a matrix-product op that reads strides, and its rewrite.

Importing this package imports nothing from Numba; :func:`symrnn.graph.backend.get_mode`
enables what the ``numba`` backend uses.
"""
