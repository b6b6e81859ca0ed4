"""Models and training API: summary counts, save/load, reuse, multi-output, optimizers."""

import numpy as np
import pytest

from symrnn.data import Vocab
from symrnn.errors import CheckpointError, ConfigError, ShapeError
from symrnn.graph.optimizers import SGD, Adam, get_optimizer
from symrnn.layers import (
    BatchNormalization,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Model,
    Sequential,
    SimpleRNN,
    TimeDistributed,
    load_model,
    merge,
)

V, H, T = 7, 5, 4


def keras_rnn(f, u):
    return f * u + u * u + u


@pytest.mark.parametrize("vocab,fac,steps,hidden", [(86, 42, 8, 256), (7, 3, 4, 5), (60, 24, 40, 11)])
def test_summary_counts_match_keras_formulas(vocab, fac, steps, hidden):
    model = Sequential([Embedding(vocab, fac, input_length=steps),
                        SimpleRNN(hidden, activation="relu", inner_init="identity"),
                        BatchNormalization(),
                        Dense(vocab, activation="softmax")])
    emb, rnn, bn, dense = model.stack
    assert emb.count_params() == vocab * fac
    assert rnn.count_params() == keras_rnn(fac, hidden)
    assert bn.count_params() == 4 * hidden and len(bn.non_trainable_params) == 2
    assert dense.count_params() == hidden * vocab + vocab
    lines = []
    model.summary(print_fn=lines.append)
    total = vocab * fac + keras_rnn(fac, hidden) + 4 * hidden + hidden * vocab + vocab
    assert f"Total params: {total:,}" in lines
    assert f"Non-trainable params: {2 * hidden:,}" in lines
    assert any(line.startswith(f"{rnn.name} (SimpleRNN)") and f"(None, {hidden})" in line
               and line.endswith(str(keras_rnn(fac, hidden))) for line in lines)


def test_lesson_simplernn_summary_numbers():
    model = Sequential([Embedding(86, 42, input_length=8),
                        SimpleRNN(256, activation="relu", inner_init="identity"),
                        Dense(86, activation="softmax")])
    assert [l.count_params() for l in model.stack] == [3612, 76544, 22102]


