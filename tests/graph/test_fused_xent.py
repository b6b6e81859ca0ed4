"""The softmax cross-entropy ops (symrnn.graph.losses): their Numba kernels equal their graphs.

The graph is the ops' meaning on backend ``py`` (FAST_COMPILE, where both ops
are expanded into their graphs); the kernels run in a function compiled on
``numba``, which must hold the two ops and nothing of the expanded graph.
Compared: the loss, the probabilities and ``dz`` for an upstream gradient that
differs per row, in float64 to 1e-12 (logits of +-1000, a row of equal logits,
N=1, V=1 included), and in float32 against the float64 graph to 1e-5. The
gradient is also checked against finite differences, ids out of range and
mismatched shapes raise in the kernels, and a connected probabilities gradient
falls back to the softmax rule's graph.

The one-hot (soft-target) form, ``SoftmaxXent`` and ``SoftmaxXentGrad``, gets the
same checks (soft target rows of any sum and all-zero rows besides, mismatched
target shapes instead of ids), and its gradient wrt the targets,
``-log softmax(z)``, is checked against finite differences and the textbook form.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from symrnn.compat import inferred_shapes
from symrnn.graph import losses
from symrnn.graph.backend import compile_function, get_mode
from symrnn.graph.losses import (
    SoftmaxXent,
    SoftmaxXentGrad,
    SparseSoftmaxXent,
    SparseSoftmaxXentGrad,
)
from symrnn.graph.numba.dispatch import xent_cache_key
from symrnn.layers import fitting

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
    keys |= {xent_cache_key(kind, dtype)
             for kind in ("onehot_forward", "onehot_backward") for dtype in ("float32", "float64")}
    assert len(keys) == 12


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


# -- the one-hot (soft-target) form: SoftmaxXent, SoftmaxXentGrad ---------------------
ONEHOT_OPS = {SoftmaxXent, SoftmaxXentGrad}
_onehot_functions = {}


def onehot_function(backend, dtype="float64", with_dy=False):
    """``f(z, y, g) -> [loss, probs, dz]``, ``dz`` the gradient for ``g`` as the loss's;
    ``with_dy``: ``dy`` too, the targets' gradient (a graph of its own on every backend)."""
    key = (backend, dtype, with_dy)
    if key not in _onehot_functions:
        z, y, g = (pt.matrix("z", dtype=dtype), pt.matrix("y", dtype=dtype),
                   pt.vector("g", dtype=dtype))
        loss = losses.softmax_crossentropy(z, y)
        assert isinstance(loss.owner.op, SoftmaxXent)
        probs = loss.owner.outputs[1]
        grads = pytensor.grad(None, [z, y] if with_dy else [z], known_grads={loss: g})
        fn = compile_function([z, y, g], [loss, probs, *grads], backend=backend)
        types = op_types(fn)
        if backend == "numba" and not with_dy:
            assert set(types) == ONEHOT_OPS   # the kernels: no max, exp or sum of the graph
        elif backend == "numba":
            assert ONEHOT_OPS <= set(types)
        else:
            assert not set(types) & ONEHOT_OPS   # expanded into the graph
        _onehot_functions[key] = fn
    return _onehot_functions[key]


def onehot_problem(name, seed=0):
    """``(z, y, g)`` in float64 for a named case: one-hot targets unless soft."""
    z, ids, g = problem({"soft_extreme": "extreme", "soft": "random",
                         "zero_rows": "random"}.get(name, name), seed)
    N, V = z.shape
    y = np.eye(V)[ids]
    rng = np.random.default_rng(seed + 100)
    if name in ("soft", "soft_extreme"):
        y = rng.random((N, V)) * rng.uniform(0, 3, (N, 1))   # rows of any sum
        y[:, rng.integers(0, V)] = 0.0                       # and some zeros
    if name == "soft_extreme":
        y[2, 5] = 2.5                                        # weight on the vanishing logit
    if name == "zero_rows":
        y[[0, 4]] = 0.0                                      # no target at all: loss 0, dz 0
    return z, y, g


