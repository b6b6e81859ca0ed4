"""GRU/LSTM/Bidirectional layers, stateful recurrence, in-step dropout, grad_clip.

Everything is float64 on backend ``py``; sizes are non-square (features 5,
units 3 or 4, time 4) so a transposed weight cannot pass.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from marks import heavy_beyond
from pytensor.gradient import verify_grad
from pytensor.graph.replace import graph_replace
from pytensor.scan.op import Scan
from pytensor.tensor.blas import Dot22, Gemm

from symrnn.compat import SCAN_GRAD_READS_SAVED_OUTPUTS
from symrnn.errors import ConfigError, ShapeError
from symrnn.graph.backend import compile_function
from symrnn.graph.gradients import gradients
from symrnn.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Embedding,
    Sequential,
    SimpleRNN,
    TimeDistributed,
    Updates,
    load_model,
)

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

B, T, F = 2, 4, 5


def _x(shape=(B, T, F), seed=1):
    return np.random.default_rng(seed).normal(0, 1, shape)


def _built(layer, features=F):
    layer.dtype = "float64"
    layer.maybe_build((None, None, features), "float64")
    rng = np.random.default_rng(2)
    for p in layer.params:  # move biases off zero so they matter
        p.set_value(p.get_value() + rng.normal(0, 0.3, p.get_value().shape))
    return layer


def _run(layer, x, training=False, **kwargs):
    x_var = pt.tensor3("x", dtype="float64")
    out = layer(x_var, training=training, **kwargs)
    return compile_function([x_var], out, backend="py")(x)


# -- numpy references --------------------------------------------------------------
def hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def numpy_gru(x, W, U, b):
    H = U.shape[0]
    h, hs = np.zeros((x.shape[0], H)), []
    for t in range(x.shape[1]):
        xw = x[:, t] @ W + b
        z = hard_sigmoid(xw[:, :H] + h @ U[:, :H])
        r = hard_sigmoid(xw[:, H:2 * H] + h @ U[:, H:2 * H])
        cand = np.tanh(xw[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
        h = z * h + (1 - z) * cand
        hs.append(h)
    return np.stack(hs, axis=1)


def numpy_lstm(x, W, U, b):
    H = U.shape[0]
    h, c, hs = np.zeros((x.shape[0], H)), np.zeros((x.shape[0], H)), []
    for t in range(x.shape[1]):
        a = x[:, t] @ W + b + h @ U
        i, f = hard_sigmoid(a[:, :H]), hard_sigmoid(a[:, H:2 * H])
        c = f * c + i * np.tanh(a[:, 2 * H:3 * H])
        h = hard_sigmoid(a[:, 3 * H:]) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1)


@pytest.mark.parametrize("cls, reference", [(GRU, numpy_gru), (LSTM, numpy_lstm)])
def test_layer_equals_numpy_gates_by_hand(cls, reference):
    layer = _built(cls(3, return_sequences=True))
    x = _x()
    W, U, b = (p.get_value() for p in layer.params)
    np.testing.assert_allclose(_run(layer, x), reference(x, W, U, b), rtol=1e-12, atol=1e-12)


def test_lstm_forget_bias_is_one_and_unit_forget_bias_false_keeps_zeros():
    lstm, plain = LSTM(3), LSTM(3, unit_forget_bias=False)
    for layer in (lstm, plain):
        layer.maybe_build((None, None, F), "float64")
    assert lstm.b.get_value().tolist() == [0.0] * 3 + [1.0] * 3 + [0.0] * 6
    assert plain.b.get_value().tolist() == [0.0] * 12


VERIFY_CASES = {
    "gru_seq": lambda: GRU(3, return_sequences=True, inner_activation="sigmoid"),
    "gru_backwards_hard_sigmoid": lambda: GRU(3, go_backwards=True),
    "lstm_state": lambda: LSTM(3, return_state=True, recurrent_activation="sigmoid"),
    "lstm_seq": lambda: LSTM(4, return_sequences=True),
}


@pytest.mark.parametrize("case", sorted(VERIFY_CASES))
def test_gated_layers_pass_verify_grad(case):
    layer = _built(VERIFY_CASES[case]())
    params = layer.params

    def cost(x, *param_values):
        total = 0
        for i, out in enumerate(layer.apply(x, False, Updates()) if layer.return_state
                                else [layer.apply(x, False, Updates())]):
            total = total + (out * pt.cos(pt.arange(out.size) + i).reshape(out.shape)).sum()
        return graph_replace(total, dict(zip(params, param_values)))

    verify_grad(cost, [_x()] + [p.get_value() for p in params], rng=np.random.default_rng(0),
                abs_tol=1e-5, rel_tol=1e-5, mode="FAST_COMPILE", no_debug_ref=False)


# -- summary counts ----------------------------------------------------------------------
def test_seed_004_model_summary_counts_match_keras():
    model = Sequential([Embedding(5000, 64, input_length=10), LSTM(64, return_sequences=True),
                        LSTM(64), Dense(6, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    counts = [int(line.split()[-1]) for line in lines if "(" in line and line.split()[-1].isdigit()]
    assert counts == [320000, 33024, 33024, 390]
    assert "Total params: 386,438" in lines


def test_stacked_gated_model_round_trips_through_load_model(tmp_path):
    model = Sequential([Embedding(7, 4, input_length=T, dtype="float64"),
                        GRU(5, return_sequences=True, dropout=0.2, recurrent_dropout=0.2),
                        Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum"),
                        TimeDistributed(Dense(7, activation="softmax"))])
    ids = np.random.default_rng(0).integers(0, 7, (6, T + 1))  # (training is tested with stateful)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [type(l).__name__ for l in loaded.stack] == [type(l).__name__ for l in model.stack]
    np.testing.assert_array_equal(loaded.predict(ids[:, :-1], backend="py"),
                                  model.predict(ids[:, :-1], backend="py"))


# -- Bidirectional ---------------------------------------------------------------------------
def _forward_twin(layer, cls):
    """A forward layer holding ``layer``'s weights (to run it on reversed input)."""
    twin = cls(layer.units, return_sequences=layer.return_sequences)
    twin.maybe_build((None, None, F), "float64")
    twin.set_weights(layer.get_weights())
    return twin


