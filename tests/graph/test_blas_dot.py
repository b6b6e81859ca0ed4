"""The Numba matrix product that reads strides (symrnn.graph.numba.blas_dot) against numpy and the py backend."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.math import Dot
from pytensor.tensor.shape import Reshape

from symrnn.bench.spec import compiled_model, twin_weights
from symrnn.graph.backend import get_mode
from symrnn.graph.numba import blas_dot
from symrnn.layers import fitting

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


def operand_views(a, b):
    """Products whose operands are every layout the kernel meets, all from C-ordered a [m, k],
    b [k, n]: plain, transposed (column-major), a column slice (leading dimension > width),
    reversed rows (negative stride: copied first) and a broadcast row (zero stride)."""
    a_t = pt.matrix(dtype=a.dtype)   # a^T stored row-major, read back transposed
    return [a_t], [pt.dot(a, b),
                   pt.dot(a_t.T, b),
                   pt.dot(a, b.T.T),
                   pt.dot(b.T, a.T),
                   pt.dot(a[:, 1:], b[1:]),
                   pt.dot(a[::-1], b),
                   pt.dot(a, b[:, ::-1]),
                   pt.dot(pt.broadcast_to(a[0], a.shape), b)]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-13), ("float32", 1e-5)])
def test_every_operand_layout_matches_numpy(dtype, rtol):
    a, b = pt.matrix("a", dtype=dtype), pt.matrix("b", dtype=dtype)
    extra, outs = operand_views(a, b)
    fn = pytensor.function([a, b, *extra], outs, mode=get_mode("numba"))
    assert blas_dot.BlasDot in op_types(fn) and Dot not in op_types(fn)
    rng = np.random.default_rng(0)
    for m, k, n in [(5, 4, 3), (1, 7, 6), (64, 33, 17), (3, 1, 2), (1, 1, 4), (1, 40, 1)]:
        A, B = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
        got = fn(A, B, np.ascontiguousarray(A.T))
        A64, B64 = A.astype("float64"), B.astype("float64")
        expected = [A64 @ B64, A64 @ B64, A64 @ B64, (A64 @ B64).T, A64[:, 1:] @ B64[1:],
                    A64[::-1] @ B64, A64 @ B64[:, ::-1], np.broadcast_to(A64[0], A.shape) @ B64]
        for i, (g, e) in enumerate(zip(got, expected)):
            assert g.dtype == dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol, err_msg=f"output {i}, {(m, k, n)}")


def test_empty_operands_give_empty_or_zero_products():
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    fn = pytensor.function([a, b], pt.dot(a, b), mode=get_mode("numba"))
    assert fn(np.ones((0, 3)), np.ones((3, 4))).shape == (0, 4)
    assert fn(np.ones((2, 3)), np.ones((3, 0))).shape == (2, 0)
    np.testing.assert_array_equal(fn(np.ones((2, 0)), np.ones((0, 4))), np.zeros((2, 4)))


def test_misaligned_operands_raise():
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    fn = pytensor.function([a, b], pt.dot(a, b), mode=get_mode("numba"))
    with pytest.raises(ValueError):
        fn(np.ones((2, 3)), np.ones((4, 5)))


def test_other_backends_and_other_dots_keep_pytensors_dot():
    a, b = pt.matrix("a", dtype="float32"), pt.matrix("b", dtype="float32")
    for name in ("py", "c"):
        fn = pytensor.function([a, b], pt.dot(a, b), mode=get_mode(name))
        assert blas_dot.BlasDot not in op_types(fn)
    i = pt.imatrix("i")
    fn = pytensor.function([i], pt.dot(i, i), mode=get_mode("numba"))
    assert op_types(fn) == [Dot]   # integer products are not BLAS's


def test_flatten_then_transpose_rewrite_is_exact_and_only_when_provable():
    x, k = pt.tensor3("x"), pt.lscalar("k")
    moved = x.dimshuffle(2, 0, 1)
    proven = moved.reshape((x.shape[2], -1))   # first dimension provably the moved axis
    unproven = moved.reshape((k, -1))          # any k: must stay a plain reshape
    fn = pytensor.function([x, k], [proven, unproven], mode=get_mode("numba"))
    reshapes_of_moved = [n for n in fn.maker.fgraph.toposort() if isinstance(n.op, Reshape)
                         and n.inputs[0].owner and isinstance(n.inputs[0].owner.op, DimShuffle)
                         and n.inputs[0].owner.op.new_order == (2, 0, 1)]
    assert len(reshapes_of_moved) == 1
    X = np.random.default_rng(1).standard_normal((4, 3, 5))
    for array in (X, X[::-1]):
        got_proven, got_unproven = fn(np.ascontiguousarray(array), 15)
        np.testing.assert_array_equal(got_proven, array.transpose(2, 0, 1).reshape(5, -1))
        np.testing.assert_array_equal(got_unproven, array.transpose(2, 0, 1).reshape(15, -1))


def test_layer_model_numba_graph_uses_blas_dot():
    """Graph structure only (building runs the rewrites; Numba compiles at the first call)."""
    fn = fitting.train_fn(compiled_model(7, "simplernn", 5, 6, "float64", backend="numba", embed=3))
    types = op_types(fn)
    assert Dot not in types and types.count(blas_dot.BlasDot) >= 3


@pytest.mark.heavy
def test_layer_model_on_numba_trains_like_py():
    """The CLI's simplernn model, numbers: a cold Numba compile of a training graph, so
    opt-in (--heavy, which .ci/run passes), as tests/test_packaging.py's Numba-vs-py run."""
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 7, (4, 6)).astype("int32"), rng.integers(0, 7, (4, 6))
    results = []
    for backend in ("py", "numba"):
        model = compiled_model(7, "simplernn", 5, 6, "float64", backend=backend, lr=0.1, embed=3)
        errors = [float(fitting.train_fn(model)(x, y)[0]) for _ in range(3)]
        results.append((errors, twin_weights(model)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    for name, value in results[0][1].items():
        np.testing.assert_allclose(value, results[1][1][name], rtol=1e-10, atol=1e-13, err_msg=name)
