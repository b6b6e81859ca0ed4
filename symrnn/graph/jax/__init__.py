"""The JAX backend's plumbing.

- :mod:`.static_shapes`: graphs compiled once per set of input shapes, PyTensor's JAX
  reductions mended, weights left on the device;
- :mod:`.parallel`: batches split across JAX devices (data parallel training).

Importing this package imports nothing from JAX.
"""
