"""Text generation from a compiled one-step graph: windows re-read, or the state carried.

A :class:`Generator` compiles the model's layers for a single time step. How
it samples should match how the model was trained:

- **windows** (``window=seq_len``): a model trained on windows that each start
  from a zero state draws every character after re-reading the last
  ``seq_len`` characters from zero states, as the lesson's ``get_next`` did
  (one compiled call per character, ``seq_len`` steps inside it);
- **carried state** (``window=None``): every recurrent layer's state (``h``,
  and ``c`` for an LSTM) is kept in shared variables between calls, so ``n``
  characters cost ``n`` steps: right for models trained with carried state
  (``stateful``).

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

Re-reading a window from zero states is the same as feeding it after a reset:

>>> windowed = Generator(model, backend="py", window=3)
>>> gen.reset()
>>> bool(np.allclose(windowed.window_probs([0, 1, 2, 3]), gen.feed([1, 2, 3])))
True

:meth:`Generator.sample_ids` draws ``n`` characters in ONE compiled call (a
loop over the same one-step graph, each drawn id fed back in), for when the
per-call cost matters more than the step's arithmetic:

>>> gen.reset()
>>> ids = gen.sample_ids(6, first_id=1)          # greedy: the argmax every step
>>> gen.reset()
>>> ids.tolist() == [int(np.argmax(gen.feed([i]))) for i in [1, *ids[:-1]]]
True
"""
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import graph_inputs

