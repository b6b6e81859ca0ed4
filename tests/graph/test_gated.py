"""Gated cells: Keras-convention GRU/LSTM steps and the lesson's two raw GRU forms.

Sizes are non-square (inputs 5, hidden 3, vocab 7, batch 2) so a transposed
weight or a swapped gate block cannot pass; gradients are checked in float64.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from symrnn.errors import ConfigError, ShapeError
from symrnn.graph import gated
from symrnn.graph.backend import compile_function
from symrnn.graph.cells import hard_sigmoid
from symrnn.graph.loops import scan_loop
from symrnn.lesson import gru as lesson_gru
from symrnn.lesson.gru import LessonGRU, gru_forward, gru_lesson_params, param_names
from symrnn.lesson.rnn import summed_error, train_lesson

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

IN, H, V, B, T = 5, 3, 7, 2, 4  # input dim, hidden units, vocab, batch, time steps
TOL = dict(abs_tol=1e-5, rel_tol=1e-5, mode="FAST_COMPILE",  # one-sided differences: O(eps) error
           no_debug_ref=False)  # the cost in FAST_COMPILE too: verify_grad would compile it for Numba


def keras_problem(n_gates, seed=0, scale=0.5):
    """Inputs [T, B, IN], weights W (IN, kH), U (H, kH), b (kH,), initial states [B, H]."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, IN))
    W = rng.normal(0, scale, (IN, n_gates * H))
    U = rng.normal(0, scale, (H, n_gates * H))
    b = rng.normal(0, scale, n_gates * H)
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    return x, W, U, b, h0, c0


def fast_eval(*outputs):
    """Evaluate constant graphs in FAST_COMPILE (``.eval()`` would build with Numba)."""
    return pytensor.function([], list(outputs), mode="FAST_COMPILE")()


def gru_scan_loss(x, proj, inner_act="sigmoid", loop=scan_loop):
    """(W, U, b, h0) -> a scalar that every hidden state of every step feeds."""
    def loss(W, U, b, h0):
        xw = pt.dot(pt.constant(x), W) + b  # projection hoisted out of the loop
        step = lambda xw_t, h_tm1, U_: gated.gru_step(xw_t, h_tm1, U_, inner_act=inner_act)
        [hs] = loop(step, [xw], [h0], [U])
        return (hs * proj).sum()
    return loss


def lstm_scan_outputs(x, W, U, b, h0, c0, loop=scan_loop, inner_act="sigmoid"):
    xw = pt.dot(pt.constant(x), W) + b
    step = lambda xw_t, h_tm1, c_tm1, U_: gated.lstm_step(xw_t, h_tm1, c_tm1, U_, inner_act=inner_act)
    return loop(step, [xw], [h0, c0], [U])


def test_gru_step_verify_grad_through_scan():
    x, W, U, b, h0, _ = keras_problem(3, seed=1)
    proj = np.random.default_rng(9).normal(size=(T, B, H))
    verify_grad(gru_scan_loss(x, proj), [W, U, b, h0], rng=np.random.default_rng(0), **TOL)


def test_lstm_step_verify_grad_through_scan_with_two_states():
    x, W, U, b, h0, c0 = keras_problem(4, seed=3)
    rng = np.random.default_rng(9)
    proj_h, proj_c = rng.normal(size=(T, B, H)), rng.normal(size=(T, B, H))

    def loss(W, U, b, h0, c0):
        hs, cs = lstm_scan_outputs(x, W, U, b, h0, c0)
        return (hs * proj_h).sum() + (cs * proj_c).sum()
    verify_grad(loss, [W, U, b, h0, c0], rng=np.random.default_rng(0), **TOL)


# scan vs unrolled for every cell: tests/graph/test_cells_loops.py


# --- independent numpy forward, two steps ------------------------------------

def np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def np_hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0, 1)


def np_gru_keras(x, W, U, b, h, inner):
    """Keras 1 GRU written with named per-gate blocks (z, r, h)."""
    Wz, Wr, Wh = np.split(W, 3, axis=1)
    Uz, Ur, Uh = np.split(U, 3, axis=1)
    bz, br, bh = np.split(b, 3)
    out = []
    for x_t in x:
        z = inner(x_t @ Wz + bz + h @ Uz)
        r = inner(x_t @ Wr + br + h @ Ur)
        hh = np.tanh(x_t @ Wh + bh + (r * h) @ Uh)
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.array(out)


