"""The recurrent layers' input projection (symrnn.graph.projection) equals x . W + b,
time-major, forward and gradients, whichever way it reads its input."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.math import Dot

from symrnn.graph.projection import time_major_projection

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

V, F, G, B, T = 7, 3, 5, 4, 6
RNG = np.random.default_rng(0)
IDS = RNG.integers(0, V, (B, T))


def reference(x, W, b):
    return pt.dot(x, W).dimshuffle(1, 0, 2) + b


def inputs(kind):
    """``(x, leaves)``: the projected input and the leaves it is differentiated by."""
    ids = pt.constant(IDS)
    if kind == "embedding":
        E = pt.tensor("E", shape=(V, F), dtype="float64")
        return E[ids], [E]
    if kind == "one-hot":
        return pt.constant(np.eye(V))[ids], []
    x = pt.tensor("x", shape=(None, T, F), dtype="float64")
    return x, [x]


VALUES = {"E": RNG.normal(size=(V, F)), "x": RNG.normal(size=(B, T, F))}


@pytest.mark.parametrize("kind", ["embedding", "one-hot", "features"])
def test_projection_equals_x_dot_w_plus_b_forward_and_backward(kind):
    x, leaves = inputs(kind)
    width = V if kind == "one-hot" else F
    W = pt.tensor("W", shape=(width, G), dtype="float64")
    b = pt.tensor("b", shape=(G,), dtype="float64")
    seed = pt.constant(RNG.normal(size=(T, B, G)))
    wrt = leaves + [W, b]
    outputs = []
    for xw in (time_major_projection(x, W, b), reference(x, W, b)):
        cost = (xw * seed).sum()
        outputs.append(pytensor.function(wrt, [xw] + pytensor.grad(cost, wrt), mode="FAST_COMPILE"))
    values = [VALUES[v.name] for v in leaves] + [RNG.normal(size=(width, G)), RNG.normal(size=G)]
    got, want = outputs[0](*values), outputs[1](*values)
    assert got[0].shape == (T, B, G)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_one_hot_rows_pick_rows_of_w_without_a_product():
    x, _ = inputs("one-hot")
    W = pt.matrix("W", dtype="float64")
    f = pytensor.function([W], time_major_projection(x, W, pt.zeros(G)), mode="FAST_COMPILE")
    products = [n for n in f.maker.fgraph.apply_nodes
                if isinstance(n.op, Dot) or "Dot" in type(n.op).__name__ or "Gemm" in type(n.op).__name__]
    assert products == []
    Wv = RNG.normal(size=(V, G))
    np.testing.assert_array_equal(f(Wv), Wv[IDS.T])
