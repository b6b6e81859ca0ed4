"""Keras 1 arguments the lesson's and the seeds' programs pass: consume_less, Embedding's
dropout, and the char-rnn notebook's model typed as its users wrote it."""
import numpy as np
import pytest

from symrnn.errors import ConfigError
from symrnn.graph.optimizers import Adam
from symrnn.layers import (
    GRU,
    LSTM,
    Activation,
    Dense,
    Dropout,
    Embedding,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)


def test_the_char_rnn_model_runs_as_the_notebook_typed_it():
    """Only the sizes are small (512 units, maxlen 40 in the notebook)."""
    vocab_size, maxlen, n = 12, 6, 16
    model = Sequential([
        Embedding(vocab_size, 24, input_length=maxlen),
        LSTM(16, input_dim=24, return_sequences=True, dropout_U=0.2, dropout_W=0.2,
             consume_less='gpu'),
        Dropout(0.2),
        LSTM(16, return_sequences=True, dropout_U=0.2, dropout_W=0.2,
             consume_less='gpu'),
        Dropout(0.2),
        TimeDistributed(Dense(vocab_size)),
        Activation('softmax')
    ])
    model.compile(loss='sparse_categorical_crossentropy', optimizer=Adam(), backend="py")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, vocab_size, (n, maxlen)), rng.integers(0, vocab_size, (n, maxlen, 1))
    model.fit(x, y, batch_size=8, nb_epoch=1, verbose=0)
    assert model.predict(x[:2], backend="py").shape == (2, maxlen, vocab_size)


@pytest.mark.parametrize("cell", [SimpleRNN, GRU, LSTM])
def test_consume_less_changes_nothing(cell):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2))
    outputs = []
    for hint in (None, "cpu", "mem", "gpu"):
        model = Sequential([cell(4, input_shape=(5, 2), consume_less=hint, seed=3, dtype="float64")])
        model.compile("sgd", "mse", backend="py")
        outputs.append(model.predict(x, backend="py"))
    for other in outputs[1:]:
        np.testing.assert_array_equal(outputs[0], other)
    with pytest.raises(ConfigError, match="consume_less must be one of"):
        cell(4, consume_less="fast")


def test_embedding_dropout_drops_whole_words_in_training_only():
    """Keras 1: a random fraction of the vocabulary's rows is zeroed for a batch (every
    occurrence of a dropped word), the rest scaled by 1 / (1 - dropout)."""
    import pytensor
    import pytensor.tensor as pt
    emb = Embedding(50, 3, dropout=0.5, seed=2, dtype="float64")
    ids = pt.lmatrix("ids")
    train = pytensor.function([ids], emb(ids, training=True, input_shape=(None, 4)),
                              mode="FAST_COMPILE")
    infer = pytensor.function([ids], emb(ids, input_shape=(None, 4)), mode="FAST_COMPILE")
    table = emb.W.get_value()
    x = np.tile(np.arange(50), 2).reshape(25, 4)              # every word twice
    out = train(x)
    dropped = np.all(out == 0, axis=-1)
    kept = ~dropped
    np.testing.assert_allclose(out[kept], 2.0 * table[x[kept]], rtol=1e-15)
    per_word = {}
    for word, gone in zip(x.ravel(), dropped.ravel()):
        per_word.setdefault(int(word), set()).add(bool(gone))
    assert all(len(v) == 1 for v in per_word.values())     # a word is dropped everywhere or nowhere
    assert 10 < sum(v == {True} for v in per_word.values()) < 40
    np.testing.assert_array_equal(infer(x), table[x])


def test_embedding_dropout_draws_a_new_set_of_words_for_each_batch():
    model = Sequential([Embedding(30, 2, input_length=3, dropout=0.5, seed=4, dtype="float64"),
                        SimpleRNN(2, seed=5), Dense(1, seed=6)])
    model.compile("sgd", "mse", backend="py")
    x, y = np.arange(30).reshape(10, 3), np.zeros((10, 1))
    rng_before = model.layers[1].rng_var.get_value().bit_generator.state
    model.fit(x, y, batch_size=5, verbose=0)
    assert model.layers[1].rng_var.get_value().bit_generator.state != rng_before


CONSTRUCTORS = [
    (lambda: Dense(0), "Dense units must be a whole number >= 1"),
    (lambda: Dense(2.5), "Dense units must be a whole number"),
    (lambda: Dense(3, activation="nope"), "unknown activation 'nope'"),
    (lambda: Dense(3, init="nope"), "unknown initialiser 'nope'"),
    (lambda: Dropout(1.0), r"Dropout rate must be a fraction in \[0, 1\)"),
    (lambda: Dropout("x"), "Dropout rate must be a fraction"),
    (lambda: SimpleRNN(0), "SimpleRNN units must be a whole number >= 1"),
    (lambda: LSTM(3, dropout_W=1.2), r"dropout must be a fraction in \[0, 1\)"),
    (lambda: GRU(3, inner_activation="nope"), "unknown activation 'nope'"),
    (lambda: SimpleRNN(3, inner_init="nope"), "unknown initialiser 'nope'"),
    (lambda: SimpleRNN(3, truncate_gradient=0), "truncate_gradient must be -1"),
    (lambda: SimpleRNN(3, grad_clip=-1), "grad_clip must be a positive number"),
    (lambda: Embedding(5, 2, init="nope"), "unknown initialiser 'nope'"),
    (lambda: Embedding(0, 2), "input_dim .* must be a whole number >= 1"),
    (lambda: TimeDistributed(3), "TimeDistributed wraps a layer"),
    (lambda: Activation("nope"), "unknown activation 'nope'"),
    (lambda: Dense(3, name=5), "name must be a non-empty string"),
]


@pytest.mark.parametrize("make, message", CONSTRUCTORS, ids=range(len(CONSTRUCTORS)))
def test_layer_constructors_refuse_bad_sizes_rates_and_names_when_called(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_batch_normalization_refuses_bad_momentum_and_epsilon():
    from symrnn.layers import BatchNormalization
    with pytest.raises(ConfigError, match="momentum must be a fraction"):
        BatchNormalization(momentum=2)
    with pytest.raises(ConfigError, match="epsilon must be a number > 0"):
        BatchNormalization(epsilon=-1)
