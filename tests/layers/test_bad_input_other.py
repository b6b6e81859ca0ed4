"""The other entry points that take arrays refuse bad input before anything runs (issue 17):
the one-step Generator, the raw lesson RNN (train_step, predict_*, train_lesson) and the
batch mixer. Their checks run in numpy before any compiled function is called, so these
run on the quick py backend; a missing check would reach a compiled function and change
its states, which the snapshots compare bit for bit."""
import numpy as np
import pytest

from symrnn.data import Vocab
from symrnn.data.mixer import BatchMixer
from symrnn.errors import ConfigError, DTypeError, ShapeError, VocabError
from symrnn.layers import GRU, Dense, Embedding, Sequential, TimeDistributed
from symrnn.layers.generation import Generator
from symrnn.lesson.rnn import LessonRNN, train_lesson

V, T = 7, 4


def value_bytes(variables):
    return [np.asarray(v.get_value()).tobytes() for v in variables]


@pytest.fixture(scope="module")
def generator():
    model = Sequential([Embedding(V, 4, dtype="float64", seed=0), GRU(5, return_sequences=True, seed=1),
                        TimeDistributed(Dense(V, activation="softmax", seed=2))])
    gen = Generator(model, backend="py")
    gen.feed([1, 2, 3])                        # states away from zero
    return gen


VOCAB = Vocab.from_text("abcdef")             # 7 symbols with the padding one

GENERATOR_CASES = [
    ("feed_minus_one", lambda g: g.feed([-1]), ShapeError, r"ids: id -1 at index \(0,\) is outside \[0, 7\)"),
    ("feed_good_then_bad", lambda g: g.feed([1, 2, 7]), ShapeError, r"id 7 at index \(2,\)"),
    ("feed_nothing", lambda g: g.feed([]), ShapeError, r"ids is empty"),
    ("feed_fraction", lambda g: g.feed([1.5]), DTypeError, r"1.5 at index \(0,\) is not a whole number"),
    ("feed_bool", lambda g: g.feed(np.array([True])), DTypeError, r"ids has dtype bool"),
    ("feed_text", lambda g: g.feed("abc"), DTypeError, r"strings"),
    ("feed_nan", lambda g: g.feed([np.nan]), ShapeError, r"ids: nan at index \(0,\)"),
    ("sample_wrong_vocab", lambda g: g.sample(Vocab.from_text("abc"), "a", 3), ConfigError,
     r"the vocabulary has 4 symbols, but the model reads 7 ids and predicts 7"),
    ("sample_negative_count", lambda g: g.sample(VOCAB, "ab", -1), ConfigError, r">= 0, got -1"),
    ("sample_fractional_count", lambda g: g.sample(VOCAB, "ab", 2.5), ConfigError, r"got 2.5"),
    ("sample_unknown_char", lambda g: g.sample(VOCAB, "abz", 3), VocabError, r"z"),
    ("sample_bad_temperature", lambda g: g.sample(VOCAB, "ab", 3, temperature=float("inf")),
     ConfigError, r"temperature"),
]


@pytest.mark.parametrize("case, call, error, message", GENERATOR_CASES, ids=[c[0] for c in GENERATOR_CASES])
def test_generator_refuses_before_any_step(generator, case, call, error, message):
    variables = generator.states + generator.model.params
    before = value_bytes(variables)
    with pytest.raises(error, match=message) as caught:
        call(generator)
    assert type(caught.value) is error
    assert value_bytes(variables) == before


def one_hot(ids):
    return np.eye(V)[ids]


def with_entry(value, index, rows=T):
    x = one_hot(np.arange(rows) % V)
    x[index] = value
    return x


X, Y = one_hot([1, 2, 3, 4]), one_hot([2, 3, 4, 5])
IDS = np.random.default_rng(0).integers(0, V, (5, T))

