"""FillAlloc and LeadingSum (symrnn.graph.numba.glue): their Numba code equals PyTensor's
own ops, the rewrite takes exactly the nodes it should, and gradients through them hold."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from symrnn.graph.backend import get_mode
from symrnn.graph.numba.glue import FillAlloc, LeadingSum, fills, leading_axes

pytest.importorskip("numba")

RNG = np.random.default_rng(7)


def numba_fn(inputs, outputs):
    return pytensor.function(inputs, outputs, mode=get_mode("numba"))


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("axes,shape", [
    ((0,), (5, 7)), ((0, 1), (4, 3, 6)), ((0,), (4, 3, 6)), (None, (4, 3, 6)), (None, (9,)),
    ((0,), (0, 3)), ((0, 1), (2, 0, 5)), (None, (0, 4)), ((0,), (1, 1)),
])
def test_leading_sum_equals_numpy(dtype, axes, shape):
    x = pt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    fn = numba_fn([x], x.sum(axis=axes, acc_dtype=dtype))
    assert LeadingSum in op_types(fn)
    value = RNG.normal(size=shape).astype(dtype)
    got = fn(value)
    want = value.astype("float64").sum(axis=axes)
    assert got.dtype == dtype and got.shape == want.shape
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_leading_sum_reads_strided_and_transposed_inputs():
    x = pt.dtensor3("x")
    fn = numba_fn([x], [x.dimshuffle(2, 0, 1).sum(axis=(0, 1)), x[::2].sum(axis=0)])
    assert op_types(fn).count(LeadingSum) == 2
    value = RNG.normal(size=(6, 5, 4))
    got_t, got_s = fn(value)
    np.testing.assert_allclose(got_t, value.transpose(2, 0, 1).sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(got_s, value[::2].sum(axis=0), rtol=1e-12)


def test_leading_sum_propagates_nan_and_inf():
    x = pt.dmatrix("x")
    fn = numba_fn([x], [x.sum(axis=0), x.sum()])
    value = np.array([[1.0, np.inf, 2.0], [np.nan, 1.0, -np.inf]])
    by_column, total = fn(value)
    assert np.isnan(by_column[0]) and by_column[1] == np.inf and by_column[2] == -np.inf
    assert np.isnan(total)


@pytest.mark.parametrize("build", [
    lambda x: x.sum(axis=1),                      # not leading axes
    lambda x: x.sum(axis=(0, 2)),
    lambda x: x.astype("int64").sum(axis=0),      # not a float
    lambda x: x.sum(axis=0, dtype="float64"),     # float32 summed into float64
    lambda x: x.max(axis=0),                      # not a sum
])
def test_other_reductions_keep_pytensors_code(build):
    x = pt.ftensor3("x")
    fn = numba_fn([x], build(x))
    assert LeadingSum not in op_types(fn)
    value = RNG.normal(size=(3, 4, 5)).astype("float32")
    want = pytensor.function([x], build(x), mode="FAST_COMPILE")(value)
    np.testing.assert_allclose(fn(value), want, rtol=1e-5, atol=1e-5)   # float32 sums


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("value_shape,out_shape", [
    ((), (3,)), ((), (2, 3, 4)), ((1, 1), (5, 6)), ((1,), (2, 3)), ((1, 1, 1), (2, 0, 3)),
])
def test_fill_alloc_equals_numpy(dtype, value_shape, out_shape):
    value = pt.tensor("v", dtype=dtype, shape=value_shape)
    sizes = [pt.lscalar(f"n{i}") for i in range(len(out_shape))]
    fn = numba_fn([value, *sizes], pt.alloc(value, *sizes))
    assert FillAlloc in op_types(fn)
    v = np.asarray(RNG.normal(size=value_shape) * 10).astype(dtype)
    got = fn(v, *out_shape)
    assert got.dtype == dtype and got.shape == out_shape
    np.testing.assert_array_equal(got, np.broadcast_to(v, out_shape))


def test_fill_alloc_refuses_a_negative_size_before_writing():
    value, n = pt.dscalar("v"), pt.lscalar("n")
    fn = numba_fn([value, n], pt.alloc(value, n, 3))
    with pytest.raises(ValueError, match="negative"):
        fn(1.0, -2)


def test_alloc_of_a_row_keeps_pytensors_code():
    row, n = pt.dvector("row"), pt.lscalar("n")
    fn = numba_fn([row, n], pt.alloc(row, n, row.shape[0]))
    assert FillAlloc not in op_types(fn)
    np.testing.assert_array_equal(fn(np.arange(3.0), 2), np.tile(np.arange(3.0), (2, 1)))


def test_rewrite_conditions():
    v, w, n = pt.dscalar("v"), pt.dvector("w"), pt.lscalar("n")
    assert fills(pt.alloc(v, n).owner) and not fills(pt.alloc(w, n, w.shape[0]).owner)
    x = pt.dtensor3("x")
    assert [leading_axes(x.sum(axis=a).owner.op, 3) for a in ((0,), (0, 1), None, (1,), (0, 2))] \
        == [1, 2, 3, 0, 0]


def test_gradients_through_fills_and_leading_sums_match_pytensors_own():
    """A loss whose gradient graph holds zero fills and bias sums, float64: the Numba
    function with the glue ops against FAST_COMPILE (PyTensor's Python code)."""
    x, W, b = pt.dtensor3("x"), pt.dmatrix("W"), pt.dvector("b")
    h = pt.tanh(pt.dot(x, W) + b)
    loss = (h ** 2).sum() + pt.zeros_like(h).sum() * b.sum()
    grads = pytensor.grad(loss, [W, b])
    fn = numba_fn([x, W, b], [loss, *grads])
    assert LeadingSum in op_types(fn)
    reference = pytensor.function([x, W, b], [loss, *grads], mode="FAST_COMPILE")
    args = RNG.normal(size=(4, 5, 3)), RNG.normal(size=(3, 6)), RNG.normal(size=6)
    for got, want in zip(fn(*args), reference(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