ONEHOT_CASES = ["random", "extreme", "one_row", "one_class", "soft", "soft_extreme", "zero_rows"]
ONEHOT_OUTPUTS = ("loss", "probs", "dz", "dy")   # dy: with_dy only


def textbook(z, y, g):
    """``[loss, probs, dz, dy]`` in numpy from the log-softmax."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = np.exp(log_p)
    return [-(y * log_p).sum(axis=1), probs,
            g[:, None] * (probs * y.sum(axis=1, keepdims=True) - y), -log_p * g[:, None]]


@pytest.mark.parametrize("name", ONEHOT_CASES)
def test_onehot_kernels_equal_the_graph_in_float64(name):
    values = onehot_problem(name)
    got, expected = onehot_function("numba")(*values), onehot_function("py")(*values)
    for label, a, e in zip(ONEHOT_OUTPUTS, got, expected):
        assert a.shape == e.shape and a.dtype == e.dtype == np.float64, label
        assert np.isfinite(a).all(), label
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=f"{label} ({name})")


@pytest.mark.heavy   # a Numba graph of its own (the targets' gradient)
def test_the_target_gradient_on_numba_equals_the_graph():
    values = onehot_problem("soft_extreme")
    got = onehot_function("numba", with_dy=True)(*values)
    expected = onehot_function("py", with_dy=True)(*values)
    for label, a, e in zip(ONEHOT_OUTPUTS, got, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=label)


@pytest.mark.parametrize("name", ["soft_extreme", "zero_rows", "one_class"])
def test_the_onehot_graph_is_the_textbook_cross_entropy(name):
    z, y, g = onehot_problem(name)
    got = onehot_function("py", with_dy=True)(z, y, g)
    for label, a, e in zip(ONEHOT_OUTPUTS, got, textbook(z, y, g)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-300, err_msg=f"{label} ({name})")
    if name == "soft_extreme":
        assert got[0][2] >= 2.5 * 2000.0 and got[0][3] == pytest.approx(np.log(9) * y[3].sum())
    if name == "zero_rows":
        assert (got[0][[0, 4]] == 0).all() and (got[2][[0, 4]] == 0).all()


def test_onehot_targets_give_the_sparse_loss_and_gradient():
    z, ids, g = problem("extreme")
    sparse = function("py")(z, ids, g)
    onehot = onehot_function("py")(z, np.eye(z.shape[1])[ids], g)
    for label, a, e in zip(("loss", "probs", "dz"), onehot, sparse):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=label)


@pytest.mark.parametrize("name", ["random", "extreme", "soft"])
def test_float32_onehot_kernels_match_the_float64_graph(name):
    z, y, g = onehot_problem(name, seed=1)
    z32, y32, g32 = z.astype("float32"), y.astype("float32"), g.astype("float32")
    got = onehot_function("numba", "float32")(z32, y32, g32)
    expected = onehot_function("py")(*(v.astype("float64") for v in (z32, y32, g32)))
    for label, a, e in zip(ONEHOT_OUTPUTS, got, expected):
        assert a.dtype == np.float32 and a.shape == e.shape, label
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6, err_msg=f"{label} ({name})")


@pytest.mark.parametrize("probs_too", [False, True], ids=["loss", "loss-and-probs"])
def test_onehot_gradients_wrt_logits_and_targets_against_finite_differences(probs_too):
    """``dz`` and ``dy``: through SoftmaxXentGrad (only the loss differentiated), and
    through the pullback's graph (the probabilities' gradient connected too)."""
    rng = np.random.default_rng(2)
    weights, probs_weights = rng.normal(size=5), rng.normal(size=(5, 7))

    def cost(z, y):
        loss, probs = losses.SoftmaxXent()(z, y)
        total = (loss * weights).sum()   # a different upstream gradient per row
        return total + (probs * probs_weights).sum() if probs_too else total
    y0 = rng.random((5, 7)) * rng.uniform(0, 2, (5, 1))   # soft rows of any sum
    y0[1] = 0.0
    verify_grad(cost, [rng.normal(size=(5, 7)), y0], rng=rng, abs_tol=1e-7,
                rel_tol=1e-7, mode=get_mode("py"), no_debug_ref=False)


def test_the_target_gradient_is_minus_the_log_softmax():
    z, y, g = onehot_problem("soft_extreme")
    zs, ys = pt.dmatrix("z"), pt.dmatrix("y")
    loss = losses.categorical_crossentropy_from_logits(zs, ys)
    dy = compile_function([zs, ys], pytensor.grad((loss * g).sum(), ys), backend="py")(z, y)
    np.testing.assert_allclose(dy, textbook(z, y, g)[3], rtol=1e-12, atol=1e-300)
    assert dy[2, 3] == pytest.approx(0.0, abs=1e-12) and dy[2, 5] == pytest.approx(2000 * g[2])


def onehot_grad_function():
    probs, y, g = pt.dmatrix("probs"), pt.dmatrix("y"), pt.dvector("g")
    dz = SoftmaxXentGrad()(probs, y, g)
    fn = compile_function([probs, y, g], dz, backend="numba")
    assert op_types(fn) == [SoftmaxXentGrad]
    return fn


def test_the_onehot_backward_kernel_checks_shapes_before_writing():
    fn = onehot_grad_function()
    z, y, g = onehot_problem("soft")
    _, probs, dz = onehot_function("numba")(z, y, g)
    np.testing.assert_array_equal(fn(probs, y, g), dz)
    for bad_y in (y[1:], y[:, 1:], np.zeros((len(y) + 1, y.shape[1]))):
        with pytest.raises(ValueError, match=r"y must be \[N, V\]"):
            fn(probs, bad_y, g)
    with pytest.raises(ValueError, match="g_loss must be"):
        fn(probs, y, g[1:])
    np.testing.assert_array_equal(fn(probs, y, g), dz)   # nothing was overwritten


def test_the_onehot_forward_kernel_checks_the_targets_shape():
    z, y, g = onehot_problem("random")
    for bad_y in (y[1:], np.ascontiguousarray(y[:, 1:]), np.zeros((len(y), y.shape[1] + 1))):
        with pytest.raises(ValueError, match=r"y must be \[N, V\]"):   # C arrays: no recompile
            onehot_function("numba")(z, bad_y, g)


def test_the_onehot_kernels_read_arrays_of_any_strides():
    z, y, g = onehot_problem("soft")
    expected = onehot_function("py")(z, y, g)

    def strided(a):
        wide = np.zeros((a.shape[0], 2 * a.shape[1])); wide[:, ::2] = a
        return wide[:, ::2]
    # one signature (strided, Fortran, strided): each new one compiles the function again
    for flip in (False, True):   # every other column; negative strides
        z_view, y_view, g_view = ((z[::-1, ::-1], np.asfortranarray(y[::-1, ::-1]), g[::-1])
                                  if flip else (strided(z), np.asfortranarray(y),
                                                strided(g[:, None])[:, 0]))
        for got, e in zip(onehot_function("numba")(z_view, y_view, g_view), expected):
            want = (e[::-1, ::-1] if e.ndim == 2 else e[::-1]) if flip else e
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_onehot_ops_say_their_output_shapes():
    z, y, g = pt.dmatrix("z"), pt.dmatrix("y"), pt.dvector("g")
    loss = losses.softmax_crossentropy(z, y)
    [dz] = pytensor.grad(None, [z], known_grads={loss: g})
    assert isinstance(dz.owner.op, SoftmaxXentGrad)
    shapes = []
    for node in (loss.owner, dz.owner):
        symbolic = [[v.shape[i] for i in range(v.ndim)] for v in node.inputs]
        shapes += [pt.stack([pt.as_tensor(d) for d in s])
                   for s in inferred_shapes(node.op, node, symbolic)]
    fn = pytensor.function([z, y, g], shapes, mode=get_mode("py"), on_unused_input="ignore")
    said = [tuple(s) for s in fn(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros(4))]
    assert said == [(4,), (4, 3), (4, 3)]


@pytest.mark.parametrize("shape", [(2, 3, 5), (4, 5), (5,)])
def test_categorical_crossentropy_from_logits_runs_the_op_on_rows(shape):
    rng = np.random.default_rng(4)
    zv, yv = rng.normal(size=shape), rng.random(shape)
    z, y = pt.tensor("z", shape=(None,) * len(shape)), pt.tensor("y", shape=(None,) * len(shape))
    loss = losses.categorical_crossentropy_from_logits(z, y)
    fn = compile_function([z, y], [loss, pytensor.grad(loss.sum(), z)], backend="py")
    got, dz = fn(zv, yv)
    log_p = zv - np.log(np.exp(zv).sum(axis=-1, keepdims=True))
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, -(yv * log_p).sum(axis=-1), rtol=1e-12)
    np.testing.assert_allclose(dz, np.exp(log_p) * yv.sum(axis=-1, keepdims=True) - yv,
                               rtol=1e-12, atol=1e-15)
    assert isinstance(loss.owner.inputs[0].owner.op, SoftmaxXent)   # reshaped back from rows
    static = pt.tensor("z", shape=(None, *shape[1:]))   # the leading static sizes are kept
    assert losses.categorical_crossentropy_from_logits(static, static).type.shape == \
        (None, *shape[1:-1])[:len(shape) - 1]


def test_integer_targets_are_cast_to_the_logits_dtype():
    z, y = pt.fmatrix("z"), pt.imatrix("y")
    loss = losses.softmax_crossentropy(z, y)
    assert loss.dtype == "float32" and loss.owner.inputs[1].dtype == "float32"
    assert pytensor.grad(loss.sum(), z).dtype == "float32"


@pytest.mark.heavy   # a Numba graph of its own
def test_mixed_float_dtypes_run_the_onehot_graph_on_numba():
    zs, ys = pt.fmatrix("z"), pt.dmatrix("y")
    loss = losses.softmax_crossentropy(zs, ys)
    outputs = [loss, *pytensor.grad(loss.sum(), [zs, ys])]
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=(4, 5)).astype("float32"), rng.random((4, 5))
    fn = compile_function([zs, ys], outputs, backend="numba")
    assert SoftmaxXent in op_types(fn)   # its inner graph: no kernel for mixed dtypes
    expected = compile_function([zs, ys], outputs, backend="py")(z, y)
    for got, want in zip(fn(z, y), expected):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_targets_that_broadcast_keep_the_plain_graph():
    z, y = pt.dmatrix("z"), pt.tensor("y", shape=(1, None), dtype="float64")
    loss = losses.categorical_crossentropy_from_logits(z, y)
    zv, yv = np.random.default_rng(5).normal(size=(3, 4)), np.array([[0.0, 1.0, 0.0, 0.5]])
    log_p = zv - np.log(np.exp(zv).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(loss.eval({z: zv, y: yv}), -(yv * log_p).sum(axis=-1), rtol=1e-12)


def test_a_categorical_model_on_numba_holds_the_onehot_ops():
    """Graph structure only (building runs the rewrites; Numba compiles at the first call)."""
    model = categorical_model()
    model.compile("sgd", "categorical_crossentropy", backend="numba")
    types = set(op_types(fitting.train_fn(model)))
    assert ONEHOT_OPS <= types and not {SparseSoftmaxXent, SparseSoftmaxXentGrad} & types


def categorical_model():
    from symrnn.layers import GRU, Dense, Embedding, Sequential, TimeDistributed
    return Sequential([Embedding(5, 4, input_length=3, dtype="float64", seed=1),
                       GRU(3, return_sequences=True, seed=2),
                       TimeDistributed(Dense(5, activation="softmax", seed=3))])


@pytest.mark.heavy   # compiles a whole model for Numba
def test_a_categorical_model_trains_on_numba_as_on_py():
    rng = np.random.default_rng(6)
    x, y = rng.integers(0, 5, (4, 3)).astype("int32"), np.eye(5)[rng.integers(0, 5, (4, 3))]
    y[0] *= 0.5   # soft targets too
    runs = []
    for backend in ("py", "numba"):
        model = categorical_model()
        model.compile("sgd", "categorical_crossentropy", backend=backend)
        fn = fitting.train_fn(model)
        if backend == "numba":
            assert ONEHOT_OPS <= set(op_types(fn))
        runs.append(([float(fn(x, y)[0]) for _ in range(3)], model.get_weights()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    for got, want in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


@pytest.mark.heavy   # compiles a Numba graph of its own
def test_a_connected_probabilities_gradient_falls_back_for_the_onehot_op():
    rng = np.random.default_rng(3)
    z, y, _ = onehot_problem("soft")
    weights = rng.normal(size=z.shape)
    zs, ys = pt.dmatrix("z"), pt.dmatrix("y")
    loss, probs = losses.softmax_crossentropy(zs, ys).owner.outputs
    cost = loss.sum() + (probs * weights).sum()
    fn = compile_function([zs, ys], pytensor.grad(cost, [zs, ys]), backend="numba")
    assert SoftmaxXent in op_types(fn) and SoftmaxXentGrad not in op_types(fn)
    log_p = losses.log_softmax(zs)
    reference = -(ys * log_p).sum() + (pt.exp(log_p) * weights).sum()
    ref = compile_function([zs, ys], pytensor.grad(reference, [zs, ys]), backend="py")
    for got, want in zip(fn(z, y), ref(z, y)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["py", "numba"])
@pytest.mark.parametrize("order", [(1, 0, 2), (2, 0, 1, 3)])
def test_logits_with_reordered_leading_axes_are_scored_where_they_lie(backend, order):
    """A recurrent layer's time-major logits read batch-major (a dimshuffle of the leading
    axes): the loss scores them in place against reordered targets. Items and ``dz``
    equal those of the same logits copied into the new order, in float64."""
    rng = np.random.default_rng(7)
    inner_shape = (3, 4, 5, 6)[:len(order)]
    zv = rng.normal(0, 2, inner_shape)
    shown_shape = tuple(inner_shape[axis] for axis in order)
    ids_v = rng.integers(0, inner_shape[-1], shown_shape[:-1]).astype("int64")
    weights = rng.normal(size=shown_shape[:-1])
    z, ids = pt.tensor("z", shape=(None,) * len(order)), pt.tensor("ids", dtype="int64",
                                                                   shape=(None,) * (len(order) - 1))
    in_place = losses.sparse_categorical_crossentropy_from_logits(z.dimshuffle(*order), ids)
    copied = losses.sparse_categorical_crossentropy_from_logits(
        pt.as_tensor(z.dimshuffle(*order).copy()), ids)
    assert in_place.owner.op.new_order == order[:-1]   # the item losses, reordered back
    outputs = [in_place, copied, *pytensor.grad((in_place * weights).sum(), [z]),
               *pytensor.grad((copied * weights).sum(), [z])]
    got_items, want_items, got_dz, want_dz = compile_function([z, ids], outputs,
                                                              backend=backend)(zv, ids_v)
    shown = zv.transpose(order)
    log_p = shown - np.log(np.exp(shown).sum(axis=-1, keepdims=True))
    textbook = -np.take_along_axis(log_p, ids_v[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(got_items, textbook, rtol=1e-12)
    np.testing.assert_allclose(got_items, want_items, rtol=1e-12)
    np.testing.assert_allclose(got_dz, want_dz, rtol=1e-12, atol=1e-15)
