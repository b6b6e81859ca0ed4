"""A table lookup projected by a matrix, ``E[ids] . W + b``, as one op.

A recurrent layer fed by an ``Embedding`` projects each looked-up row: ``xw =
E[ids] . W + b``, ``[N, G]`` for ``N`` ids. For a character vocabulary the
table has far fewer rows than a training batch has ids (``V = 86`` against
``N = T * B = 2560``), and ``(E . W + b)[ids]`` is the same matrix for a
fraction of the work: one ``[V, F] x [F, G]`` product instead of ``[N, F] x
[F, G]``, and a gradient that adds each id's row of ``dxw`` into ``[V, G]``
before two more products of ``V`` rows, instead of two of ``N`` rows. For one
id at a time (generation, or B = 1, T = 8) the table's product would cost more
than the rows'. The number of ids is not known when the graph is built, so the
choice is made per call.

:class:`LookupProjection` means :func:`lookup_projection_graph`, and its
gradient :class:`LookupProjectionGrad` means ``pytensor.grad`` of that graph.
On every backend but Numba both are replaced by their graphs before any
rewrite (:mod:`symrnn.graph.expansion`); on Numba each is one kernel
(:mod:`symrnn.graph.numba.lookup`) that projects the table when ``N >= V``
and the rows otherwise, which the tests prove equal to the graphs, both ways.
Measured on the character LSTM (B = 64, T = 40, V = 86, F = 42, G = 1024,
float32): the forward and the gradient took about 1.1 ms together, against
10 ms for the products, the bias and its sum in the graph.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> E, W, b = pt.dmatrix("E"), pt.dmatrix("W"), pt.dvector("b")
>>> ids = pt.lvector("ids")
>>> f = pytensor.function([E, ids, W, b], lookup_projection(E, ids, W, b), mode="FAST_COMPILE")
>>> f(np.eye(3), np.array([2, 0]), np.arange(6.0).reshape(3, 2), np.ones(2)).tolist()
[[5.0, 6.0], [1.0, 2.0]]
"""
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.tensor.symbolic import TensorSymbolicOp

from ..compat import infer_shape_args
from . import expansion


def lookup_projection_graph(table, ids, W, b):
    """The meaning of :class:`LookupProjection`: ``[table[ids] . W + b]``, ``[N, G]``."""
    return [pt.dot(table[ids], W) + b]


def lookup_projection_grad_graph(table, ids, W, b, g):
    """The meaning of :class:`LookupProjectionGrad`: ``[d table, d W, d b]`` given the
    gradient ``g`` of :func:`lookup_projection_graph`'s output, by ``pytensor.grad``."""
    [xw] = lookup_projection_graph(table, ids, W, b)
    return pytensor.grad(None, [table, W, b], known_grads={xw: g},
                         disconnected_inputs="ignore", return_disconnected="zero")


class LookupProjection(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(table [V, F], ids [N], W [F, G], b [G]) -> xw [N, G]``; means
    :func:`lookup_projection_graph`. Its gradient is :class:`LookupProjectionGrad`."""

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        return [(input_shapes[1][0], input_shapes[2][1])]

    def build_inner_graph(self, table, ids, W, b):
        return lookup_projection_graph(table, ids, W, b)

    def pullback(self, inputs, outputs, output_grads):
        [g] = output_grads
        if isinstance(g.type, DisconnectedType):
            g = pt.zeros_like(outputs[0])
        table, ids, W, b = inputs
        d_table, d_W, d_b = LookupProjectionGrad()(table, ids, W, b, g)
        return [d_table, DisconnectedType()(), d_W, d_b]


class LookupProjectionGrad(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(table, ids, W, b, g [N, G]) -> (d table, d W, d b)``; means
    :func:`lookup_projection_grad_graph` (``b`` only gives the shape of its gradient)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("on_unused_input", "ignore")   # b's values: the gradient never reads them
        super().__init__(*args, **kwargs)

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        table, _, W, b, _ = input_shapes
        return [tuple(table), tuple(W), tuple(b)]

    def build_inner_graph(self, table, ids, W, b, g):
        return lookup_projection_grad_graph(table, ids, W, b, g)


def lookup_projection(table, ids, W, b):
    """``table[ids] . W + b`` for a 2-d ``table``, integer ``ids`` [N], ``W`` [F, G] and
    ``b`` [G], as one :class:`LookupProjection` node."""
    expansion.register()   # any mode that compiles this graph can expand it
    return LookupProjection()(table, ids, W, b)