@pytest.mark.parametrize("merge_mode, return_sequences", [("concat", True), ("sum", False)])
def test_bidirectional_equals_forward_and_reversed_backward(merge_mode, return_sequences):
    bi = Bidirectional(GRU(3, return_sequences=return_sequences), merge_mode=merge_mode)
    bi.dtype = "float64"
    bi.maybe_build((None, None, F), "float64")
    x = _x()
    fwd = _run(_forward_twin(bi.forward, GRU), x)
    bwd = _run(_forward_twin(bi.backward, GRU), x[:, ::-1].copy())  # backward = forward on reversed time
    if return_sequences:
        bwd = bwd[:, ::-1]
    want = np.concatenate([fwd, bwd], axis=-1) if merge_mode == "concat" else fwd + bwd
    got = _run(bi, x)
    assert got.shape == ((B, T, 6) if return_sequences else (B, 3))
    assert bi.compute_output_shape((None, T, F)) == ((None, T, 6) if return_sequences else (None, 3))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert bi.count_params() == 2 * 3 * (F * 3 + 3 * 3 + 3)
    assert not np.allclose(bi.forward.W_x.get_value(), bi.backward.W_x.get_value())


def test_bidirectional_refuses_bad_merge_mode():
    with pytest.raises(ConfigError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="mul")


# -- stateful ------------------------------------------------------------------------------
def _stack(stateful, batch_input_shape):
    kwargs = {"stateful": stateful}
    return Sequential([LSTM(3, return_sequences=True, batch_input_shape=batch_input_shape,
                            dtype="float64", **kwargs),
                       GRU(4, return_sequences=True, **kwargs)])


