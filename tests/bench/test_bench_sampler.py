"""``Generator.sample_ids``: n characters in one compiled call draw what the one-per-call
loop draws (greedy, and with the same Gumbel noise), and carry the state out."""
import numpy as np
import pytest
from marks import heavy_beyond

from symrnn.bench.impls import per_call_ids, sampler_matches_per_call
from symrnn.bench.spec import set_twin_weights, twin_weights
from symrnn.errors import ConfigError, ShapeError
from symrnn.layers import LSTM, Dense, OneHot, Sequential, SimpleRNN, TimeDistributed
from symrnn.layers.charmodels import MODELS, char_model
from symrnn.layers.generation import Generator, gumbel_noise

V, E, H = 7, 3, 5


def generator(model, seed=0, backend="py"):
    """A generator on a float64 character model with perturbed weights (varied characters)."""
    layer_model = char_model(V, model, hidden=H, seq_len=4, dtype="float64", embed=E,
                             keras1_gates=False)   # the gates the bench and its twins use
    rng = np.random.default_rng(seed)
    set_twin_weights(layer_model, {role: w + rng.normal(0, 1.5, w.shape)
                                   for role, w in twin_weights(layer_model).items()})
    return Generator(layer_model, backend=backend)


def states_of(gen):
    return [s.get_value().copy() for s in gen.states]


# seeds whose greedy loop visits several characters (many settle on one within a few steps)
VARIED = {"lesson": 3, "simplernn": 3, "gru": 3, "lstm": 2}


@pytest.mark.parametrize("model", heavy_beyond(MODELS, keep=[m for m in MODELS if m != "gru"]))
def test_greedy_sample_ids_is_the_per_call_argmax_loop_in_one_call(model):
    gen = generator(model, seed=VARIED[model])
    ids = gen.sample_ids(15, first_id=4)
    after_sampler = states_of(gen)
    gen.reset()
    expected = per_call_ids(gen, 15, 4)
    assert ids.dtype == np.int64 and ids.tolist() == expected
    for got, want in zip(after_sampler, states_of(gen)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(set(expected)) > 1   # a model stuck on one character would prove little


@pytest.mark.parametrize("model", ["lesson", "gru"])
def test_tempered_sample_ids_is_the_per_call_loop_with_the_same_noise(model):
    gen = generator(model, seed=VARIED[model])
    ids = gen.sample_ids(20, first_id=2, temperature=2.5, seed=3)
    gen.reset()
    noise = gumbel_noise(20, V, seed=3)
    # log p = z - logsumexp(z): the per-call reference works from probabilities, not logits
    assert ids.tolist() == per_call_ids(gen, 20, 2, noise, temperature=2.5)
    gen.reset()
    assert gen.sample_ids(20, first_id=2, temperature=2.5, seed=3).tolist() == ids.tolist()
    gen.reset()
    assert gen.sample_ids(20, first_id=2, temperature=2.5, seed=4).tolist() != ids.tolist()


def test_sample_ids_continues_from_fed_characters_and_feed_continues_after_it():
    gen = generator("gru", seed=3)
    gen.feed([1, 5])
    ids = gen.sample_ids(6, first_id=2)
    next_probs = gen.feed([0])
    gen.reset()
    gen.feed([1, 5])
    assert per_call_ids(gen, 6, 2) == ids.tolist()
    np.testing.assert_allclose(gen.feed([0]), next_probs, rtol=1e-12)


def test_sample_ids_on_a_stack_with_two_recurrent_layers_and_one_hot_input():
    model = Sequential([OneHot(V, input_length=4, dtype="float64"), SimpleRNN(4, return_sequences=True),
                        LSTM(3, return_sequences=True), TimeDistributed(Dense(V, activation="softmax"))])
    gen = Generator(model, backend="py")
    assert gen.input_size == V and len(gen.states) == 3
    assert sampler_matches_per_call(gen, 12, x_id=3, temperature=1.5, seed=1)


@pytest.mark.parametrize("call, match", [
    (lambda g: g.sample_ids(0, 1), "n_chars"),
    (lambda g: g.sample_ids(2.5, 1), "n_chars"),
    (lambda g: g.sample_ids(True, 1), "n_chars"),
    (lambda g: g.sample_ids(3, V), "first_id"),
    (lambda g: g.sample_ids(3, -1), "first_id"),
    (lambda g: g.sample_ids(3, 1, temperature=-1.0), "temperature"),
    (lambda g: g.sample_ids(3, 1, temperature=float("nan")), "temperature"),
])
def test_sample_ids_rejects_bad_arguments_before_touching_the_state(call, match):
    gen = generator("simplernn", seed=4)
    gen.feed([2])
    before = states_of(gen)
    with pytest.raises((ConfigError, ShapeError), match=match):
        call(gen)
    for got, want in zip(states_of(gen), before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.heavy
def test_sample_ids_on_numba_draws_what_py_draws():
    """The backend that matters for speed: the loop with an integer carried output and the
    argmax compile for Numba and draw the same ids (and end in the same state) as py."""
    draws = {}
    for backend in ("py", "numba"):
        gen = generator("simplernn", seed=5, backend=backend)
        draws[backend] = (gen.sample_ids(20, first_id=3, temperature=1.3, seed=5), states_of(gen))
    np.testing.assert_array_equal(draws["numba"][0], draws["py"][0])
    np.testing.assert_allclose(draws["numba"][1][0], draws["py"][1][0], rtol=1e-12)
