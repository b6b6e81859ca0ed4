"""The graph core: everything a model's symbolic graph is made of, bottom to top.

- :mod:`.params`: initialisers (numpy) and shared variables;
- :mod:`.cells` and :mod:`.gated`: pure one-step functions ``step(x_t, h_tm1, *params)``;
- :mod:`.recurrent`: the loop over time (``scan`` and a python-unrolled twin);
- :mod:`.recurrence`: the same loop as one op (its meaning is that ``scan``), which
  :mod:`.expansion` turns back into its graph on every backend but Numba, where
  :mod:`.numba_dispatch` runs it with the fused kernels of :mod:`.numba_kernels`
  (:mod:`.fastmath`: vectorisable float32 activations; :mod:`.blas`: GEMM calls);
- :mod:`.losses`, :mod:`.metrics`, :mod:`.updates`, :mod:`.optimizers`: losses,
  metrics, update rules and optimizer objects;
- :mod:`.training` and :mod:`.backend`: gradients, compiled functions and which
  PyTensor linker runs them (:mod:`.blas_dot`: the Numba matrix product;
  :mod:`.jax_backend`: JAX's graphs, one per set of shapes; :mod:`.parallel`:
  batches split across JAX devices).

Nothing here imports :mod:`symrnn.layers`, :mod:`symrnn.app` or :mod:`symrnn.bench`;
importing it compiles and registers nothing.
"""
