"""Tests of the by-hand numpy RNN (the oracle the PyTensor engine is checked against).

Sizes are deliberately non-square (V=7, H=5, T=4) so a transposed weight or a
swapped axis cannot pass, and everything is float64 so finite differences are
accurate to about 1e-9.
"""

import inspect

import numpy as np
import pytest
from imports import imports_of

from symrnn.errors import ConfigError, ShapeError
from symrnn.lesson import numpy_rnn as nr

V, H, T = 7, 5, 4      # vocab, hidden, steps: all different on purpose
EPS = 1e-6             # central-difference step
GRAD_RTOL = 1e-7       # relative error allowed between BPTT and finite differences
RELU_KINK_MARGIN = 1e-3


# ------------------------------------------------------------------ helpers

def random_params(seed, use_bias=True):
    """Every parameter random (not the identity/zeros init), so no gradient is
    trivially zero and a wrong bias or W_h term shows up."""
    rng = np.random.default_rng(seed)
    shapes = {"W_h": (H, H), "b_h": (H,), "W_x": (V, H), "b_x": (H,),
              "W_y": (H, V), "b_y": (V,)}
    names = nr.PARAM_NAMES if use_bias else nr.WEIGHT_NAMES
    return {name: rng.normal(scale=0.7, size=shapes[name]) for name in names}


def random_sequence(seed):
    rng = np.random.default_rng(seed + 1000)
    ids = rng.integers(0, V, size=T)                       # [T]
    ids[1] = ids[3]            # a repeated id: its W_x row gets two contributions
    target_ids = rng.integers(0, V, size=T)                # [T]
    h0 = rng.normal(scale=0.5, size=H)                     # [H]
    return ids, target_ids, h0


def onehot(ids):
    return np.eye(V)[ids]


