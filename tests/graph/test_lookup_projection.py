"""The lookup projection (symrnn.graph.lookup): its Numba kernels equal its graph, both ways.

The graph (``table[ids] . W + b`` and ``pytensor.grad`` of it) is the ops' meaning on
backend ``py``, where both ops are expanded; the kernels run in a function compiled on
``numba``, which must hold the two ops and nothing of the graph. The kernels project
the table when there are at least as many ids as rows and the rows otherwise, so every
case is run on both sides of that line (and on it), with repeated and negative ids, in
float64 to 1e-12 and in float32 against the float64 graph. The gradient is checked
against finite differences too, bad ids and shapes raise in the kernels, and an
``Embedding`` feeding a recurrent layer is projected through the op.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from symrnn.compat import inferred_shapes
from symrnn.graph.backend import compile_function, get_mode
from symrnn.graph.lookup import LookupProjection, LookupProjectionGrad, lookup_projection
from symrnn.graph.numba.keys import lookup_cache_key
from symrnn.graph.projection import time_major_projection

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

OPS = {LookupProjection, LookupProjectionGrad}
V, F, G = 9, 4, 6


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


_functions = {}


def function(backend, dtype="float64", ids_dtype="int64"):
    """``f(table, ids, W, b, g) -> [xw, d table, d W, d b]`` for the upstream gradient ``g``."""
    key = (backend, dtype, ids_dtype)
    if key not in _functions:
        table, W, g = (pt.matrix(name, dtype=dtype) for name in ("table", "W", "g"))
        b, ids = pt.vector("b", dtype=dtype), pt.vector("ids", dtype=ids_dtype)
        xw = lookup_projection(table, ids, W, b)
        grads = pytensor.grad(None, [table, W, b], known_grads={xw: g})
        fn = compile_function([table, ids, W, b, g], [xw, *grads], backend=backend)
        if backend == "numba":
            assert set(op_types(fn)) == OPS   # the kernels: no product or scatter of the graph
        else:
            assert not set(op_types(fn)) & OPS   # expanded into the graph
        _functions[key] = fn
    return _functions[key]


# (name, number of ids): fewer ids than rows (the rows' products), as many, more (the table's)
CASES = [("one id", 1), ("fewer ids", 4), ("as many", V), ("more ids", 40)]


def problem(n_ids, seed=0, dtype="float64", ids_dtype="int64"):
    """``(table, ids, W, b, g)``: ids repeat (the first two name one row, one of them
    negative: counted from the end), and others are negative too."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(-V, V, n_ids).astype(ids_dtype)
    if n_ids >= 2:   # the first id's row again, counted from the other end
        ids[1] = ids[0] - V if ids[0] >= 0 else ids[0] + V
    values = [rng.normal(size=(V, F)), ids, rng.normal(size=(F, G)), rng.normal(size=G),
              rng.normal(size=(n_ids, G))]
    return [v if v is ids else v.astype(dtype) for v in values]


def reference(table, ids, W, b, g):
    """numpy's ``[xw, d table, d W, d b]``, by hand."""
    rows = table[ids]
    d_table = np.zeros_like(table)
    np.add.at(d_table, ids, g @ W.T)
    return [rows @ W + b, d_table, rows.T @ g, g.sum(axis=0)]


@pytest.mark.parametrize("name, n_ids", CASES)
def test_kernels_equal_the_graph_in_float64(name, n_ids):
    values = problem(n_ids)
    got, graph = function("numba")(*values), function("py")(*values)
    for k, (a, e, by_hand) in enumerate(zip(got, graph, reference(*values))):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=f"{name}: output {k}")
        np.testing.assert_allclose(a, by_hand, rtol=1e-12, atol=1e-12, err_msg=f"{name}: {k}")