def test_two_stateful_batches_equal_one_long_stateless_sequence_and_reset_restores_zeros():
    stateful, stateless = _stack(True, (B, T, F)), _stack(False, (None, None, F))
    stateless.set_weights(stateful.get_weights())
    x = _x((B, 2 * T, F))
    first = stateful.predict(x[:, :T], batch_size=B, backend="py")
    second = stateful.predict(x[:, T:], batch_size=B, backend="py")
    whole = stateless.predict(x, batch_size=B, backend="py")
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12, atol=1e-12)
    assert not np.allclose(second, stateless.predict(x[:, T:], batch_size=B, backend="py"))
    stateful.reset_states()
    assert all(not s.get_value().any() for layer in stateful.stack for s in layer.states)
    np.testing.assert_array_equal(stateful.predict(x[:, :T], batch_size=B, backend="py"), first)


def test_stateful_fit_updates_states_forces_no_shuffle_and_refuses_partial_batches():
    model = Sequential([Embedding(7, 3, batch_size=B, input_length=T, dtype="float64"),
                        LSTM(3, return_sequences=True, stateful=True),
                        TimeDistributed(Dense(7, activation="softmax"))])
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    ids = np.random.default_rng(0).integers(0, 7, (3 * B, T + 1))
    x, y = ids[:, :-1], ids[:, 1:]
    with pytest.warns(UserWarning, match="shuffle=False"):
        model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    assert np.abs(model.stack[1].states[1].get_value()).sum() > 0   # cell state carried
    with pytest.raises(ShapeError, match="not a multiple of the fixed batch size 2"):
        model.fit(x[:-1], y[:-1], batch_size=B, shuffle=False, verbose=0)
    with pytest.raises(ConfigError, match="pass batch_size=2"):
        model.evaluate(x, y, batch_size=3)


def test_stateful_without_fixed_batch_says_what_to_pass():
    with pytest.raises(ConfigError, match=r"fixed batch size: give the model's first layer "
                                          r"batch_input_shape=\(batch, timesteps, features\)"):
        Sequential([SimpleRNN(3, stateful=True, input_shape=(T, F))])


def test_truncate_gradient_stops_backprop_through_time():
    x_var = pt.tensor3("x", dtype="float64")
    grads = []
    for truncate in (-1, 1):
        layer = _built(SimpleRNN(3, activation="tanh", truncate_gradient=truncate))
        out = layer(x_var)
        g = gradients(out.sum(), [x_var])[0]
        grads.append(compile_function([x_var], g, backend="py")(_x()))
    assert np.abs(grads[0][:, 0]).sum() > 0
    assert not grads[1][:, :-1].any() and grads[1][:, -1].any()


def test_grad_clip_bounds_the_recurrent_message_but_not_the_forward_pass():
    x_var = pt.tensor3("x", dtype="float64")
    outs, grads = [], []
    for clip in (None, 1e-3):
        layer = SimpleRNN(3, activation="linear", grad_clip=clip, seed=0)
        layer.maybe_build((None, None, F), "float64")
        layer.W_h.set_value(3.0 * np.eye(3))          # a message that grows 3x per step
        out = layer(x_var)
        g = gradients(out.sum(), [x_var])[0]
        outs_g = compile_function([x_var], [out, g], backend="py")(_x())
        outs.append(outs_g[0]), grads.append(outs_g[1])
    np.testing.assert_allclose(outs[0], outs[1])
    assert np.abs(grads[0][:, 0]).max() > 1.0 and np.abs(grads[1][:, 0]).max() < 1.0


# -- dropout inside the step ----------------------------------------------------------------------
def _identity_rnn(**kwargs):
    layer = SimpleRNN(6, activation="linear", init="identity", inner_init="identity",
                      return_sequences=True, seed=3, **kwargs)
    layer.maybe_build((None, None, 6), "float64")
    return layer


def _train_and_infer(layer, x):
    x_var, updates = pt.tensor3("x", dtype="float64"), Updates()
    train = compile_function([x_var], layer(x_var, training=True, updates=updates),
                             updates=updates, backend="py")
    infer = compile_function([x_var], layer(x_var, training=False), backend="py")
    return train, infer