def np_lstm_keras(x, W, U, b, h, c, inner):
    """Keras 1 LSTM written with named per-gate blocks (i, f, c, o)."""
    Wi, Wf, Wc, Wo = np.split(W, 4, axis=1)
    Ui, Uf, Uc, Uo = np.split(U, 4, axis=1)
    bi, bf, bc, bo = np.split(b, 4)
    hs, cs = [], []
    for x_t in x:
        i = inner(x_t @ Wi + bi + h @ Ui)
        f = inner(x_t @ Wf + bf + h @ Uf)
        c = f * c + i * np.tanh(x_t @ Wc + bc + h @ Uc)
        o = inner(x_t @ Wo + bo + h @ Uo)
        h = o * np.tanh(c)
        hs.append(h); cs.append(c)
    return np.array(hs), np.array(cs)


@pytest.mark.parametrize("inner", ["sigmoid", "hard_sigmoid"])
def test_keras_cells_match_numpy_by_hand_for_two_steps(inner):
    np_inner = {"sigmoid": np_sigmoid, "hard_sigmoid": np_hard_sigmoid}[inner]
    x, W3, U3, b3, h0, c0 = keras_problem(3, seed=5, scale=1.0)
    _, W4, U4, b4, _, _ = keras_problem(4, seed=6, scale=1.0)
    x = x[:2]
    [hs] = scan_loop(lambda xw_t, h, U: gated.gru_step(xw_t, h, U, inner_act=inner),
                     [pt.constant(x @ W3 + b3)], [pt.constant(h0)], [pt.constant(U3)])
    lstm_hs, lstm_cs = scan_loop(lambda xw_t, h, c, U: gated.lstm_step(xw_t, h, c, U, inner_act=inner),
                                 [pt.constant(x @ W4 + b4)], [pt.constant(h0), pt.constant(c0)],
                                 [pt.constant(U4)])
    gru_hs, lstm_hs, lstm_cs = fast_eval(hs, lstm_hs, lstm_cs)
    np.testing.assert_allclose(gru_hs, np_gru_keras(x, W3, U3, b3, h0, np_inner), rtol=1e-12)
    want_h, want_c = np_lstm_keras(x, W4, U4, b4, h0, c0, np_inner)
    np.testing.assert_allclose(lstm_hs, want_h, rtol=1e-12)
    np.testing.assert_allclose(lstm_cs, want_c, rtol=1e-12)


def test_keras_defaults_are_tanh_and_hard_sigmoid():
    x, W, U, b, h0, _ = keras_problem(3, seed=7, scale=1.0)
    [got] = fast_eval(gated.gru_step(pt.constant(x[0] @ W + b), pt.constant(h0), pt.constant(U)))
    np.testing.assert_allclose(got, np_gru_keras(x[:1], W, U, b, h0, np_hard_sigmoid)[0], rtol=1e-12)


# --- shapes and counts --------------------------------------------------------

def test_param_counts_match_keras_summaries():
    assert gated.lstm_param_count(64, 64) == 33_024  # seed 004's LSTM(64) after a 64-d layer
    assert gated.gru_param_count(IN, H) == 3 * (IN * H + H * H + H)
    for shapes, count in ((gated.gru_param_shapes(IN, H), gated.gru_param_count(IN, H)),
                          (gated.lstm_param_shapes(64, 64), 33_024)):
        assert sum(np.prod(s) for s in shapes.values()) == count
    assert gated.lstm_param_shapes(IN, H) == {"W": (IN, 4 * H), "U": (H, 4 * H), "b": (4 * H,)}


def test_lstm_bias_sets_only_the_forget_gate():
    b = gated.lstm_bias_init(H)
    np.testing.assert_array_equal(np.split(b, 4), [np.zeros(H), np.ones(H), np.zeros(H), np.zeros(H)])


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_param_helpers_refuse_bad_sizes(bad):
    with pytest.raises(ConfigError, match="positive int"):
        gated.lstm_param_shapes(IN, bad)
    with pytest.raises(ConfigError, match="positive int"):
        gated.gru_param_count(bad, H)


