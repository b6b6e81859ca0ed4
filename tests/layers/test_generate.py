"""The one-step generator against the full sequence model; metrics; the stateful layout."""
import math

import numpy as np
import pytest

from symrnn.app.metrics import bits_per_char, heldout_report, perplexity
from symrnn.data import Vocab, generate_from_windows, stateful_layout
from symrnn.errors import ConfigError, CorpusError, NonFiniteError, VocabError
from symrnn.layers import (
    GRU,
    LSTM,
    Dense,
    Embedding,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)
from symrnn.layers.generation import Generator

V = 7


def _char_model(cls, one_hot=False):
    first = ({"input_shape": (None, V)} if one_hot else {})
    layers = [] if one_hot else [Embedding(V, 4, dtype="float64", seed=0)]
    layers += [cls(5, return_sequences=True, dtype="float64", seed=1, **first),
               cls(3, return_sequences=True, seed=2),
               TimeDistributed(Dense(V, activation="softmax", seed=3))]
    model = Sequential(layers)
    rng = np.random.default_rng(4)
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("cls, one_hot", [(SimpleRNN, False), (GRU, False), (LSTM, False),
                                          (LSTM, True)])
def test_one_step_generator_equals_full_sequence_model(cls, one_hot):
    model = _char_model(cls, one_hot)
    ids = np.array([3, 0, 6, 6, 2])
    x = np.eye(V)[ids][None] if one_hot else ids[None]
    full = model.predict(x, batch_size=1, backend="py")[0]     # [T, V]
    gen = Generator(model, backend="py")
    steps = [gen.feed([i]) for i in ids]
    np.testing.assert_allclose(np.stack(steps), full, rtol=1e-12, atol=1e-12)
    gen.reset()
    np.testing.assert_allclose(gen.feed(ids), full[-1], rtol=1e-12, atol=1e-12)


def test_sample_is_seeded_greedy_is_argmax_chain_and_prime_is_checked():
    model = _char_model(GRU)
    vocab = Vocab.from_text("abcdef")                      # 7 ids with the padding symbol
    gen = Generator(model, backend="py")
    assert gen.sample(vocab, "abc", 6, seed=5) == gen.sample(vocab, "abc", 6, seed=5)
    greedy = gen.sample(vocab, "abc", 4, temperature=None)
    gen.reset()
    ids, probs = list(vocab.encode("abc")), gen.feed(vocab.encode("abc"))
    for _ in range(4):
        ids.append(int(probs.argmax()))
        probs = gen.feed(ids[-1:])
    assert greedy == vocab.decode(ids[3:])
    with pytest.raises(VocabError, match="z"):
        gen.sample(vocab, "abz", 3)
    with pytest.raises(ConfigError, match="temperature"):
        gen.sample(vocab, "abc", 3, temperature=0)


@pytest.mark.parametrize("cls", [SimpleRNN, GRU, LSTM])
def test_window_sampling_reads_each_window_as_the_sequence_model_does(cls):
    """Each character after the model's full forward pass over the last 3 ids from zero
    states (its training windows): the same draws as generate_from_windows on predict."""
    model, vocab, window = _char_model(cls), Vocab.from_text("abcdef"), 3
    gen = Generator(model, backend="py", window=window)
    ids = vocab.encode("cabbed")
    full = model.predict(ids[None, -window:], batch_size=1, backend="py")[0, -1]
    np.testing.assert_allclose(gen.window_probs(ids), full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gen.window_probs(ids[-window:]), full, rtol=1e-12, atol=1e-12)

    def next_probs(ids):   # the sequence model on the window, last step
        return model.predict(np.asarray(ids)[None], batch_size=1, backend="py")[0, -1]

    want = generate_from_windows(next_probs, vocab, "cab", 12, window, np.random.default_rng(9), 0.8)
    assert gen.sample(vocab, "cab", 12, temperature=0.8, seed=9) == want
    gen.feed([1, 2])               # the carried states are not what windows read
    assert gen.sample(vocab, "cab", 12, temperature=0.8, seed=9) == want


@pytest.mark.parametrize("window", [0, -2, 2.5, True, "8"])
def test_a_bad_window_is_refused_when_the_generator_is_made(window):
    with pytest.raises(ConfigError, match="window must be a whole number"):
        Generator(_char_model(GRU), backend="py", window=window)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_carried_state_that_overflows_is_named_with_the_remedy():
    model = Sequential([Embedding(V, 4, dtype="float64", seed=0), SimpleRNN(5, activation="relu", seed=1),
                        Dense(V, activation="softmax", seed=2)])
    model.set_weights([w * 0 + 3.0 for w in model.get_weights()])   # relu state x15 per step
    vocab = Vocab.from_text("abcdef")
    with pytest.raises(NonFiniteError, match="after [0-9]+ sampled characters: the state carried"
                                               ".*window=<training seq_len>"):
        Generator(model, backend="py").sample(vocab, "ab", 400, seed=0)
    assert len(Generator(model, backend="py", window=3).sample(vocab, "ab", 50, seed=0)) == 50


def test_generator_refuses_backward_layers():
    model = Sequential([Embedding(V, 4), LSTM(3, go_backwards=True), Dense(V, activation="softmax")])
    with pytest.raises(ConfigError, match="backwards"):
        Generator(model, backend="py")


def test_metrics_units():
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    assert perplexity(math.log(5)) == pytest.approx(5.0)
    assert perplexity(0.0) == 1.0
    with pytest.raises(ConfigError):
        bits_per_char(float("nan"))


def test_heldout_report_matches_evaluate():
    model = _char_model(SimpleRNN)
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
    ids = np.random.default_rng(0).integers(0, V, (4, 6))
    report = heldout_report(model, ids[:, :-1], ids[:, 1:], batch_size=2)
    nats = model.evaluate(ids[:, :-1], ids[:, 1:], batch_size=2)
    assert report == {"loss_nats": pytest.approx(nats), "bits_per_char": pytest.approx(nats / math.log(2)),
                      "perplexity": pytest.approx(math.exp(nats))}


def test_stateful_layout_rows_continue_across_batches():
    B, T = 3, 4
    x, y = stateful_layout(np.arange(40), B, T)
    n_batches = len(x) // B
    assert x.shape == (n_batches * B, T) and n_batches == 3   # 39 // 3 = 13 per stream, 3 windows
    np.testing.assert_array_equal(y, x + 1)
    for k in range(n_batches - 1):
        np.testing.assert_array_equal(x[(k + 1) * B:(k + 2) * B, 0], x[k * B:(k + 1) * B, -1] + 1)
    assert len(set(x[:B, 0])) == B                            # rows are different streams
    with pytest.raises(CorpusError, match="at least 13"):
        stateful_layout(np.arange(12), B, T)
