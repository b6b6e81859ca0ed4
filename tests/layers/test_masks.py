"""Time masks through the layers (Keras semantics): padding is invisible to predictions,
losses and gradients; masks reach the loss; bad masks are refused by name."""
import numpy as np
import pytensor
import pytest
from marks import heavy_beyond

from symrnn.errors import ConfigError, ShapeError
from symrnn.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Masking,
    Model,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)
from symrnn.layers.fitting import _reported_graph

pytestmark = pytest.mark.proof

V, H = 7, 4
LENGTHS = [3, 5, 1, 4]
CELLS = [SimpleRNN, GRU, LSTM]


def rows(seed=0):
    """Sequences of ids 1..V-1 (0 is padding) of the LENGTHS, and a target per row."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, V, n) for n in LENGTHS], rng.integers(0, V, len(LENGTHS))


def padded(seqs, maxlen, where):
    out = np.zeros((len(seqs), maxlen), dtype="int32")
    for i, s in enumerate(seqs):
        if where == "post":
            out[i, :len(s)] = s
        else:
            out[i, maxlen - len(s):] = s
    return out


def model_of(cell, bidirectional=False, return_sequences=False, go_backwards=False):
    rnn = cell(H, return_sequences=return_sequences, go_backwards=go_backwards, seed=2)
    head = TimeDistributed(Dense(V, activation="softmax", seed=3)) if return_sequences \
        else Dense(V, activation="softmax", seed=3)
    model = Sequential([Embedding(V, 3, mask_zero=True, dtype="float64", seed=1),
                        Bidirectional(rnn) if bidirectional else rnn, head])
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    rng = np.random.default_rng(5)   # away from the initial weights' symmetries
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    return model


def gradients(model, x, y):
    """The loss and its gradient for every parameter, from the model's own loss graph
    (compiled once per model: the batch and time sizes are not part of the graph)."""
    if not hasattr(model, "loss_and_grads"):
        inputs, total, _, _ = _reported_graph(model, training=False)
        grads = pytensor.grad(total, model.trainable_params)
        model.loss_and_grads = pytensor.function(inputs, [total, *grads], mode="FAST_COMPILE")
    return model.loss_and_grads(x, y)


# every cell one way by default, the gated ones both ways too with --heavy
MASK_CASES = [(cell, bidirectional) for bidirectional in (False, True) for cell in CELLS]


@pytest.mark.parametrize("cell, bidirectional", heavy_beyond(
    MASK_CASES, keep=[(cell, False) for cell in CELLS] + [(SimpleRNN, True)]),
    ids=lambda v: v.__name__ if isinstance(v, type) else ("bi" if v else "uni"))
def test_padding_is_invisible_to_predictions_losses_and_gradients(cell, bidirectional):
    model, (seqs, y) = model_of(cell, bidirectional), rows()
    forms = [padded(seqs, 5, "post"), padded(seqs, 5, "pre"), padded(seqs, 9, "post"),
             padded(seqs, 9, "pre")]
    want = model.predict(forms[0], backend="py")
    want_grads = gradients(model, forms[0], y)
    for x in forms[1:]:
        np.testing.assert_allclose(model.predict(x, backend="py"), want, rtol=0, atol=1e-12)
        for a, b in zip(gradients(model, x, y), want_grads):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for i, s in enumerate(seqs):   # each row as if no other row had made it longer
        alone = model.predict(np.asarray(s, "int32")[None], backend="py")[0]
        np.testing.assert_allclose(want[i], alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_go_backwards_reads_each_rows_real_steps_in_reverse(cell):
    backwards, forwards = model_of(cell, go_backwards=True), model_of(cell)
    forwards.set_weights(backwards.get_weights())
    seqs, _ = rows(1)
    for where in ("pre", "post"):
        got = backwards.predict(padded(seqs, 6, where), backend="py")
        want = forwards.predict(padded([s[::-1] for s in seqs], 6, where), backend="py")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_sequence_losses_and_accuracy_are_means_over_real_steps(cell):
    model = model_of(cell, return_sequences=True)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"], backend="py")
    seqs, _ = rows(2)
    rng = np.random.default_rng(3)
    targets = [rng.integers(0, V, len(s)) for s in seqs]
    x, y = padded(seqs, 6, "post"), padded(targets, 6, "post")
    probs = model.predict(x, backend="py")
    real = x != 0
    picked = np.take_along_axis(probs, y[..., None], axis=-1)[..., 0]
    loss, acc = model.evaluate(x, y, batch_size=len(x))
    np.testing.assert_allclose(loss, -np.log(picked[real]).mean(), rtol=1e-12)
    assert acc == pytest.approx((probs.argmax(-1) == y)[real].mean(), abs=1e-12)
    # the same rows padded before: the same real steps, so the same mean
    pre_loss, pre_acc = model.evaluate(padded(seqs, 8, "pre"), padded(targets, 8, "pre"),
                                       batch_size=len(x))
    assert pre_loss == pytest.approx(loss, rel=1e-12) and pre_acc == pytest.approx(acc, abs=1e-12)


def test_padded_steps_output_the_carried_state_and_rows_without_steps_output_zeros():
    rnn = SimpleRNN(H, return_sequences=True, seed=2)
    model = Sequential([Embedding(V, 3, mask_zero=True, dtype="float64", seed=1), rnn])
    model.compile("sgd", "mse", backend="py")
    x = np.array([[3, 4, 0, 0], [0, 0, 5, 6], [0, 0, 0, 0]], dtype="int32")
    h = model.predict(x, backend="py")
    np.testing.assert_array_equal(h[0, 2], h[0, 1])          # post: the last real state, carried
    np.testing.assert_array_equal(h[0, 3], h[0, 1])
    np.testing.assert_array_equal(h[1, :2], 0.0)             # pre: zeros before the first real step
    np.testing.assert_array_equal(h[2], 0.0)                 # no real step: the initial state
    assert np.all(h[0, 1] != 0) and np.all(h[1, 3] != 0)


def test_a_batch_with_no_real_step_has_zero_loss_and_no_gradient():
    model = model_of(SimpleRNN, return_sequences=True)
    x = np.zeros((2, 4), dtype="int32")
    loss, *grads = gradients(model, x, np.ones((2, 4), dtype="int64"))
    assert loss == 0.0 and all(np.all(g == 0) for g in grads)


def test_masking_layer_equals_the_embeddings_zero_mask():
    seqs, y = rows(4)
    embedded = model_of(LSTM)
    table = embedded.get_weights()[0].copy()
    table[0] = 0.0
    x = padded(seqs, 6, "post")
    masked = Sequential([Masking(0.0, input_shape=(None, 3), dtype="float64"), LSTM(H, seed=2),
                         Dense(V, activation="softmax", seed=3)])
    masked.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    masked.set_weights(embedded.get_weights()[1:])
    np.testing.assert_allclose(masked.predict(table[x], backend="py"),
                               embedded.predict(x, backend="py"), rtol=0, atol=1e-12)


def test_a_mask_input_as_lasagne_passes_it():
    """Lasagne's recurrent.py: a (batch, time) mask of 1s and 0s beside real-valued input."""
    seqs, y = rows(6)
    embedded = model_of(GRU)
    table = embedded.get_weights()[0]
    x_ids = padded(seqs, 6, "post")
    x_in, mask_in = Input((None, 3), dtype="float64"), Input((None,), dtype="float64")
    h = GRU(H, seed=2)(x_in, mask=mask_in)
    model = Model([x_in, mask_in], Dense(V, activation="softmax", seed=3)(h))
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    model.set_weights(embedded.get_weights()[1:])
    noise = np.where((x_ids != 0)[..., None], table[x_ids], 9.0)   # padding holds anything
    got = model.predict([noise, (x_ids != 0).astype("float64")], backend="py")
    np.testing.assert_allclose(got, embedded.predict(x_ids, backend="py"), rtol=0, atol=1e-12)