LESSON_CASES = [
    ("two_ones_in_a_row", lambda r: r.train_step(with_entry(1.0, (1, 5)), Y, 0.1), ShapeError,
     r"inp: row \(1,\) has 2 ones"),
    ("not_zero_or_one", lambda r: r.train_step(X, with_entry(0.5, (2, 2)), 0.1), ShapeError,
     r"outp: 0.5 at index \(2, 2\) is not 0 or 1"),
    ("nan_input", lambda r: r.train_step(with_entry(np.nan, (0, 3)), Y, 0.1), ShapeError,
     r"inp: nan at index \(0, 3\)"),
    ("bool_input", lambda r: r.train_step(X.astype(bool), Y, 0.1), DTypeError, r"inp has dtype bool"),
    ("no_steps", lambda r: r.train_step(X[:0], Y[:0], 0.1), ShapeError, r"seq_len >= 1, got \(0, 7\)"),
    ("lengths_differ", lambda r: r.train_step(X, Y[:3], 0.1), ShapeError, r"inp has 4 rows but outp has 3"),
    ("nan_lr", lambda r: r.train_step(X, Y, float("nan")), ConfigError, r"lr must be a finite number >= 0"),
    ("negative_lr", lambda r: r.train_step(X, Y, -0.1), ConfigError, r"got -0.1"),
    ("text_lr", lambda r: r.train_step(X, Y, "0.1"), ConfigError, r"got '0.1'"),
    ("h0_shape", lambda r: r.train_step(X, Y, 0.1, h0=np.zeros(6)), ShapeError, r"h0 must have shape \(n_hidden,\) = \(5,\)"),
    ("h0_inf", lambda r: r.predict_proba(X, h0=np.full(5, np.inf)), ShapeError, r"h0: inf at index \(0,\)"),
    ("predict_wrong_width", lambda r: r.predict_proba(np.eye(V + 1)[:3]), ShapeError,
     r"shape \(seq_len, 7\)"),
    ("predict_ids_strings", lambda r: r.predict_ids(X.astype(str)), DTypeError, r"strings"),
    ("train_lesson_minus_one", lambda r: train_lesson(r, np.where(IDS == IDS[2, 3], -1, IDS), IDS,
                                                      log=lambda s: None),
     ShapeError, r"x_ids: id -1 at index \(\d, \d\) is outside \[0, 7\)"),
    ("train_lesson_fraction", lambda r: train_lesson(r, IDS, IDS + 0.5, log=lambda s: None),
     DTypeError, r"y_ids: \d.5 at index \(0, 0\) is not a whole number"),
    ("train_lesson_shapes", lambda r: train_lesson(r, IDS, IDS[:, :3], log=lambda s: None),
     ShapeError, r"same shape, got \(5, 4\) and \(5, 3\)"),
    ("train_lesson_empty", lambda r: train_lesson(r, IDS[:0], IDS[:0], log=lambda s: None),
     ShapeError, r"x_ids must be ids of shape"),
    ("train_lesson_report_every", lambda r: train_lesson(r, IDS, IDS, report_every=0),
     ConfigError, r"report_every must be a whole number >= 1"),
    ("train_lesson_decay", lambda r: train_lesson(r, IDS, IDS, lr_decay=0.0), ConfigError,
     r"lr_decay must be a finite number > 0"),
]


@pytest.fixture(scope="module")
def lesson_rnn():
    rnn = LessonRNN(V, 5, dtype="float64", backend="py", seed=0)
    rnn.train_step(X, Y, 0.1)                  # compiled; a missing check would step again
    return rnn


@pytest.mark.parametrize("case, call, error, message", LESSON_CASES, ids=[c[0] for c in LESSON_CASES])
def test_lesson_rnn_refuses_before_any_step(lesson_rnn, case, call, error, message):
    before = value_bytes(lesson_rnn.params)
    with pytest.raises(error, match=message) as caught:
        call(lesson_rnn)
    assert type(caught.value) is error
    assert value_bytes(lesson_rnn.params) == before


def pair(rows=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 3)), rng.integers(0, 2, rows)


def with_nan():
    x, y = pair()
    x[3, 2] = np.nan
    return x, y


MIXER_CASES = [
    ("nan_rows", lambda: BatchMixer([pair(), with_nan()], batch_size=4), ShapeError,
     r"source 1: x: nan at index \(3, 2\)"),
    ("object_targets", lambda: BatchMixer([(pair()[0], pair()[1].astype(object))], batch_size=4),
     DTypeError, r"source 0: y has dtype object"),
    ("bool_targets", lambda: BatchMixer([(pair()[0], pair()[1] > 0)], batch_size=4), DTypeError,
     r"source 0: y has dtype bool"),
    ("ragged_rows", lambda: BatchMixer([([[1.0, 2.0], [3.0]], [0, 1])], batch_size=2), ShapeError,
     r"source 0: x cannot be read as one array"),
    ("iterator_batch_with_inf", lambda: next(BatchMixer(
        [iter([pair(4), (np.full((4, 3), np.inf), np.zeros(4, int))])], batch_size=8,
        steps_per_epoch=1)), ShapeError, r"source 0, a batch from its iterator: x: inf at index \(0, 0\)"),
]


@pytest.mark.parametrize("case, call, error, message", MIXER_CASES, ids=[c[0] for c in MIXER_CASES])
def test_batch_mixer_refuses_non_numbers(case, call, error, message):
    with pytest.raises(error, match=message) as caught:
        call()
    assert type(caught.value) is error

