"""Graph rewrites for the compiled backends: the same values, arranged for speed.

:func:`enable` registers them in PyTensor's rewrite database (once per
process, from :func:`symrnn.graph.backend.get_mode`; never on import):

- **sums in their own dtype**: PyTensor sums float32 in a float64 accumulator
  by default, also the sums ``pytensor.grad`` makes for a bias gradient over
  ``B * T`` rows; that costs a cast per element for no measurable gain at
  these sizes (a float32 model's weights and gradients are float32 anyway).
  The float64 graphs the tests compare are unchanged.

>>> import pytensor, pytensor.tensor as pt
>>> from symrnn.graph.backend import get_mode
>>> x = pt.matrix("x", dtype="float32")
>>> f = pytensor.function([x], x.sum(axis=0), mode=get_mode("numba"))
>>> [node.op.acc_dtype for node in f.maker.fgraph.toposort() if hasattr(node.op, "acc_dtype")]
['float32']
"""
import pytensor.tensor as pt
from pytensor.compile import optdb
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.tensor.math import Sum

REWRITE_NAME = "symrnn_sums_in_own_dtype"
TAGS = ("numba", "fast_run")   # the compiled backends (FAST_COMPILE, the py backend, keeps its sums)


@node_rewriter([Sum])
def local_sum_in_own_dtype(fgraph, node):
    """``Sum(x, acc_dtype=float64) -> Sum(x, acc_dtype=x.dtype)`` for float32 ``x`` whose
    sum is float32 anyway."""
    x, op = node.inputs[0], node.op
    if x.dtype == "float32" and op.dtype == "float32" and op.acc_dtype != "float32":
        return [pt.sum(x, axis=op.axis, acc_dtype="float32")]
    return None


_enabled = []


def enable():
    """Register the rewrites (once per process)."""
    if not _enabled:
        # after the graph rewrites that make the sums (gradients, canonicalize), before fusion
        optdb.register(REWRITE_NAME, in2out(local_sum_in_own_dtype), *TAGS, position=47.5)
        _enabled.append(True)
    return True