def sequence_model(seed=0):
    model = Sequential([
        Embedding(V, 3, input_length=T, dtype="float64", seed=seed),
        SimpleRNN(H, activation="relu", inner_init="identity", return_sequences=True, seed=seed),
        TimeDistributed(Dense(V, activation="softmax", seed=seed)),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", backend="py")
    return model


def test_save_load_predict_bit_identical_with_vocab(tmp_path):
    model = sequence_model()
    model.vocab = Vocab.from_list(list("\0abcdef"))
    ids = np.random.default_rng(0).integers(0, V, (20, T))
    model.fit(ids, ids, batch_size=8, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.vocab == model.vocab
    np.testing.assert_array_equal(loaded.predict(ids, backend="py"), model.predict(ids))


def test_functional_shared_layers_save_load(tmp_path):
    model = three_char_model()
    xs = [np.arange(6) % V for _ in range(3)]
    model.save(tmp_path / "f.npz")
    loaded = load_model(tmp_path / "f.npz")
    np.testing.assert_array_equal(loaded.predict(xs, backend="py"), model.predict(xs, backend="py"))


def test_truncated_or_mismatched_file_refused_model_unchanged(tmp_path):
    model = sequence_model()
    before = model.get_weights()
    other = Sequential([Embedding(V, 3, input_length=T), SimpleRNN(H + 1, return_sequences=True),
                        TimeDistributed(Dense(V))])
    other.save_weights(tmp_path / "other.npz")
    model.save_weights(tmp_path / "good.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:200])
    for name in ("other.npz", "cut.npz"):
        with pytest.raises(CheckpointError):
            model.load_weights(tmp_path / name)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="shape|names"):
        model.load_weights(tmp_path / "other.npz")


def three_char_model():
    """The lesson's 3-char model shape: one Embedding and one Dense shared by three inputs."""
    inputs = [Input((1,), dtype="int64") for _ in range(3)]
    emb, flat = Embedding(V, 3, dtype="float64", seed=0), Flatten()
    dense_in = Dense(H, activation="relu", seed=1)
    dense_hidden = Dense(H, activation="tanh", seed=2)
    chars = [flat(emb(x)) for x in inputs]
    h = dense_in(chars[0])
    for c in chars[1:]:
        h = merge([dense_in(c), dense_hidden(h)], mode="sum")
    return Model(inputs, Dense(V, activation="softmax", seed=3)(h))


def test_layer_reuse_shares_weights_and_matches_numpy():
    model = three_char_model()
    assert len(model.params) == 1 + 2 + 2 + 2   # embedding, dense_in, dense_hidden, dense_out
    emb_W, W_in, b_in, W_hid, b_hid, W_out, b_out = model.get_weights()
    xs = [np.array([1, 2]), np.array([3, 6]), np.array([0, 5])]
    relu = lambda a: np.maximum(a, 0)
    h = relu(emb_W[xs[0]] @ W_in + b_in)
    for x in xs[1:]:
        h = relu(emb_W[x] @ W_in + b_in) + np.tanh(h @ W_hid + b_hid)
    z = h @ W_out + b_out
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(xs, backend="py"), want, rtol=1e-12)


def test_multiple_outputs_report_one_loss_each():
    x = Input((T, V))
    zeros = Input((H,))
    rnn = SimpleRNN(H, return_sequences=True, seed=0)
    seq = rnn(x, initial_state=zeros)
    out_a = TimeDistributed(Dense(V, activation="softmax", seed=0), name="seq_out")(seq)
    out_b = Dense(2, name="last_out", seed=0)(SimpleRNN(H, seed=1)(x))
    model = Model([x, zeros], [out_a, out_b])
    model.compile(SGD(lr=0.0), ["sparse_categorical_crossentropy", "mse"], backend="py")
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(10, T, V)), np.zeros((10, H))]
    ys = [rng.integers(0, V, (10, T, 1)), rng.normal(size=(10, 2))]
    hist = model.fit(xs, ys, batch_size=4, epochs=1, verbose=0, shuffle=False).history
    assert set(hist) == {"loss", "seq_out_loss", "last_out_loss"}
    assert hist["loss"][0] == pytest.approx(hist["seq_out_loss"][0] + hist["last_out_loss"][0])
    total, per_a, per_b = model.evaluate(xs, ys, batch_size=3)   # lr 0: same weights, same losses
    assert (per_a, per_b) == pytest.approx((hist["seq_out_loss"][0], hist["last_out_loss"][0]))
    ys_flat = [ys[0][..., 0], ys[1]]   # (N, T) targets work as well as Keras' (N, T, 1)
    assert model.evaluate(xs, ys_flat) == pytest.approx([total, per_a, per_b])


def linear_model(optimizer):
    x = Input((3,))
    model = Model(x, Dense(1, seed=0)(x))
    model.compile(optimizer, "mse", backend="py")
    return model


def mse_grads(model, X, y):
    W, b = model.get_weights()
    err = X @ W + b - y                         # d/dW of mean((XW + b - y)^2)
    return [2 * X.T @ err / len(X), 2 * err.mean(0)]


def test_lr_change_after_compile_takes_effect():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    model = linear_model(SGD(lr=0.1))
    for lr in (0.1, 0.01):
        model.optimizer.lr = lr
        before, grads = model.get_weights(), mse_grads(model, X, y)
        model.fit(X, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
        for w0, w1, g in zip(before, model.get_weights(), grads):
            np.testing.assert_allclose(w0 - w1, lr * g, rtol=1e-10)


def test_clipnorm_clips_global_norm():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 3)), 10 + rng.normal(size=(6, 1))
    model = linear_model(SGD(lr=1.0, clipnorm=0.5))
    before, grads = model.get_weights(), mse_grads(model, X, y)
    assert np.sqrt(sum((g ** 2).sum() for g in grads)) > 0.5
    model.fit(X, y, batch_size=6, epochs=1, verbose=0)
    deltas = [w0 - w1 for w0, w1 in zip(before, model.get_weights())]
    assert np.sqrt(sum((d ** 2).sum() for d in deltas)) == pytest.approx(0.5)
    scale = 0.5 / np.sqrt(sum((g ** 2).sum() for g in grads))
    for d, g in zip(deltas, grads):
        np.testing.assert_allclose(d, scale * g, rtol=1e-10)


