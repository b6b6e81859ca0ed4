"""Graph-level building blocks: ops whose meaning is a PyTensor graph.

:mod:`symrnn.graph.recurrence` holds the recurrence op (a whole loop over time
as one node), :mod:`symrnn.graph.expansion` turns it back into its graph on
every backend but Numba, and :mod:`symrnn.graph.numba_dispatch` runs it there
with the fused kernels of :mod:`symrnn.graph.numba_kernels`. Importing this
package compiles and registers nothing.
"""
