"""The Numba backend's plumbing: the fused kernels of the recurrence and loss ops, BLAS calls.

- :mod:`.dispatch`: registers the kernels for the recurrence and softmax cross-entropy ops,
  with on-disk cache keys;
- :mod:`.kernels`: the recurrence op's fused forward and backward kernels;
- :mod:`.bodies`: each kernel's body compiled on its own, with one signature per configuration;
- :mod:`.precompile`: a helper process compiling a graph's bodies while its function compiles;
- :mod:`.keys`: the kernels' on-disk cache keys;
- :mod:`.xent`: the softmax cross-entropies' fused kernels, sparse and one-hot (one pass per row);
- :mod:`.fastmath`: vectorisable float32 activations;
- :mod:`.blas`: row-major GEMM/GEMV calls on scipy's BLAS;
- :mod:`.blas_dot`: a matrix-product op that reads strides, and its rewrite;
- :mod:`.direct_gemm`: the float32 per-step product with ``W_h`` packed once per kernel call;
- :mod:`.glue`: fills, leading-axes sums, row scatters and shape checks that compile fast;
- :mod:`.registry`: registers such ops' Numba code and rewrite once.

Importing this package imports nothing from Numba; :func:`symrnn.graph.backend.get_mode`
enables what the ``numba`` backend uses.
"""