def test_input_dropout_mask_is_constant_over_a_sequence_and_new_each_call():
    layer = _identity_rnn(dropout=0.5)
    layer.W_h.set_value(np.zeros((6, 6)))            # h_t = x_t * mask: the mask itself
    x = np.ones((4, T, 6))
    train, infer = _train_and_infer(layer, x)
    masks = [train(x), train(x)]
    for m in masks:
        assert set(np.unique(m)) == {0.0, 2.0}        # dropped or scaled by 1/keep
        np.testing.assert_array_equal(m, np.repeat(m[:, :1], T, axis=1))
    assert not np.array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(infer(x), x)
    np.testing.assert_array_equal(infer(x), infer(x))


def test_recurrent_dropout_mask_is_constant_over_a_sequence():
    layer = _identity_rnn(recurrent_dropout=0.5)
    x = np.ones((4, T, 6))                            # h_t = 1 + m * h_tm1 per unit
    train, infer = _train_and_infer(layer, x)
    kept = np.array([1.0, 3.0, 7.0, 15.0])            # m = 2 at every step
    outs = [train(x), train(x)]
    for out in outs:
        for seq in out.transpose(0, 2, 1).reshape(-1, T):
            assert np.array_equal(seq, np.ones(T)) or np.array_equal(seq, kept), seq
    assert not np.array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(infer(x), np.cumsum(np.ones((4, T, 6)), axis=1))


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_gated_dropout_is_off_at_inference(cls):
    plain, dropped = _built(cls(3, return_sequences=True)), cls(3, return_sequences=True,
                                                                 dropout=0.3, recurrent_dropout=0.4)
    dropped.maybe_build((None, None, F), "float64")
    dropped.set_weights(plain.get_weights())
    x = _x()
    np.testing.assert_array_equal(_run(dropped, x), _run(plain, x))
    assert not np.allclose(_run(dropped, x, training=True), _run(plain, x))


def test_dropout_rate_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="recurrent_dropout"):
        LSTM(3, recurrent_dropout=1.0)


def layer_backward_loop_matmuls(layer_cls, n_saved):
    """Matmul nodes in the compiled backward scan of a gated layer (Keras defaults:
    hard_sigmoid gates) on its scan path (a cell the recurrence op does not know, e.g.
    with an activation of the user's), its loop saving ``n_saved`` gate activations."""
    layer = layer_cls(3, return_sequences=True, seed=0, dtype="float64")
    layer.cell_kind, layer.n_saved_in_loop = None, lambda: n_saved
    assert layer.loop_kind() == "scan"
    x = pt.tensor3("x", dtype="float64")
    out = layer(x, input_shape=(None, T, F))
    fn = compile_function([x], pytensor.grad(out.sum(), layer.trainable_params), backend="py")
    [grad_loop] = [n.op for n in fn.maker.fgraph.apply_nodes
                   if isinstance(n.op, Scan) and n.op.name.startswith("grad_of")]
    return sum(isinstance(n.op, (Dot22, Gemm)) for n in grad_loop.fgraph.apply_nodes)


@pytest.mark.parametrize("layer_cls", heavy_beyond([GRU, LSTM], keep=[LSTM]))
def test_layers_save_their_gates_where_the_backward_loop_reads_them(layer_cls):
    saved = layer_backward_loop_matmuls(layer_cls, layer_cls.n_saved)
    unsaved = layer_backward_loop_matmuls(layer_cls, 0)
    in_loop = layer_cls(3).n_saved_in_loop()
    if SCAN_GRAD_READS_SAVED_OUTPUTS:   # PyTensor 3.0: the saved gates spare forward matmuls
        assert in_loop == layer_cls.n_saved > 0 and saved < unsaved
    else:   # 3.1+: scan's gradient recomputes the step anyway, saving would only cost
        assert in_loop == 0 and saved >= unsaved