def test_stateful_layers_carry_the_last_real_state_to_the_next_batch():
    seqs, _ = rows(7)
    layers = lambda stateful: [Embedding(V, 3, mask_zero=True, dtype="float64", seed=1,
                                         batch_size=len(seqs) if stateful else None),
                               GRU(H, stateful=stateful, seed=2)]
    stateful = Sequential(layers(True))
    stateful.compile("sgd", "mse", backend="py")
    stateful.predict(padded(seqs, 5, "post"), batch_size=len(seqs), backend="py")
    carried = stateful.layers[-1].states[0].get_value()
    plain = Sequential(layers(False))
    plain.compile("sgd", "mse", backend="py")
    plain.set_weights(stateful.get_weights())
    np.testing.assert_allclose(carried, plain.predict(padded(seqs, 5, "pre"), backend="py"),
                               rtol=0, atol=1e-12)


def test_masks_pass_through_dense_dropout_and_timedistributed_to_the_loss():
    model = Sequential([Embedding(V, 3, mask_zero=True, dtype="float64", seed=1),
                        SimpleRNN(H, return_sequences=True, seed=2), Dropout(0.2, seed=4),
                        Dense(5, seed=5), TimeDistributed(Dense(V, activation="softmax", seed=3))])
    assert all(layer_output.masked for layer_output in [model.outputs[0]])
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    x = np.array([[1, 2, 0], [3, 0, 0]], dtype="int32")
    y = np.array([[1, 2, 6], [3, 6, 6]])
    probs = model.predict(x, backend="py")
    want = -np.log([probs[0, 0, 1], probs[0, 1, 2], probs[1, 0, 3]]).mean()
    assert model.evaluate(x, y) == pytest.approx(want, rel=1e-12)


