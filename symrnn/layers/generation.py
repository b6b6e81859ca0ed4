"""Text generation with a compiled one-step function that carries the recurrent state.

Re-reading a whole window for every new character costs ``seq_len`` steps
per character (:func:`symrnn.data.sampling.generate_from_windows`). A
:class:`Generator` instead compiles the model's layers for a single time
step, with every recurrent layer's state (``h``, and ``c`` for an LSTM) kept
in shared variables between calls, so ``n`` characters cost ``n`` steps.

Supported models: a ``Sequential`` of an optional ``Embedding`` or ``OneHot`` (or one-hot
input to the first recurrent layer), forward ``SimpleRNN``/``GRU``/``LSTM``
layers, and per-step layers (``Dense``, ``TimeDistributed(Dense)``,
``Activation``, ``Dropout``, ``BatchNormalization``) ending in a softmax.

>>> import numpy as np
>>> from symrnn.layers import Dense, Embedding, GRU, Sequential
>>> model = Sequential([Embedding(4, 3, input_length=5, dtype="float64"), GRU(2),
...                     Dense(4, activation="softmax")])
>>> gen = Generator(model, backend="py")
>>> probs = gen.feed([1, 2, 3])
>>> probs.shape, bool(np.isclose(probs.sum(), 1.0))
((4,), True)
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from ..data.sampling import check_temperature, sample_index
from ..errors import ConfigError
from ..graph.training import compile_function
from .base import Updates
from .core import Activation, Dense, Embedding, OneHot, TimeDistributed
from .noise import BatchNormalization, Dropout
from .recurrent import Recurrent
from .validation import ArraySpec, as_numeric, check_array

PER_STEP = (Dense, Activation, Dropout, BatchNormalization)


def _check_layer(layer):
    if isinstance(layer, Recurrent):
        if layer.go_backwards:
            raise ConfigError(f"{layer.name} runs backwards in time; a one-step generator needs "
                              "forward recurrent layers only")
        return
    inner = layer.layer if isinstance(layer, TimeDistributed) else layer
    if not isinstance(inner, PER_STEP + (Embedding, OneHot)):
        raise ConfigError(f"{layer.name} ({type(layer).__name__}) cannot run one step at a time; "
                          "the generator supports Embedding, SimpleRNN/GRU/LSTM and per-step "
                          "layers (Dense, TimeDistributed(Dense), Activation, Dropout, "
                          "BatchNormalization)")


class Generator:
    """One-step inference for a character model, state carried between calls.

    Parameters
    ----------
    model : Sequential
        Trained character model whose output is next-character probabilities.
    backend : str, optional
        Backend of the compiled step (see :mod:`symrnn.graph.backend`).
    """

    def __init__(self, model, backend=None):
        layers = getattr(model, "stack", None)
        if not layers:
            raise ConfigError("Generator needs a Sequential model (Embedding/one-hot -> "
                              "recurrent layers -> Dense softmax)")
        for layer in layers:
            _check_layer(layer)
        self.model, self.layers = model, layers
        self.vocab_size = self._vocab_size(layers[0])      # ids feed accepts: [0, vocab_size)
        self.n_outputs = layers[-1].output_shape[-1]        # ids sample can draw
        self.states = []                       # shared (1, units) per carried state
        self._step = self._compile(backend)

    @staticmethod
    def _vocab_size(first):
        if isinstance(first, (Embedding, OneHot)):
            return first.input_dim
        if isinstance(first, Recurrent):
            return first.W_x.get_value(borrow=True).shape[0]
        raise ConfigError(f"the first layer must be an Embedding, a OneHot or a recurrent layer fed "
                          f"one-hot vectors, got {type(first).__name__}")

    def _input(self, ids):
        first = self.layers[0]
        if isinstance(first, (Embedding, OneHot)):
            return ids                         # the first layer turns ids into rows
        return pt.eye(self.vocab_size, dtype=first.dtype)[ids]   # one-hot rows [1, V]

    def _compile(self, backend):
        ids = pt.lvector("ids")                # one id, batch of 1
        x, updates = self._input(ids), Updates()
        for layer in self.layers:
            if isinstance(layer, Recurrent):
                x = self._recurrent_step(layer, x, updates)
            else:
                inner = layer.layer if isinstance(layer, TimeDistributed) else layer
                x = inner.apply(x, False, updates)
        return compile_function([ids], x[0], updates=updates, backend=backend)

    def _recurrent_step(self, layer, x_t, updates):
        states = [pytensor.shared(np.zeros((1, layer.units), dtype=layer.dtype),
                                  name=f"{layer.name}.gen_state_{i}") for i in range(layer.n_states)]
        self.states += states
        new_states = layer.one_step(x_t, states)
        for state, new in zip(states, new_states):
            updates[state] = new               # the next call continues from here
        return new_states[0]

    def reset(self):
        """Forget everything fed so far (all states back to zeros)."""
        for state in self.states:
            state.set_value(np.zeros_like(state.get_value(borrow=True)))

    def check_ids(self, ids):
        """``ids`` (one or many) as a checked int64 vector, before any step changes a state:
        whole numbers in ``[0, vocab_size)``, at least one."""
        flat = as_numeric(ids, "ids").reshape(-1)
        spec = ArraySpec("ids", (None,), "int64", ids_below=self.vocab_size,
                         ids_of=f"the {self.vocab_size} ids the model's first layer accepts; "
                                "encode text with the model's own vocabulary")
        return check_array(flat, spec)

    def feed(self, ids):
        """Advance over ``ids`` (one step each); the next-character probabilities after them.

        All ids are checked before the first step, so a bad id changes no state.
        """
        for i in self.check_ids(ids):
            probs = self._step(np.array([i]))
        return probs

    def _check_vocab(self, vocab):
        if vocab is None:
            raise ConfigError("no vocabulary: pass vocab= (or set model.vocab)")
        if vocab.size != self.vocab_size or vocab.size != self.n_outputs:
            raise ConfigError(f"the vocabulary has {vocab.size} symbols, but the model reads "
                              f"{self.vocab_size} ids and predicts {self.n_outputs}; pass the "
                              "vocabulary the model was trained with")

    def sample(self, vocab=None, prime="", n_chars=100, temperature=1.0, seed=None):
        """``n_chars`` characters following ``prime`` (greedy when ``temperature`` is None).

        Starts from zero states, feeds the prime, then samples one character
        at a time and feeds it back. ``seed`` makes the draw reproducible.
        """
        vocab = vocab if vocab is not None else self.model.vocab
        self._check_vocab(vocab)
        check_temperature(temperature)
        if isinstance(n_chars, bool) or not isinstance(n_chars, (int, np.integer)) or n_chars < 0:
            raise ConfigError(f"number of characters must be a whole number >= 0, got {n_chars!r}")
        prime_ids = vocab.encode(prime)        # names any character outside the vocabulary
        if len(prime_ids) == 0:
            raise ConfigError("the prime string is empty; give at least one character to start from")
        rng, out = np.random.default_rng(seed), []
        self.reset()
        probs = self.feed(prime_ids)
        for _ in range(int(n_chars)):
            out.append(sample_index(probs, rng, temperature))
            probs = self.feed(out[-1:])
        return vocab.decode(out)
