"""The sparse softmax cross-entropy op (symrnn.graph.losses): its Numba kernels equal its graph.

The graph is the ops' meaning on backend ``py`` (FAST_COMPILE, where both ops
are expanded into their graphs); the kernels run in a function compiled on
``numba``, which must hold the two ops and nothing of the expanded graph.
Compared: the loss, the probabilities and ``dz`` for an upstream gradient that
differs per row, in float64 to 1e-12 (logits of +-1000, a row of equal logits,
N=1, V=1 included), and in float32 against the float64 graph to 1e-5. The
gradient is also checked against finite differences, ids out of range and
mismatched shapes raise in the kernels, and a connected probabilities gradient
falls back to the softmax rule's graph.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from symrnn.compat import inferred_shapes
from symrnn.graph import losses
from symrnn.graph.backend import compile_function, get_mode
from symrnn.graph.losses import SparseSoftmaxXent, SparseSoftmaxXentGrad
from symrnn.graph.numba.dispatch import xent_cache_key

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

OPS = {SparseSoftmaxXent, SparseSoftmaxXentGrad}


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


_functions = {}


def function(backend, dtype="float64"):
    """``f(z, ids, g) -> [loss, probs, dz]``, ``dz`` the gradient for ``g`` as the loss's."""
    key = (backend, dtype)
    if key not in _functions:
        z, ids, g = pt.matrix("z", dtype=dtype), pt.ivector("ids"), pt.vector("g", dtype=dtype)
        loss = losses.sparse_softmax_crossentropy(z, ids)
        assert isinstance(loss.owner.op, SparseSoftmaxXent)
        probs = loss.owner.outputs[1]
        [dz] = pytensor.grad(None, [z], known_grads={loss: g})
        fn = compile_function([z, ids, g], [loss, probs, dz], backend=backend)
        if backend == "numba":
            assert set(op_types(fn)) == OPS   # the kernels: no max, exp or sum of the graph
        else:
            assert not set(op_types(fn)) & OPS   # expanded into the graph
        _functions[key] = fn
    return _functions[key]


def problem(name, seed=0):
    """``(z, ids, g)`` in float64 for a named case."""
    rng = np.random.default_rng(seed)
    N, V = {"random": (6, 9), "one_row": (1, 9), "one_class": (5, 1)}.get(name, (6, 9))
    z = rng.normal(0, 3, (N, V))
    if name == "extreme":
        z[0] += 1000.0                      # every logit large
        z[1, :] = -1000.0                   # every logit very negative
        z[2, 3], z[2, 5] = 1000.0, -1000.0  # one dominates, one vanishes
        z[3, :] = 0.25                      # every logit equal
        z[4, :] = 1000.0                    # equal and large
    ids = rng.integers(0, V, N).astype("int32")
    if name == "extreme":
        ids[2] = 5                          # the target is the vanishing logit
    return z, ids, rng.normal(size=N)


CASES = ["random", "extreme", "one_row", "one_class"]


@pytest.mark.parametrize("name", CASES)
def test_kernels_equal_the_graph_in_float64(name):
    values = problem(name)
    got, expected = function("numba")(*values), function("py")(*values)
    for label, g, e in zip(("loss", "probs", "dz"), got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype == np.float64, label
        assert np.isfinite(g).all(), label
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12, err_msg=f"{label} ({name})")


def test_the_graph_is_the_textbook_cross_entropy():
    z, ids, g = problem("extreme")
    loss, probs, dz = function("py")(z, ids, g)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -log_p[np.arange(len(ids)), ids], rtol=1e-13)
    np.testing.assert_allclose(probs, np.exp(log_p), rtol=1e-13, atol=1e-300)
    onehot = np.eye(z.shape[1])[ids]
    np.testing.assert_allclose(dz, g[:, None] * (np.exp(log_p) - onehot), rtol=1e-13, atol=1e-300)
    assert loss[2] == pytest.approx(2000.0) and loss[3] == pytest.approx(np.log(z.shape[1]))


@pytest.mark.parametrize("name", ["random", "extreme"])
def test_float32_kernels_match_the_float64_graph(name):
    z, ids, g = problem(name, seed=1)
    z32, g32 = z.astype("float32"), g.astype("float32")
    got = function("numba", "float32")(z32, ids, g32)
    expected = function("py")(z32.astype("float64"), ids, g32.astype("float64"))
    for label, a, e in zip(("loss", "probs", "dz"), got, expected):
        assert a.dtype == np.float32 and a.shape == e.shape, label
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6, err_msg=f"{label} ({name})")


def test_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 7, 5).astype("int32")
    weights = rng.normal(size=5)   # a different upstream gradient per row
    verify_grad(lambda z: (losses.sparse_softmax_crossentropy(z, pt.as_tensor(ids))
                           * weights).sum(),
                [rng.normal(size=(5, 7))], rng=rng, abs_tol=1e-7, rel_tol=1e-7,
                mode=get_mode("py"), no_debug_ref=False)