def test_adam_first_step_matches_numpy():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    model = linear_model(Adam(lr=0.01))
    before, grads = model.get_weights(), mse_grads(model, X, y)
    model.fit(X, y, batch_size=6, epochs=1, verbose=0)
    lr_t = 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9)
    for w0, w1, g in zip(before, model.get_weights(), grads):
        m, v = 0.1 * g, 0.001 * g ** 2
        np.testing.assert_allclose(w1, w0 - lr_t * m / (np.sqrt(v) + 1e-7), rtol=1e-10)
    state = model.optimizer.get_state()
    assert float(state["adam.t"]) == 1.0


def test_get_optimizer_by_name_and_unknown():
    assert isinstance(get_optimizer("adam"), Adam)
    with pytest.raises(ConfigError, match="adam.*sgd"):
        get_optimizer("adamw")


def test_fit_rejects_bad_shapes_naming_expected():
    model = sequence_model()
    with pytest.raises(ShapeError, match=r"\(None, 4\)"):
        model.fit(np.zeros((3, T + 1), dtype=int), np.zeros((3, T), dtype=int), verbose=0)
    with pytest.raises(ShapeError, match=r"id 7 at index \(0, 0\) is outside \[0, 7\)"):
        model.fit(np.zeros((3, T), dtype=int), np.full((3, T), V), verbose=0)


def test_dropout_inference_deterministic_training_masks_differ():
    model = Sequential([Dropout(0.5, seed=0, input_shape=(50,))])
    model.compile(SGD(), "mse", backend="py")
    x = np.ones((2, 50))
    np.testing.assert_array_equal(model.predict(x), x)
    from symrnn.layers.fitting import train_fn
    train = train_fn(model)  # no trainable params: the call only advances the RNG
    zeros = np.zeros_like(x)
    losses = [float(train(x, zeros)[0]) for _ in range(4)]   # 4 * fraction kept: tracks the mask
    assert len(set(losses)) > 1


def test_batchnorm_moving_stats_updated_and_used_in_inference():
    model = Sequential([BatchNormalization(momentum=0.5, input_shape=(3,))])
    model.compile(SGD(lr=0.0), "mse", backend="py")
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3))
    model.fit(x, x, batch_size=8, epochs=1, verbose=0)
    gamma, beta, mean, var = model.get_weights()
    np.testing.assert_allclose(mean, 0.5 * x.mean(0))
    np.testing.assert_allclose(var, 0.5 + 0.5 * x.var(0))
    np.testing.assert_allclose(model.predict(x), (x - mean) / np.sqrt(var + 1e-3))


def test_sequential_first_layer_needs_shape():
    with pytest.raises(ConfigError, match="input_shape"):
        Sequential([Dense(3)])


def test_shared_output_layer_reports_one_loss_per_output():
    """One Dense applied at two places: two outputs, two distinct loss keys."""
    a, b = Input((3,)), Input((3,))
    out = Dense(2, name="shared_out", seed=0)
    model = Model([a, b], [out(a), out(b)])
    assert model.output_names == ["shared_out_1", "shared_out_2"]
    model.compile(SGD(lr=0.0), "mse", backend="py")
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(6, 3)), rng.normal(size=(6, 3))]
    ys = [np.zeros((6, 2)), np.ones((6, 2))]
    hist = model.fit(xs, ys, batch_size=6, epochs=1, verbose=0, shuffle=False).history
    assert set(hist) == {"loss", "shared_out_1_loss", "shared_out_2_loss"}
    W, bias = out.get_weights()
    expect = [np.mean((x @ W + bias - y) ** 2) for x, y in zip(xs, ys)]
    assert [hist["shared_out_1_loss"][0], hist["shared_out_2_loss"][0]] == pytest.approx(expect)