# --- the lesson's raw GRU, two forms ------------------------------------------

def raw_problem(seed=0):
    """One-hot [T, V] inputs and targets, float64 separate-form weights with non-zero biases, h0."""
    rng = np.random.default_rng(seed)
    x = np.eye(V)[rng.integers(0, V, T)]
    y = np.eye(V)[rng.integers(0, V, T)]
    params = {p.name: p.get_value() for p in gru_lesson_params(V, H, rng, "separate", "float64")}
    for name in params:
        if name.startswith("b_"):
            params[name] = rng.normal(0, 0.5, params[name].shape)  # so biases matter
    return x, y, params, rng.normal(size=H)


def raw_loss(x, y, form, act="tanh"):
    def loss(h0, *params):
        _, zs = gru_forward(pt.constant(x), h0, list(params), form, act)
        return summed_error(zs, pt.constant(y))
    return loss


@pytest.mark.parametrize("form", ["separate", "combined"])
def test_raw_gru_forms_verify_grad_for_all_weights_and_h0(form):
    x, y, params, h0 = raw_problem(seed=1)
    if form == "combined":
        params = lesson_gru.separate_to_combined(params)
    values = [params[n] for n in param_names(form)]
    verify_grad(raw_loss(x, y, form), [h0, *values], rng=np.random.default_rng(0), **TOL)


def graph_outputs(form, x, y, params, h0, act="tanh"):
    """Hidden states, logits, summed error and gradients (h0 first, then step order)."""
    names = param_names(form)
    ins = [pt.tensor(dtype="float64", shape=(None,) * np.ndim(params[n])) for n in names]
    h0_v = pt.dvector("h0")
    hs, zs = gru_forward(pt.constant(x), h0_v, ins, form, act)
    err = summed_error(zs, pt.constant(y))
    f = pytensor.function([h0_v, *ins], [hs, zs, err, *pytensor.grad(err, [h0_v, *ins])],
                          mode="FAST_COMPILE")
    hs, zs, err, g_h0, *grads = f(h0, *[params[n] for n in names])
    return hs, zs, err, g_h0, dict(zip(names, grads))


