"""Ops that run as their own inner graph on every backend except the one with their kernels.

An op that mixes in :class:`ExpandedGraph` (an ``OpFromGraph``) means exactly
its inner graph. :func:`register` adds one rewrite to PyTensor's ``optdb``
that replaces such a node by that graph, cloned onto the node's inputs, before
any other rewrite runs: FAST_COMPILE, FAST_RUN, the C and the JAX modes all
include it, so there the compiled function is the same as if the graph had
been written out (and the usual scan rewrites, merges and fusions apply to
it). A backend that implements the op itself excludes the rewrite by name
(:func:`keeping_ops`): symrnn's Numba mode does, and runs fused kernels.

:func:`register` is called by the op builders and by
:func:`symrnn.graph.backend.get_mode`, never on import; it registers once per process.

>>> import pytensor, pytensor.tensor as pt
>>> from pytensor.compile.mode import get_mode
>>> class Double(ExpandedGraph, OpFromGraph):
...     pass
>>> x = pt.vector("x")
>>> double = Double([x], [2 * x])
>>> register()
True
>>> f = pytensor.function([x], double(x), mode="FAST_COMPILE")
>>> [type(node.op).__name__ for node in f.maker.fgraph.toposort()]
['Elemwise']
>>> g = pytensor.function([x], double(x), mode=keeping_ops(get_mode("FAST_COMPILE")))
>>> [type(node.op).__name__ for node in g.maker.fgraph.toposort()]
['Double']
"""
from pytensor.compile import optdb
from pytensor.compile.builders import OpFromGraph
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.tensor.rewriting.ofg import inline_ofg_node

EXPANSION = "symrnn_expand_graph_ops"
# Before PyTensor's own OpFromGraph inlining (-0.01) and the first merge (0): the forward
# loop an expanded gradient recomputes must meet the forward op's loop in that merge.
POSITION = -0.02


class ExpandedGraph:
    """Marker for ``OpFromGraph`` subclasses that the expansion rewrite inlines."""


@node_rewriter([OpFromGraph])
def expand_graph_op(fgraph, node):
    """Replace an :class:`ExpandedGraph` node by its inner graph on the node's inputs.

    An op that can build its graph (``build_inner_graph``, a ``SymbolicOp``) builds it
    afresh for every node expanded. Inlining the stored inner graph would hand every
    compiled function the same ``Scan`` op objects (PyTensor interns an op's frozen
    inner graph, so two equal models share them), and compiling a ``Scan`` rewrites its
    inner graph in place: the py backend's ``Gemm`` would then reach a later JAX
    function, which has no conversion for it.
    """
    if not isinstance(node.op, ExpandedGraph):
        return None
    build = getattr(node.op, "build_inner_graph", None)
    if build is None:
        return inline_ofg_node(node)
    fresh = build(*node.inputs)
    return [old.type.filter_variable(new, allow_convert=True)
            for old, new in zip(node.outputs, fresh)]


_registered = []


def register():
    """Add the expansion rewrite to ``optdb`` (once per process); returns True."""
    if not _registered:
        optdb.register(EXPANSION, dfs_rewriter(expand_graph_op), "fast_compile", "fast_run",
                       position=POSITION)
        _registered.append(True)
    return True


def keeping_ops(mode):
    """``mode`` without the expansion: :class:`ExpandedGraph` nodes reach the linker."""
    return mode.excluding(EXPANSION)
