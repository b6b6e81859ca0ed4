"""The graph core: everything a model's symbolic graph is made of, bottom to top.

- :mod:`.params`: initialisers (numpy) and shared variables;
- :mod:`.cells` and :mod:`.gated`: pure one-step functions ``step(x_t, h_tm1, *params)``;
- :mod:`.loops`: the loop over time (``scan`` and a python-unrolled twin), and
  :mod:`.clipping`: gradient clipping inside a step;
- :mod:`.recurrence`: the same loop as one op (its meaning is that ``scan``), which
  :mod:`.expansion` turns back into its graph on every backend but Numba, where
  :mod:`symrnn.graph.numba` runs it with fused kernels; likewise :mod:`.lookup`, an
  embedding's rows projected as one op, and :mod:`.projection`, which builds a
  recurrent layer's input projection with it;
- :mod:`.losses`, :mod:`.metrics`, :mod:`.updates`, :mod:`.optimizers`: losses,
  metrics, update rules and optimizer objects;
- :mod:`.gradients`, :mod:`.training` and :mod:`.backend`: gradients and updates,
  the compiled training function, and which PyTensor linker runs a graph (the only
  module here that reaches the backends' plumbing: :mod:`symrnn.graph.numba`, the
  kernels and the BLAS matrix product; :mod:`symrnn.graph.jax`, JAX's graphs, one
  per set of shapes, and batches split across JAX devices).

Nothing here imports :mod:`symrnn.layers`, :mod:`symrnn.app` or :mod:`symrnn.bench`;
importing it compiles and registers nothing.
"""