from ..data.sampling import check_temperature, sample_index
from ..errors import ConfigError, NonFiniteError, ShapeError
from ..graph.backend import compile_function
from ..graph.loops import scan_loop
from ..graph.losses import logits_of
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
    """One-step inference for a character model: state carried between calls, or windows
    re-read from zero states.

    Parameters
    ----------
    model : Sequential
        Trained character model whose output is next-character probabilities.
    backend : str, optional
        Backend of the compiled step (see :mod:`symrnn.graph.backend`).
    window : int, optional
        The length of the windows the model was trained on, each from a zero state:
        :meth:`sample` then draws every character after re-reading the last ``window``
        characters (the lesson's ``get_next``). ``None`` (default) carries the state, for
        models trained with carried state (``stateful``). A windows-trained model whose
        state is carried for hundreds of steps runs far from anything it was trained on and
        its text degenerates into runs of one letter.
    """

    def __init__(self, model, backend=None, window=None):
        layers = getattr(model, "stack", None)
        if not layers:
            raise ConfigError("Generator needs a Sequential model (Embedding/one-hot -> "
                              "recurrent layers -> Dense softmax)")
        for layer in layers:
            _check_layer(layer)
        self.model, self.layers = model, layers
        self.vocab_size = self._vocab_size(layers[0])      # ids feed accepts: [0, vocab_size)
        self.n_outputs = layers[-1].output_shape[-1]        # ids sample can draw
        self.window = _check_window(window)
        # shared (1, units) per carried state, every recurrent layer's in order
        self.states = [pytensor.shared(np.zeros((1, layer.units), dtype=layer.dtype),
                                       name=f"{layer.name}.gen_state_{i}")
                       for layer in layers if isinstance(layer, Recurrent)
                       for i in range(layer.n_states)]
        self.backend = backend

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

    @cached_property
    def _step(self):
        """Compiled ``ids [1] -> probs [V]``: one step from :attr:`states`, which it advances."""
        ids = pt.lvector("ids")                # one id, batch of 1
        probs, new_states = step_graph(self.layers, self._input(ids), self.states)
        return compile_function([ids], probs[0], updates=dict(zip(self.states, new_states)),
                                backend=self.backend)

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

    def window_probs(self, ids):
        """The next-character probabilities after reading ``ids`` from zero states: a fresh
        window, as training windows start; the carried :attr:`states` are not touched.

        With :attr:`window` set only its last ``window`` ids are read. One compiled call
        (a loop over the one-step graph) whatever the length.
        """
        ids = self.check_ids(ids)
        if self.window is not None:
            ids = ids[-self.window:]
        return self._window_fn(ids)

    @cached_property
    def _window_fn(self):
        """Compiled ``ids [L] -> probs [V]``: the one-step graph looped over ``ids`` from zeros."""
        template_id = pt.lscalar("id_t")
        template_states = [state.type() for state in self.states]
        probs, new_states = step_graph(self.layers, self._input(template_id[None]), template_states)
        weights = [v for v in graph_inputs([probs, *new_states]) if isinstance(v, SharedVariable)]
        n_states = len(self.states)

        def step(id_t, *args):
            states_tm1, weights_in = args[:n_states], args[n_states:]
            replace = {template_id: id_t, **dict(zip(template_states, states_tm1)),
                       **dict(zip(weights, weights_in))}
            return clone_replace([*new_states, probs], replace=replace)

        ids = pt.lvector("window_ids")
        zeros = [pt.zeros_like(state) for state in self.states]   # the states' own types
        *_, probs_seq = scan_loop(step, [ids], [*zeros, None], weights, name="read_window")
        return compile_function([ids], probs_seq[-1, 0], backend=self.backend)

    def _check_vocab(self, vocab):
        if vocab is None:
            raise ConfigError("no vocabulary: pass vocab= (or set model.vocab)")
        if vocab.size != self.vocab_size or vocab.size != self.n_outputs:
            raise ConfigError(f"the vocabulary has {vocab.size} symbols, but the model reads "
                              f"{self.vocab_size} ids and predicts {self.n_outputs}; pass the "
                              "vocabulary the model was trained with")

    def sample(self, vocab=None, prime="", n_chars=100, temperature=1.0, seed=None):
        """``n_chars`` characters following ``prime`` (greedy when ``temperature`` is None).

        With :attr:`window` set (a model trained on windows that start from a zero state),
        each character is drawn after re-reading the last ``window`` characters from zero
        states (:meth:`window_probs`), as the model was trained. Without it the states are
        carried: zero states, the prime fed, then each drawn character fed back (for models
        trained with carried state). ``seed`` makes the draw reproducible.
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
        if self.window is not None:
            ids = list(prime_ids)
            for _ in range(int(n_chars)):
                probs = self._checked(self.window_probs(ids[-self.window:]), len(out))
                out.append(sample_index(probs, rng, temperature))
                ids.append(out[-1])
            return vocab.decode(out)
        self.reset()
        probs = self.feed(prime_ids)
        for _ in range(int(n_chars)):
            out.append(sample_index(self._checked(probs, len(out)), rng, temperature))
            probs = self.feed(out[-1:])
        return vocab.decode(out)

    def _checked(self, probs, n_drawn):
        if np.all(np.isfinite(probs)):
            return probs
        if self.window is None:
            advice = ("the state carried from character to character grew without bound; a "
                      "model trained on windows from a zero state should sample by re-reading "
                      "them: Generator(model, window=<training seq_len>) (symrnn generate "
                      "without --carry-state)")
        else:
            advice = "the model's weights or the window gave NaN/inf; check the trained weights"
        raise NonFiniteError(f"the next-character probabilities became NaN or infinite after "
                             f"{n_drawn} sampled characters: {advice}")

    # -- n characters per call ---------------------------------------------------
    def sample_ids(self, n_chars, first_id, temperature=None, seed=None):
        """The ``n_chars`` ids that follow ``first_id``, drawn in ONE compiled call.

        Each id is ``argmax(z / temperature + g)``, with ``z`` the step's logits
        and ``g`` standard Gumbel noise (:func:`gumbel_noise` with ``seed``):
        a draw from ``softmax(z / temperature)`` (the Gumbel-max trick), so
        the whole draw is an argmax inside the compiled loop and the noise
        comes in as a sequence. ``temperature=None`` is greedy (no noise).
        The drawn id is fed back in as the next input, as :meth:`feed` would.

        Starts from the states the previous calls left (:meth:`reset` starts
        afresh) and leaves its last states there, so it mixes with :meth:`feed`.
        Returns an int64 array of ``n_chars`` ids. The per-call loop
        ``feed([id])`` with the same noise draws the same ids.
        """
        n_chars = _check_count(n_chars)
        first_id = _check_id(first_id, self.input_size)
        check_temperature(temperature)
        fn, vocab_size, dtype = self._sampler
        if temperature is None:
            noise, inv_temperature = np.zeros((n_chars, vocab_size), dtype), 1.0
        else:
            noise, inv_temperature = gumbel_noise(n_chars, vocab_size, seed, dtype), 1.0 / temperature
        return fn(np.asarray(first_id, "int64"), noise, np.asarray(inv_temperature, dtype))

    @property
    def input_size(self):
        """How many input ids the first layer takes (its vocabulary size)."""
        first = self.layers[0]
        if isinstance(first, (Embedding, OneHot)):
            return first.input_dim
        return first.W_x.get_value(borrow=True).shape[0]

    @cached_property
    def _sampler(self):
        """``(compiled sampler, vocabulary size, dtype)``: a loop over the one-step graph
        (:func:`step_graph`) with the states carried in and out of :attr:`states`."""
        first_id, template_id = pt.lscalar("first_id"), pt.lscalar("id_tm1")
        template_states = [state.type() for state in self.states]
        probs, new_states = step_graph(self.layers, self._input(template_id[None]), template_states)
        logits = logits_of(probs)   # the softmax's input: the loop then skips the softmax
        logits = (pt.log(probs) if logits is None else logits)[0]
        weights = [v for v in graph_inputs([logits, *new_states]) if isinstance(v, SharedVariable)]
        noise = pt.matrix("gumbel_noise", dtype=logits.dtype)
        inv_temperature = pt.scalar("inv_temperature", dtype=logits.dtype)
        n_states = len(self.states)

        def step(noise_t, *args):
            # the template step, on this iteration's states, id and weights (scan's strict
            # mode wants every weight passed in, not closed over)
            states_tm1, weights_in = args[:n_states], args[n_states + 2:]
            id_tm1, inv_t = args[n_states:n_states + 2]
            replace = {template_id: id_tm1, **dict(zip(template_states, states_tm1)),
                       **dict(zip(weights, weights_in))}
            *states_t, z = clone_replace([*new_states, logits], replace=replace)
            return [*states_t, pt.argmax(z * inv_t + noise_t).astype("int64")]

        *stacked, ids = scan_loop(step, [noise], [*self.states, first_id],
                                  [inv_temperature, *weights], name="sample_ids")
        updates = {state: seq[-1] for state, seq in zip(self.states, stacked)}
        # trusted: sample_ids builds every argument in exactly its type after checking it
        fn = compile_function([first_id, noise, inv_temperature], ids, updates=updates,
                              backend=self.backend, trust_input=True)
        vocab_size = self.model.outputs[0].shape[-1]
        return fn, vocab_size, logits.dtype


def step_graph(layers, x, states_tm1):
    """One step of a generator's ``layers`` on input rows ``x`` ``[1, F]`` from the
    symbolic ``states_tm1`` (every recurrent layer's states, in order):
    ``(output [1, V], new states)``. :class:`Generator` compiles the same step with
    its shared states; this form lets a loop carry the states itself."""
    states_tm1, new_states, updates = list(states_tm1), [], Updates()
    for layer in layers:
        if isinstance(layer, Recurrent):
            mine, states_tm1 = states_tm1[:layer.n_states], states_tm1[layer.n_states:]
            new = layer.one_step(x, mine)
            new_states += new
            x = new[0]
        else:
            inner = layer.layer if isinstance(layer, TimeDistributed) else layer
            x = inner.apply(x, False, updates)
    return x, new_states


def gumbel_noise(n_chars, vocab_size, seed=None, dtype="float64"):
    """``[n_chars, vocab_size]`` standard Gumbel draws from ``np.random.default_rng(seed)``:
    the noise :meth:`Generator.sample_ids` adds to the scaled logits. Same seed, same noise.

    >>> gumbel_noise(2, 3, seed=0).shape, gumbel_noise(2, 3, seed=0, dtype="float32").dtype.name
    ((2, 3), 'float32')
    """
    return np.random.default_rng(seed).gumbel(size=(n_chars, vocab_size)).astype(dtype)


def _check_window(window):
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window must be a whole number of characters >= 1 (the training "
                          f"windows' length), or None to carry the state, got {window!r}")
    return int(window)


def _check_count(n_chars):
    if isinstance(n_chars, bool) or not isinstance(n_chars, (int, np.integer)) or n_chars < 1:
        raise ConfigError(f"n_chars must be a positive integer, got {n_chars!r}")
    return int(n_chars)


def _check_id(first_id, size):
    if isinstance(first_id, bool) or not isinstance(first_id, (int, np.integer)) \
            or not 0 <= first_id < size:
        raise ShapeError(f"first_id must be an integer id in [0, {size}), got {first_id!r}; "
                         "encode characters with the model's vocabulary")
    return int(first_id)