@pytest.mark.parametrize("bad_id", [-1, 9, 2 ** 31 - 1])
def test_an_id_out_of_range_raises_instead_of_reading_memory(bad_id):
    z, ids, g = problem("random")
    ids[3] = bad_id
    with pytest.raises(ValueError, match="an id is outside"):
        function("numba")(z, ids, g)


def grad_function():
    probs, ids, g = pt.dmatrix("probs"), pt.ivector("ids"), pt.dvector("g")
    dz = SparseSoftmaxXentGrad()(probs, ids, g)
    fn = compile_function([probs, ids, g], dz, backend="numba")
    assert op_types(fn) == [SparseSoftmaxXentGrad]
    return fn


def test_the_backward_kernel_checks_ids_and_shapes_before_writing():
    fn = grad_function()
    z, ids, g = problem("random")
    _, probs, dz = function("numba")(z, ids, g)
    np.testing.assert_array_equal(fn(probs, ids, g), dz)
    with pytest.raises(ValueError, match="an id is outside"):
        fn(probs, np.where(np.arange(len(ids)) == 2, probs.shape[1], ids).astype("int32"), g)
    with pytest.raises(ValueError, match="ids must be"):
        fn(probs, ids[1:], g)
    with pytest.raises(ValueError, match="g_loss must be"):
        fn(probs, ids, g[1:])


def test_the_forward_kernel_checks_the_ids_length():
    z, ids, g = problem("random")
    with pytest.raises(ValueError, match="ids must be"):
        function("numba")(z, ids[1:], g[1:])


def test_the_kernels_read_arrays_of_any_strides():
    z, ids, g = problem("random")
    wide = np.zeros((z.shape[0], 2 * z.shape[1])); wide[:, ::2] = z
    z_f = np.asfortranarray(z)
    expected = function("py")(z, ids, g)
    for z_view in (wide[:, ::2], z_f):
        for got, e in zip(function("numba")(z_view, ids, g), expected):
            np.testing.assert_allclose(got, e, rtol=1e-12, atol=1e-12)


@pytest.mark.heavy   # compiles a Numba graph of its own
def test_a_connected_probabilities_gradient_falls_back_to_the_softmax_rule():
    rng = np.random.default_rng(3)
    z, ids, _ = problem("random")
    weights = rng.normal(size=z.shape)
    zs, t = pt.dmatrix("z"), pt.ivector("ids")
    loss, probs = losses.sparse_softmax_crossentropy(zs, t).owner.outputs
    cost = loss.sum() + (probs * weights).sum()
    fn = compile_function([zs, t], pytensor.grad(cost, zs), backend="numba")
    assert SparseSoftmaxXent in op_types(fn) and SparseSoftmaxXentGrad not in op_types(fn)
    log_p = losses.log_softmax(zs)
    reference = -log_p[pt.arange(zs.shape[0]), t].sum() + (pt.exp(log_p) * weights).sum()
    ref = compile_function([zs, t], pytensor.grad(reference, zs), backend="py")
    np.testing.assert_allclose(fn(z, ids), ref(z, ids), rtol=1e-12, atol=1e-12)


def test_the_ops_say_their_output_shapes():
    z, t, g = pt.dmatrix("z"), pt.ivector("ids"), pt.dvector("g")
    loss = losses.sparse_softmax_crossentropy(z, t)
    [dz] = pytensor.grad(None, [z], known_grads={loss: g})
    shapes = []
    for node in (loss.owner, dz.owner):
        symbolic = [[v.shape[i] for i in range(v.ndim)] for v in node.inputs]
        shapes += [pt.stack([pt.as_tensor(d) for d in s])
                   for s in inferred_shapes(node.op, node, symbolic)]
    fn = pytensor.function([z, t, g], shapes, mode=get_mode("py"), on_unused_input="ignore")
    said = [tuple(s) for s in fn(np.zeros((4, 3)), np.zeros(4, "int32"), np.zeros(4))]
    assert said == [(4,), (4, 3), (4, 3)]


def test_cache_keys_name_the_kernel_and_dtypes():
    keys = {xent_cache_key(kind, dtype, ids)
            for kind in ("forward", "backward") for dtype in ("float32", "float64")
            for ids in ("int32", "int64")}
    assert len(keys) == 8


def test_the_float32_exp_is_accurate_and_exact_at_its_ends():
    from symrnn.compat import numba_njit
    from symrnn.graph.numba.xent import exp_for
    exp = exp_for("float32")

    @numba_njit(final_function=True, error_model="numpy")   # as the kernels compile
    def apply(y):
        out = np.empty_like(y)
        for i in range(y.size):
            out[i] = exp(y[i])
        return out
    y = np.linspace(-87, 0, 1_000_001, dtype="float32")
    got, exact = apply(y), np.exp(y.astype("float64"))
    assert got.dtype == np.float32
    assert (np.abs(got - exact) / exact).max() < 5e-7   # a few float32 roundings
    ends = apply(np.array([0.0, -87.5, -1000.0, -np.inf, np.nan], dtype="float32"))
    assert ends[0] == 1.0 and (ends[1:4] == 0.0).all() and np.isnan(ends[4])
