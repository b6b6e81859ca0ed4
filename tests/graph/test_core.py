"""Graph core: initialisers, loops, losses, update rules, the lesson RNN.

Sizes are non-square (vocab 7 != hidden 5) so a transposed weight cannot pass,
and everything gradient-related runs in float64.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.utils import MissingInputError

from symrnn.errors import ConfigError, ShapeError
from symrnn.graph import losses
from symrnn.graph.loops import scan_loop, unrolled_loop
from symrnn.graph.params import init_array, orthogonal
from symrnn.lesson.rnn import (
    PARAM_NAMES,
    LessonRNN,
    forward,
    lesson_params,
    summed_error,
)

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

V, H, T = 7, 5, 4  # vocab, hidden, sequence length


def random_problem(seed=0, act="relu"):
    """One-hot inputs/targets and float64 lesson params with no relu pre-activation near 0."""
    rng = np.random.default_rng(seed)
    x = np.eye(V)[rng.integers(0, V, T)]   # [T, V]
    y = np.eye(V)[rng.integers(0, V, T)]   # [T, V]
    params = [p.get_value() for p in lesson_params(V, H, rng)]
    params = [p.astype("float64") for p in params]
    params[1] = rng.normal(0, 0.5, H)       # non-zero biases so they matter
    params[3] = rng.normal(0, 0.5, H)
    params[5] = rng.normal(0, 0.5, V)
    h0 = rng.normal(0, 1.0, H)
    return x, y, params, h0


def relu_preactivations(x, params, h0):
    W_h, b_h, W_x, b_x, _, _ = params
    h, pre = h0, []
    for x_t in x:
        a = x_t @ W_x + b_x + h @ W_h + b_h
        pre.append(a)
        h = np.maximum(a, 0)
    return np.array(pre)


def symbolic_loss(x, y, act="relu", unroll=False):
    """A function of (h0, *params) returning the summed lesson error, for verify_grad."""
    def loss(h0, *params):
        _, zs = forward(pt.constant(x), h0, list(params), act, unroll)
        return summed_error(zs, pt.constant(y))
    return loss


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_verify_grad_full_scan_loss(act):
    x, y, params, h0 = random_problem(seed=1)
    if act == "relu":
        assert np.abs(relu_preactivations(x, params, h0)).min() > 1e-3  # no kink in reach
    verify_grad(symbolic_loss(x, y, act), [h0, *params], rng=np.random.default_rng(0),
                abs_tol=1e-5, rel_tol=1e-5, mode="FAST_COMPILE",  # one-sided differences: O(eps) error
                no_debug_ref=False)  # the cost in FAST_COMPILE too: verify_grad would compile it for Numba


# scan vs unrolled for every cell: tests/graph/test_cells_loops.py


def test_unrolled_loop_go_backwards_matches_scan():
    xs = pt.constant(np.arange(5.0))
    step = lambda x_t, s_tm1: 2 * s_tm1 + x_t  # order-sensitive recurrence
    outs = [fn(step, [xs], [pt.constant(np.float64(0))], go_backwards=True)[0].eval() for fn in (scan_loop, unrolled_loop)]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0][-1] == sum(2 ** i * v for i, v in enumerate(range(5)))  # x_0 is added last


def test_unrolled_loop_needs_a_static_length():
    with pytest.raises(ConfigError, match="static shape"):
        unrolled_loop(lambda x_t, s: s + x_t, [pt.dvector()], [pt.constant(np.float64(0))])


def test_scan_strict_rejects_a_hidden_closure():
    w = pytensor.shared(2.0, name="hidden_w")
    with pytest.raises(MissingInputError, match="hidden_w"):  # strict=True: pass w in
        scan_loop(lambda x_t, s: s * w + x_t, [pt.vector()], [pt.constant(0.0)], [])


def test_one_training_call_moves_every_param_by_minus_lr_grad():
    x, y, params, h0 = random_problem(seed=3)
    rnn = LessonRNN(V, H, dtype="float64", backend="py")
    rnn.set_params(dict(zip(PARAM_NAMES, params)))
    grad_fn = pytensor.function([rnn.h0, rnn.inp, rnn.outp], rnn.grads, mode="FAST_COMPILE")
    grads = grad_fn(h0, x, y)
    lr = 0.05
    rnn.train_step(x, y, lr, h0=h0)
    after = rnn.get_params()
    for name, before, g in zip(PARAM_NAMES, params, grads):
        assert np.abs(g).max() > 0, f"{name} gets no gradient"
        np.testing.assert_allclose(after[name], before - lr * g, rtol=0, atol=1e-14, err_msg=name)


def test_training_lowers_the_error_on_a_repeating_sequence():
    rnn = LessonRNN(V, 16, dtype="float64", backend="py", seed=0)
    ids = np.arange(T + 1) % V
    x, y = np.eye(V)[ids[:-1]], np.eye(V)[ids[1:]]
    first = rnn.train_step(x, y, 0.05)
    for _ in range(60):
        last = rnn.train_step(x, y, 0.05)
    assert last < 0.2 * first
    assert rnn.predict_ids(x).tolist() == ids[1:].tolist()


def test_lesson_rnn_rejects_wrong_shapes_and_nan_without_changing_params():
    rnn = LessonRNN(V, H, dtype="float64", backend="py")
    before = rnn.get_params()
    with pytest.raises(ShapeError, match=r"\(seq_len, 7\)"):
        rnn.train_step(np.zeros((T, V + 1)), np.zeros((T, V)), 0.1)
    bad = np.eye(V)[:T].copy(); bad[0, 0] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        rnn.train_step(bad, np.eye(V)[:T], 0.1)
    for name, value in rnn.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_lesson_init_matches_the_lesson():
    W_h, b_h, W_x, b_x, W_y, b_y = [p.get_value() for p in lesson_params(300, 200, np.random.default_rng(0))]
    assert W_h.dtype == np.float32
    np.testing.assert_array_equal(W_h, np.eye(200))
    assert not (b_h.any() or b_x.any() or b_y.any())
    assert abs(W_x.std() - np.sqrt(2 / 300)) < 0.05 * np.sqrt(2 / 300)
    assert abs(W_y.std() - np.sqrt(2 / 200)) < 0.05 * np.sqrt(2 / 200)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4)])
def test_orthogonal_init_has_orthonormal_rows_or_columns(shape):
    q = orthogonal(shape, np.random.default_rng(0))
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_unknown_initialiser_lists_valid_names():
    with pytest.raises(ConfigError, match="orthogonal"):
        init_array("he_normal_typo", (2, 2), np.random.default_rng(0))


def test_log_softmax_cross_entropy_stays_finite_where_naive_form_is_nan():
    z = pt.matrix("z"); y = pt.matrix("y")
    stable = losses.categorical_crossentropy(pt.special.softmax(z, axis=-1), y)
    naive = -(y * pt.log(pt.special.softmax(z, axis=-1))).sum(axis=-1)
    no_rewrites = pytensor.compile.mode.Mode(linker="py", optimizer=None)  # the graph as written
    zv = np.array([[1000.0, 0.0, -1000.0]]); yv = np.array([[0.0, 0.0, 1.0]])
    for mode in ("FAST_COMPILE", no_rewrites):
        assert pytensor.function([z, y], stable, mode=mode)(zv, yv)[0] == pytest.approx(2000.0)
    with np.errstate(all="ignore"):
        assert not np.isfinite(pytensor.function([z, y], naive, mode=no_rewrites)(zv, yv)).all()


def test_sparse_and_one_hot_cross_entropy_agree():
    rng = np.random.default_rng(0)
    zv = rng.normal(size=(3, 4, V)); ids = rng.integers(0, V, (3, 4)).astype("int32")
    z = pt.tensor3("z"); t = pt.imatrix("t"); oh = pt.tensor3("oh")
    sparse = losses.sparse_categorical_crossentropy_from_logits(z, t).eval({z: zv, t: ids})
    dense = losses.categorical_crossentropy_from_logits(z, oh).eval({z: zv, oh: np.eye(V)[ids]})
    np.testing.assert_allclose(sparse, dense, rtol=1e-12)
    manual = -(zv - np.log(np.exp(zv).sum(-1, keepdims=True)))
    np.testing.assert_allclose(dense, np.take_along_axis(manual, ids[..., None], -1)[..., 0], rtol=1e-12)


def plain_sparse_crossentropy(z, ids):
    """The textbook graph: pick the log-softmax at the targets (PyTensor's own gradient)."""
    log_p = losses.log_softmax(z)
    return -log_p[pt.arange(z.shape[0]), ids]


def test_sparse_softmax_crossentropy_matches_the_log_softmax_graph_forward_and_backward():
    rng = np.random.default_rng(1)
    zv = rng.normal(0, 3, (6, V)); zv[0] += 1000.0; zv[1, 2] = -1000.0   # stable for large logits
    ids = rng.integers(0, V, 6).astype("int32")
    weights = rng.normal(size=6)   # a non-uniform upstream gradient per item
    z = pt.dmatrix("z"); t = pt.ivector("t")
    fast, plain = losses.sparse_softmax_crossentropy(z, t), plain_sparse_crossentropy(z, t)
    outs = [fast, plain, pytensor.grad((fast * weights).sum(), z), pytensor.grad((plain * weights).sum(), z)]
    f_fast, f_plain, g_fast, g_plain = pytensor.function([z, t], outs)(zv, ids)
    assert np.isfinite(f_fast).all()
    np.testing.assert_allclose(f_fast, f_plain, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(g_fast, g_plain, rtol=1e-12, atol=1e-14)
    probs = np.exp(zv - zv.max(1, keepdims=True)); probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(g_fast, weights[:, None] * (probs - np.eye(V)[ids]), rtol=1e-12, atol=1e-14)


def test_sparse_softmax_crossentropy_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, V, 5).astype("int32")
    verify_grad(lambda z: losses.sparse_softmax_crossentropy(z, pt.as_tensor(ids)).sum() * 1.7,
                [rng.normal(size=(5, V))], rng=rng, abs_tol=1e-7, rel_tol=1e-7,
                mode="FAST_COMPILE", no_debug_ref=False)


def exp_count(fn):
    """Scalar exps in a compiled function, including those fused into Composites."""
    from pytensor.scalar.basic import Composite, Exp
    from pytensor.tensor.elemwise import Elemwise
    count = 0
    for node in fn.maker.fgraph.toposort():
        op = getattr(node.op, "scalar_op", None) if isinstance(node.op, Elemwise) else None
        if isinstance(op, Exp):
            count += 1
        elif isinstance(op, Composite):
            count += sum(isinstance(n.op, Exp) for n in op.fgraph.toposort())
    return count


def test_sparse_softmax_crossentropy_gradient_reuses_the_forward_exp():
    z = pt.dmatrix("z"); t = pt.ivector("t")
    fast, plain = losses.sparse_softmax_crossentropy(z, t).sum(), plain_sparse_crossentropy(z, t).sum()
    rewritten = pytensor.compile.mode.Mode(linker="py", optimizer="fast_run")   # training's rewrites
    fast_fn = pytensor.function([z, t], [fast, pytensor.grad(fast, z)], mode=rewritten)
    plain_fn = pytensor.function([z, t], [plain, pytensor.grad(plain, z)], mode=rewritten)
    assert exp_count(fast_fn) == 1
    assert exp_count(plain_fn) >= 2   # what the rule saves: PyTensor's gradient recomputes exp


def test_sparse_softmax_crossentropy_probabilities_have_softmaxs_gradient():
    """The op's second output (the softmax it shares with its gradient) differentiates as a
    softmax; PyTensor also calls the rule this way when it compares two such ops."""
    rng = np.random.default_rng(3)
    zv, ids = rng.normal(size=(4, V)), rng.integers(0, V, 4).astype("int32")
    weights = rng.normal(size=(4, V))
    z = pt.dmatrix("z"); t = pt.ivector("t")
    loss, probs = losses.sparse_softmax_crossentropy(z, t).owner.outputs
    both = loss.sum() + (probs * weights).sum()
    reference = plain_sparse_crossentropy(z, t).sum() + (pt.special.softmax(z, axis=1) * weights).sum()
    got, expected = pytensor.function([z, t], [pytensor.grad(both, z), pytensor.grad(reference, z)])(zv, ids)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_two_sparse_softmax_crossentropy_ops_compare_equal_and_compile_together():
    z = pt.dmatrix("z"); t = pt.ivector("t")
    a, b = losses.sparse_softmax_crossentropy(z, t), losses.sparse_softmax_crossentropy(z, t)
    assert a.owner.op == b.owner.op
    total = (a + 2 * b).sum()
    zv, ids = np.zeros((2, V)), np.array([0, 3], dtype="int32")
    value, grad = pytensor.function([z, t], [total, pytensor.grad(total, z)])(zv, ids)
    assert value == pytest.approx(3 * 2 * np.log(V))
    np.testing.assert_allclose(grad, 3 * (np.full((2, V), 1 / V) - np.eye(V)[ids]), rtol=1e-12)


def test_loss_on_plain_probabilities_clips_instead_of_nan():
    p = pt.matrix("p"); y = pt.matrix("y")
    out = losses.categorical_crossentropy(p, y).eval({p: [[1.0, 0.0]], y: [[0.0, 1.0]]})
    assert out[0] == pytest.approx(-np.log(losses.EPSILON))


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ConfigError, match="sparse_categorical_crossentropy"):
        losses.get_loss("crossentropy")