def central_difference(f, array):
    """d f / d array by central differences, perturbing ``array`` in place."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + EPS
        f_plus = f()
        array[index] = saved - EPS
        f_minus = f()
        array[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * EPS)
    return grad


def relative_error(analytic, numeric):
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    assert scale > 1e-8, "gradient is ~0: the check would prove nothing"
    return np.linalg.norm(analytic - numeric) / scale


# Seeds whose relu pre-activations all sit well away from the kink at 0
# (asserted in the test, so a change in the helpers cannot silently break it).
RELU_SEED, TANH_SEED = 3, 0


def case(activation, use_bias=True):
    seed = RELU_SEED if activation == "relu" else TANH_SEED
    return random_params(seed, use_bias), *random_sequence(seed)


# ------------------------------------------------------------------ module hygiene

def test_imports_nothing_but_numpy_and_symrnn_errors():
    imported = {module for module, _, _ in imports_of(inspect.getsourcefile(nr))}
    assert imported == {"numpy", "symrnn.errors"}


# ------------------------------------------------------------------ init

def test_init_params_shapes_and_lesson_init():
    params = nr.init_params(V, H, np.random.default_rng(0))
    assert tuple(params) == nr.PARAM_NAMES
    assert params["W_h"].shape == (H, H) and params["W_x"].shape == (V, H)
    assert params["W_y"].shape == (H, V) and params["b_y"].shape == (V,)
    np.testing.assert_array_equal(params["W_h"], np.eye(H))
    for name in nr.BIAS_NAMES:
        assert not params[name].any()
    assert all(p.dtype == np.float64 for p in params.values())


def test_init_weight_scale_is_sqrt_2_over_rows():
    rows, cols = 400, 300
    params = nr.init_params(rows, cols, np.random.default_rng(0))
    assert params["W_x"].std() == pytest.approx(np.sqrt(2 / rows), rel=0.02)
    assert params["W_y"].std() == pytest.approx(np.sqrt(2 / cols), rel=0.02)


def test_init_dtype_and_bias_free_variant():
    params = nr.init_params(V, H, np.random.default_rng(0), dtype=np.float32,
                            use_bias=False)
    assert tuple(params) == nr.WEIGHT_NAMES
    assert all(p.dtype == np.float32 for p in params.values())


def test_partial_biases_are_refused():
    params = random_params(0)
    del params["b_x"]
    ids, targets, h0 = random_sequence(0)
    with pytest.raises(ConfigError, match="all of"):
        nr.forward(params, ids, h0)


# ------------------------------------------------------------------ activations, softmax

@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_activation_grad_matches_finite_differences(name):
    act, act_grad = nr.ACTIVATIONS[name]
    pre = np.array([-2.0, -0.3, 0.4, 1.5])    # away from relu's kink
    numeric = (act(pre + EPS) - act(pre - EPS)) / (2 * EPS)
    np.testing.assert_allclose(act_grad(act(pre)), numeric, rtol=1e-8, atol=1e-10)


def test_softmax_is_stable_and_normalised():
    logits = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    probs = nr.softmax(logits)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    expected = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(probs[1], expected)


def test_log_softmax_finite_where_naive_log_softmax_is_not():
    logits = np.array([1e4, 0.0, -3.0])
    with np.errstate(divide="ignore"):
        naive = np.log(nr.softmax(logits))
    assert np.isneginf(naive[1])               # the failure log_softmax avoids
    stable = nr.log_softmax(logits)
    assert np.isfinite(stable).all()
    np.testing.assert_allclose(stable, [0.0, -1e4, -1e4 - 3.0])
    assert nr.cross_entropy(logits, np.array(1)) == pytest.approx(1e4)


def test_log_softmax_matches_log_of_softmax_on_moderate_logits():
    logits = np.random.default_rng(0).normal(size=(T, V))
    np.testing.assert_allclose(nr.log_softmax(logits), np.log(nr.softmax(logits)),
                               rtol=1e-12)


def test_cross_entropy_grad_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(T, V))                  # [T, V]
    target_ids = rng.integers(0, V, size=T)           # [T]
    numeric = central_difference(
        lambda: nr.cross_entropy(logits, target_ids).sum(), logits)
    analytic = nr.cross_entropy_grad(logits, target_ids)
    assert relative_error(analytic, numeric) < GRAD_RTOL
    np.testing.assert_allclose(analytic, nr.cross_entropy_grad(logits, onehot(target_ids)))


def test_cross_entropy_is_itemwise():
    logits = np.zeros((T, V))
    losses = nr.cross_entropy(logits, np.arange(T))
    np.testing.assert_allclose(losses, np.full(T, np.log(V)))


# ------------------------------------------------------------------ forward

def test_forward_matches_direct_formula_per_step():
    params, ids, _, h0 = case("tanh")
    cache = nr.forward(params, ids, h0, "tanh")
    h = h0
    for t in range(T):
        h = np.tanh(params["W_x"][ids[t]] + params["b_x"]
                    + h @ params["W_h"] + params["b_h"])
        np.testing.assert_allclose(cache.hidden_states[t], h, rtol=1e-14)
    np.testing.assert_allclose(cache.logits[-1], h @ params["W_y"] + params["b_y"],
                               rtol=1e-14)
    np.testing.assert_allclose(cache.probs, nr.softmax(cache.logits))
    assert cache.as_dict()["activation"] == "tanh"


def test_bias_free_variant_equals_zero_biases():
    params, ids, targets, h0 = case("relu")
    zero_bias = dict(params, **{name: np.zeros_like(params[name])
                                for name in nr.BIAS_NAMES})
    no_bias = {name: params[name] for name in nr.WEIGHT_NAMES}
    assert nr.loss(no_bias, ids, targets, h0) == nr.loss(zero_bias, ids, targets, h0)
    grads_zero, dh0_zero = nr.backward(zero_bias, nr.forward(zero_bias, ids, h0), targets)
    grads_none, dh0_none = nr.backward(no_bias, nr.forward(no_bias, ids, h0), targets)
    assert set(grads_none) == set(nr.WEIGHT_NAMES)
    for name in nr.WEIGHT_NAMES:
        np.testing.assert_array_equal(grads_none[name], grads_zero[name])
    np.testing.assert_array_equal(dh0_none, dh0_zero)


def test_shape_errors_say_what_is_wrong():
    params, ids, targets, h0 = case("relu")
    with pytest.raises(ShapeError, match=r"\(T, 7\)"):
        nr.forward(params, onehot(ids)[:, :-1], h0)
    with pytest.raises(ShapeError, match="h0"):
        nr.forward(params, ids, np.zeros(H + 1))
    with pytest.raises(ShapeError, match="ids must lie"):
        nr.forward(params, np.array([0, V]), h0)
    with pytest.raises(ShapeError, match="targets"):
        nr.loss(params, ids, targets[:-1], h0)
    with pytest.raises(ConfigError, match="unknown activation"):
        nr.forward(params, ids, h0, "sigmoid")


# ------------------------------------------------------------------ BPTT vs finite differences

@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_bptt_matches_finite_differences(activation, use_bias):
    params, ids, target_ids, h0 = case(activation, use_bias)
    x = onehot(ids)
    cache = nr.forward(params, x, h0, activation)
    if activation == "relu":
        # Finite differences across relu's kink are meaningless: make sure no
        # pre-activation is near 0, and that units are both on and off.
        assert np.abs(cache.pre_activations).min() > RELU_KINK_MARGIN
        assert (cache.pre_activations > 0).any() and (cache.pre_activations < 0).any()
    grads, dh0 = nr.backward(params, cache, target_ids)

    def summed_loss():
        return nr.loss(params, x, target_ids, h0, activation)

    assert set(grads) == set(params)
    for name in params:
        numeric = central_difference(summed_loss, params[name])
        assert grads[name].shape == params[name].shape, name
        assert relative_error(grads[name], numeric) < GRAD_RTOL, name
    numeric_dh0 = central_difference(summed_loss, h0)
    assert relative_error(dh0, numeric_dh0) < GRAD_RTOL


def test_backward_refuses_an_activation_different_from_forward():
    params, ids, targets, h0 = case("tanh")
    cache = nr.forward(params, ids, h0, "tanh")
    with pytest.raises(ConfigError, match="forward used 'tanh'"):
        nr.backward(params, cache, targets, activation="relu")
    grads_default, _ = nr.backward(params, cache, targets)
    grads_named, _ = nr.backward(params, cache, targets, activation="tanh")
    np.testing.assert_array_equal(grads_default["W_h"], grads_named["W_h"])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_onehot_and_id_inputs_agree(activation):
    params, ids, target_ids, h0 = case(activation)
    by_ids = nr.loss_and_grads(params, ids, target_ids, h0, activation)
    by_onehot = nr.loss_and_grads(params, onehot(ids), onehot(target_ids), h0,
                                  activation)
    assert by_ids[0] == pytest.approx(by_onehot[0], rel=1e-15)
    assert by_ids[0] == nr.loss(params, ids, target_ids, h0, activation)
    for name in params:
        np.testing.assert_allclose(by_ids[1][name], by_onehot[1][name],
                                   rtol=1e-13, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(by_ids[2], by_onehot[2], rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------------ SGD and training

def test_sgd_step_moves_every_parameter_by_minus_lr_grad():
    params, ids, targets, h0 = case("tanh")
    originals = {name: p.copy() for name, p in params.items()}
    _, grads, _ = nr.loss_and_grads(params, ids, targets, h0, "tanh")
    lr = 0.03
    new = nr.sgd_step(params, grads, lr)
    assert set(new) == set(params)
    for name in params:
        assert np.abs(grads[name]).max() > 0, name       # every parameter moves
        np.testing.assert_allclose(new[name] - params[name], -lr * grads[name],
                                   rtol=1e-12, atol=1e-15, err_msg=name)
        np.testing.assert_array_equal(params[name], originals[name])  # no mutation
        assert new[name] is not params[name]


def test_sgd_step_refuses_mismatched_keys():
    params = random_params(0)
    grads = {name: np.zeros_like(p) for name, p in params.items() if name != "b_y"}
    with pytest.raises(ConfigError, match="keys"):
        nr.sgd_step(params, grads, 0.1)


def repeating_text_dataset(text="abcabc" * 20, seq_len=8):
    """Overlapping windows over a repeating string, targets shifted by one."""
    vocab = sorted(set(text))
    ids = np.array([vocab.index(ch) for ch in text])
    starts = range(len(ids) - seq_len)
    xs = [ids[s:s + seq_len] for s in starts]
    ys = [ids[s + 1:s + seq_len + 1] for s in starts]
    return len(vocab), xs, ys


def mean_loss(params, xs, ys):
    h0 = np.zeros(params["W_h"].shape[0])
    return np.mean([nr.loss(params, x, y, h0) for x, y in zip(xs, ys)])


def test_training_on_repeating_text_lowers_the_loss():
    vocab_size, xs, ys = repeating_text_dataset()
    params = nr.init_params(vocab_size, 16, np.random.default_rng(0))
    initial = mean_loss(params, xs, ys)
    seen = []
    trained, report_errors = nr.train(
        params, xs * 3, ys * 3, lr=0.05, report_every=100,
        callback=lambda n, err, p: seen.append((n, err)))
    final = mean_loss(trained, xs, ys)
    assert final < 0.5 * initial
    assert report_errors[-1] < 0.5 * report_errors[0]
    n_sequences = 3 * len(xs)
    assert len(report_errors) == -(-n_sequences // 100)   # last partial block too
    assert [n for n, _ in seen][-1] == n_sequences
    assert [err for _, err in seen] == report_errors
    np.testing.assert_array_equal(params["W_h"], np.eye(16))   # input not mutated


def test_train_is_deterministic():
    vocab_size, xs, ys = repeating_text_dataset(seq_len=4)
    runs = [nr.train(nr.init_params(vocab_size, 6, np.random.default_rng(5)),
                     xs, ys, lr=0.05, report_every=50)[1] for _ in range(2)]
    assert runs[0] == runs[1]