# -- refusals -------------------------------------------------------------------
def test_a_mask_reaching_a_layer_that_cannot_take_one_is_refused_when_it_is_called():
    ids = Input((4,), dtype="int32")
    embedded = Embedding(V, 3, mask_zero=True)(ids)
    with pytest.raises(ConfigError, match="Flatten.*cannot take a masked input"):
        Flatten()(embedded)
    last = SimpleRNN(H)(embedded)              # the last output carries no mask
    assert not last.masked
    Flatten()(TimeDistributed(Dense(2))(Embedding(V, 3)(ids)))   # no mask: fine


def test_a_mask_that_does_not_fit_or_goes_to_a_layer_without_mask_is_refused():
    x = Input((4, 3))
    with pytest.raises(ShapeError, match=r"mask has shape \(None, 5\).*\(None, 4\)"):
        SimpleRNN(H)(x, mask=Input((5,)))
    with pytest.raises(ShapeError, match="mask has shape"):
        SimpleRNN(H)(x, mask=Input((4, 1)))
    with pytest.raises(ConfigError, match="takes no mask= argument"):
        Dense(2)(x, mask=Input((4,)))
    with pytest.raises(ConfigError, match="mask= must be a model input"):
        SimpleRNN(H)(x, mask=np.ones((2, 4)))


@pytest.mark.parametrize("kwargs, message", [
    ({"mask_zero": True, "input_dim": 0}, "input_dim.*whole number >= 1"),
    ({"dropout": 1.0}, r"dropout must be a fraction in \[0, 1\)"),
    ({"output_dim": 2.5}, "output_dim must be a whole number"),
])
def test_embedding_refuses_bad_arguments_when_it_is_made(kwargs, message):
    args = {"input_dim": V, "output_dim": 3, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Embedding(**args)


def test_masking_refuses_a_non_finite_value():
    with pytest.raises(ConfigError, match="mask_value must be a finite number"):
        Masking(float("nan"))


def test_a_model_with_a_mask_input_saves_and_loads(tmp_path):
    """Lasagne's recurrent.py shape: a mask input, a forward and a backward RNN, concatenated."""
    from symrnn.layers import load_model, merge
    x_in, mask_in = Input((6, 2), dtype="float64"), Input((6,), dtype="float64")
    forward = SimpleRNN(5, grad_clip=100, seed=1)(x_in, mask=mask_in)
    backward = SimpleRNN(5, grad_clip=100, go_backwards=True, seed=2)(x_in, mask=mask_in)
    model = Model([x_in, mask_in], Dense(1, activation="tanh", seed=3)(merge([forward, backward],
                                                                             mode="concat")))
    model.compile("adagrad", "mse", backend="py")
    rng = np.random.default_rng(0)
    x, mask = rng.normal(size=(4, 6, 2)), (rng.uniform(size=(4, 6)) > 0.3).astype("float64")
    model.save(tmp_path / "model.npz")
    again = load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(again.predict([x, mask], backend="py"),
                                  model.predict([x, mask], backend="py"))
    shuffled = np.where(mask[..., None] > 0, x, rng.normal(size=x.shape))   # padding: anything
    np.testing.assert_allclose(model.predict([shuffled, mask], backend="py"),
                               model.predict([x, mask], backend="py"), rtol=0, atol=1e-12)