@pytest.mark.parametrize("name, n_ids", CASES)
def test_float32_kernels_match_the_float64_graph(name, n_ids):
    values = problem(n_ids, seed=1)
    as32 = [v if v.dtype.kind == "i" else v.astype("float32") for v in values]
    got = function("numba", "float32", "int32")(*[v.astype("int32") if v.dtype.kind == "i"
                                                  else v for v in as32])
    for a, e in zip(got, function("py")(*values)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


def test_no_ids_give_an_empty_projection_and_zero_gradients():
    got = function("numba")(*problem(0))
    assert got[0].shape == (0, G)
    for grad, shape in zip(got[1:], [(V, F), (F, G), (G,)]):
        np.testing.assert_array_equal(grad, np.zeros(shape))


@pytest.mark.parametrize("n_ids", [4, 40])   # the rows' products, the table's
def test_the_kernels_gradient_against_finite_differences(n_ids):
    rng = np.random.default_rng(2)
    ids = pt.as_tensor(rng.integers(0, V, n_ids))
    weights = rng.normal(size=(n_ids, G))   # a different upstream gradient per element
    verify_grad(lambda table, W, b: (lookup_projection(table, ids, W, b) * weights).sum(),
                [rng.normal(size=(V, F)), rng.normal(size=(F, G)), rng.normal(size=G)],
                rng=rng, abs_tol=1e-6, rel_tol=1e-6, mode=get_mode("numba"))


@pytest.mark.parametrize("bad_id", [V, -V - 1, 2 ** 31 - 1])
def test_an_id_out_of_range_raises_in_both_kernels(bad_id):
    for n_ids in (4, 40):
        table, ids, W, b, g = problem(n_ids)
        ids[2] = bad_id
        with pytest.raises(IndexError, match="an id is out of range"):
            function("numba")(table, ids, W, b, g)


def test_the_kernels_check_every_shape_before_writing():
    table, ids, W, b, g = problem(40)
    fn = function("numba")
    with pytest.raises(ValueError, match=r"W must be \[F, G\]"):
        fn(table, ids, W[1:], b, g)
    with pytest.raises(ValueError, match=r"b must be \[G\]"):
        fn(table, ids, W, b[1:], g)
    with pytest.raises(ValueError, match=r"g must be \[N, G\]"):
        fn(table, ids, W, b, g[1:])


def test_the_kernels_read_arrays_of_any_strides():
    table, ids, W, b, g = problem(40)
    wide = np.zeros((V, 2 * F)); wide[:, ::2] = table
    expected = function("py")(table, ids, W, b, g)
    for table_view, W_view in ((wide[:, ::2], np.asfortranarray(W)), (table, W.T.copy().T)):
        for got, e in zip(function("numba")(table_view, ids, W_view, b, g), expected):
            np.testing.assert_allclose(got, e, rtol=1e-12, atol=1e-12)


def test_the_ops_say_their_output_shapes():
    table, W, g = pt.dmatrix("table"), pt.dmatrix("W"), pt.dmatrix("g")
    b, ids = pt.dvector("b"), pt.lvector("ids")
    xw = lookup_projection(table, ids, W, b)
    grads = pytensor.grad(None, [table, W, b], known_grads={xw: g})
    shapes = []
    for node in (xw.owner, grads[0].owner):
        symbolic = [[v.shape[i] for i in range(v.ndim)] for v in node.inputs]
        shapes += [pt.stack([pt.as_tensor(d) for d in s])
                   for s in inferred_shapes(node.op, node, symbolic)]
    fn = pytensor.function([table, ids, W, b, g], shapes, mode=get_mode("py"),
                           on_unused_input="ignore")
    said = [tuple(s) for s in fn(*problem(5))]
    assert said == [(5, G), (V, F), (F, G), (G,)]


def test_cache_keys_name_the_kernel_and_dtypes():
    keys = {lookup_cache_key(kind, dtype, ids)
            for kind in ("forward", "backward") for dtype in ("float32", "float64")
            for ids in ("int32", "int64")}
    assert len(keys) == 8


def op_types_under(variable):
    """The types of every op ``variable`` is computed by."""
    found, todo = set(), [variable]
    while todo:
        node = todo.pop().owner
        if node is not None:
            found.add(type(node.op))
            todo.extend(node.inputs)
    return found


def test_an_embedding_is_projected_by_the_op_and_one_hot_rows_are_not():
    ids = pt.lmatrix("ids")
    W, b = pt.dmatrix("W"), pt.dvector("b")
    table = pt.tensor("E", shape=(V, F), dtype="float64")   # rows known: a table lookup
    embedded = time_major_projection(table[ids], W, b)
    one_hot = time_major_projection(pt.as_tensor(np.eye(V))[ids], W, b)
    assert LookupProjection in op_types_under(embedded)
    assert LookupProjection not in op_types_under(one_hot)
