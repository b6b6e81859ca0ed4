"""FillAlloc, LeadingSum, ScatterAddRows and ShapeCheck (symrnn.graph.numba.glue): their
Numba code equals PyTensor's own ops, the rewrite takes exactly the nodes it should, and
gradients through them hold."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from symrnn import compat
from symrnn.graph.backend import get_mode
from symrnn.graph.numba.glue import (
    FillAlloc,
    LeadingSum,
    ScatterAddRows,
    ShapeCheck,
    fills,
    leading_axes,
)

pytest.importorskip("numba")

RNG = np.random.default_rng(7)


def numba_fn(inputs, outputs, **kwargs):
    return pytensor.function(inputs, outputs, mode=get_mode("numba"), **kwargs)


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
    # PyTensor 3.2+ fuses these sums into the elementwise loops instead
    assert (LeadingSum in op_types(fn)) == (compat.PYTENSOR_VERSION < (3, 2))
    reference = pytensor.function([x, W, b], [loss, *grads], mode="FAST_COMPILE")
    args = RNG.normal(size=(4, 5, 3)), RNG.normal(size=(3, 6)), RNG.normal(size=6)
    for got, want in zip(fn(*args), reference(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def has_scatter(fn):
    return any(issubclass(t, ScatterAddRows) for t in op_types(fn))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ids", [[0, 2, 2, 1, 2], [-1, 0, -3], [], [4]])
def test_scatter_add_rows_equals_numpy_add_at(dtype, ids):
    x, y, i = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype), pt.lvector("i")
    fn = numba_fn([x, y, i], pt.inc_subtensor(x[i], y))
    assert has_scatter(fn)
    ids = np.array(ids, dtype="int64")
    x0, y0 = RNG.normal(size=(5, 4)).astype(dtype), RNG.normal(size=(len(ids), 4)).astype(dtype)
    want = x0.copy()
    np.add.at(want, ids, y0)             # repeated ids add up
    got = fn(x0.copy(), y0, ids)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-15)


def test_scatter_add_rows_refuses_bad_ids_and_rows():
    x, y, i = pt.dmatrix("x"), pt.dmatrix("y"), pt.lvector("i")
    fn = numba_fn([x, y, i], pt.inc_subtensor(x[i], y))
    with pytest.raises(IndexError, match="out of bounds"):
        fn(np.zeros((3, 2)), np.ones((1, 2)), np.array([3]))
    with pytest.raises(IndexError, match="out of bounds"):
        fn(np.zeros((3, 2)), np.ones((1, 2)), np.array([-4]))
    with pytest.raises(ValueError, match="one row per id"):
        fn(np.zeros((3, 2)), np.ones((2, 2)), np.array([0]))


def test_embedding_gradient_is_a_row_scatter_and_matches_pytensors_own():
    E, ids, W = pt.dmatrix("E"), pt.lmatrix("ids"), pt.dmatrix("W")
    loss = (pt.tanh(pt.dot(E[ids.flatten()], W)) ** 2).sum()   # rows looked up as the layers do
    grads = pytensor.grad(loss, [E, W])
    fn = numba_fn([E, ids, W], grads)
    assert has_scatter(fn)
    reference = pytensor.function([E, ids, W], grads, mode="FAST_COMPILE")
    args = RNG.normal(size=(7, 3)), RNG.integers(0, 7, size=(4, 6)), RNG.normal(size=(3, 5))
    for got, want in zip(fn(*args), reference(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_other_increments_keep_pytensors_code():
    x, y, i = pt.dmatrix("x"), pt.dmatrix("y"), pt.lvector("i")
    v = pt.dvector("v")
    for out in (pt.set_subtensor(x[i], y), pt.inc_subtensor(x[i], v)):   # a set; a broadcast row
        assert not has_scatter(numba_fn([x, y, i, v], out, on_unused_input="ignore"))


def test_column_increments_scatter_into_the_transposed_matrix():
    """PyTensor up to 3.1 rewrites ``inc_subtensor(x[:, i], y)`` to a row scatter of ``x.T`` (a
    strided view, and not in place): the rows are read and written where they lie. 3.2+
    keeps the column increment, which stays PyTensor's."""
    x, y, i = pt.dmatrix("x"), pt.dmatrix("y"), pt.lvector("i")
    fn = numba_fn([x, y, i], pt.inc_subtensor(x[:, i], y))
    assert has_scatter(fn) == (compat.PYTENSOR_VERSION < (3, 2))
    x0, y0, ids = RNG.normal(size=(3, 5)), RNG.normal(size=(3, 4)), np.array([4, 0, 4, 2])
    want = x0.copy()
    np.add.at(want.T, ids, y0.T)
    np.testing.assert_allclose(fn(x0, y0, ids), want, rtol=1e-15)


def test_shape_check_passes_the_input_and_names_the_axis_it_refuses():
    x, n = pt.dmatrix("x"), pt.lscalar("n")
    fn = numba_fn([x, n], pt.specify_shape(x, (None, n)) * 2)
    assert ShapeCheck in op_types(fn)
    np.testing.assert_array_equal(fn(np.ones((2, 3)), 3), np.full((2, 3), 2.0))
    for wrong in (4, 2):
        with pytest.raises(AssertionError, match="axis 1"):
            fn(np.ones((2, 3)), wrong)