def test_raw_gru_forms_agree_when_weights_are_mapped(act="tanh"):
    x, y, sep, h0 = raw_problem(seed=2)
    comb = lesson_gru.separate_to_combined(sep)
    hs_s, zs_s, err_s, gh_s, g_s = graph_outputs("separate", x, y, sep, h0, act)
    hs_c, zs_c, err_c, gh_c, g_c = graph_outputs("combined", x, y, comb, h0, act)
    np.testing.assert_allclose(hs_c, hs_s, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(zs_c, zs_s, rtol=1e-12, atol=1e-13)
    assert err_c == pytest.approx(err_s, rel=1e-12)
    np.testing.assert_allclose(gh_c, gh_s, rtol=1e-10, atol=1e-13)
    mapped = lesson_gru.separate_to_combined(g_s)  # the map is linear, so it maps gradients too
    for name, g in g_c.items():
        assert np.abs(g).max() > 0, f"{name} gets no gradient"
        np.testing.assert_allclose(g, mapped[name], rtol=1e-10, atol=1e-13, err_msg=name)


def np_raw_gru_separate(x, p, h):
    """The lesson's separate-weight GRU and output logits, by hand."""
    gate = lambda g, hh: np_sigmoid(x_t @ p[f"W_x{g}"] + p[f"b_{g}"] + hh @ p[f"W_h{g}"])
    hs, zs = [], []
    for x_t in x:
        r, u = gate("r", h), gate("u", h)
        h_new = np.tanh(x_t @ p["W_xc"] + p["b_c"] + (r * h) @ p["W_hc"])
        h = u * h + (1 - u) * h_new
        hs.append(h); zs.append(h @ p["W_y"] + p["b_y"])
    return np.array(hs), np.array(zs)


def test_raw_gru_matches_numpy_by_hand_for_two_steps():
    x, y, sep, h0 = raw_problem(seed=3)
    hs, zs, err, _, _ = graph_outputs("separate", x[:2], y[:2], sep, h0)
    want_hs, want_zs = np_raw_gru_separate(x[:2], sep, h0)
    np.testing.assert_allclose(hs, want_hs, rtol=1e-12)
    np.testing.assert_allclose(zs, want_zs, rtol=1e-12)
    log_p = want_zs - np.log(np.exp(want_zs).sum(-1, keepdims=True))
    assert err == pytest.approx(-(y[:2] * log_p).sum(), rel=1e-12)


def test_separate_to_combined_stacks_h_rows_first_and_refuses_missing_names():
    _, _, sep, _ = raw_problem()
    comb = lesson_gru.separate_to_combined(sep)
    assert comb["W_u"].shape == (H + V, H)
    np.testing.assert_array_equal(comb["W_u"][:H], sep["W_hu"])
    np.testing.assert_array_equal(comb["W_u"][H:], sep["W_xu"])
    del sep["W_hc"]
    with pytest.raises(ShapeError, match="W_hc"):
        lesson_gru.separate_to_combined(sep)


@pytest.mark.heavy   # two GRU models trained cold; the forms' agreement above stays by default
def test_lesson_gru_models_train_and_share_one_function_when_mapped():
    x, y, sep, h0 = raw_problem(seed=4)
    models = {f: LessonGRU(V, H, form=f, dtype="float64", backend="py") for f in ("separate", "combined")}
    models["separate"].set_params(sep)
    models["combined"].set_params(lesson_gru.separate_to_combined(sep))
    errors = {f: m.train_step(x, y, 0.1, h0=h0) for f, m in models.items()}
    assert errors["separate"] == pytest.approx(errors["combined"], rel=1e-12)
    after = lesson_gru.separate_to_combined(models["separate"].get_params())  # one SGD step each
    for name, value in models["combined"].get_params().items():
        np.testing.assert_allclose(value, after[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_lesson_gru_learns_a_repeating_sequence(form="combined"):
    gru = LessonGRU(V, 16, form=form, dtype="float64", backend="py", seed=0)
    ids = np.arange(T + 1) % V
    x, y = np.eye(V)[ids[:-1]], np.eye(V)[ids[1:]]
    first = gru.train_step(x, y, 0.5)
    for _ in range(80):
        last = gru.train_step(x, y, 0.5)
    assert last < 0.2 * first
    assert gru.predict_ids(x).tolist() == ids[1:].tolist()


def test_lesson_gru_refuses_an_unknown_form():
    with pytest.raises(ConfigError, match="separate"):
        LessonGRU(V, H, form="merged", backend="py")


class RecordingModel:
    """Stands in for a compiled model: records the lr of every call."""
    vocab_size, dtype = V, "float64"

    def __init__(self):
        self.lrs = []

    def zeros_h0(self):
        return np.zeros(H)

    def train_fn(self, h0, inp, outp, lr):
        self.lrs.append(float(lr))
        return 8.0


def test_train_lesson_decays_lr_every_block_of_sequences():
    model = RecordingModel()
    ids = np.zeros((7, T), dtype=int)
    means = train_lesson(model, ids, ids, lr=0.1, report_every=2, log=lambda s: None,
                         lr_decay=0.95, decay_every=3)
    want = [0.1] * 3 + [0.1 * 0.95] * 3 + [0.1 * 0.95 ** 2]
    np.testing.assert_allclose(model.lrs, want, rtol=1e-12)
    assert means == [8.0, 8.0, 8.0]


def test_hard_sigmoid_gradient_from_its_output_is_clips_away_from_the_corners():
    x = pt.dvector("x")
    plain = pt.clip(x * 0.2 + 0.5, 0, 1)
    values = np.concatenate([np.linspace(-6, 6, 1201) + 1e-3, [-2.5, 2.5]])   # + the two corners
    ours = compile_function([x], pytensor.grad(hard_sigmoid(x).sum(), x), backend="py")(values)
    clips = compile_function([x], pytensor.grad(plain.sum(), x), backend="py")(values)
    np.testing.assert_array_equal(ours[:-2], clips[:-2])      # 0.2 inside, 0 where saturated
    assert set(np.unique(ours[:-2])) == {0.0, 0.2}
    np.testing.assert_array_equal(ours[-2:], [0.0, 0.0])      # where y is exactly 0 or 1,
    np.testing.assert_allclose(clips[-2:], [0.2, 0.2])        # clip passes the slope
