"""The lesson's character RNN in raw PyTensor, top to bottom (lesson section 8).

Read it beside the lesson: declared inputs, six shared parameters, a step
function, ``scan`` over the characters, a summed cross-entropy, symbolic
gradients, an updates dictionary and one compiled training function, plus a
second compiled function for predictions. Every piece comes from the core
modules (params, cells, recurrent, losses, updates, training).
``lessons/08_raw_pytensor_rnn.py`` writes the same graph out cell by cell from
:func:`identity_and_bias`, :func:`weights_and_bias`, ``lesson_step`` and
:func:`summed_error`; the tests check that its error and gradients are this
module's.

>>> import numpy as np
>>> rnn = LessonRNN(vocab_size=5, n_hidden=4, seed=0, backend="py")
>>> x = np.eye(5, dtype="float32")[[1, 2, 3]]
>>> rnn.predict_proba(x).shape
(3, 5)
"""
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt

from ..data.checks import (
    as_numeric,
    check_finite,
    check_ids,
    check_one_hot,
    check_whole,
)
from ..errors import ConfigError, ShapeError
from ..graph import losses, updates
from ..graph.backend import compile_function
from ..graph.cells import activation, lesson_step
from ..graph.loops import loop
from ..graph.params import init_array, shared

PARAM_NAMES = ("W_h", "b_h", "W_x", "b_x", "W_y", "b_y")  # the lesson's step signature order


def weights_and_bias(n_in, n_out, rng, suffix, dtype="float32"):
    """The lesson's ``wgts_and_bias``: ``W_<suffix>`` (n_in, n_out) drawn normal with
    scale sqrt(2 / n_in), and a zero bias ``b_<suffix>`` (n_out,), as shared variables.

    >>> import numpy as np
    >>> W_x, b_x = weights_and_bias(86, 256, np.random.default_rng(0), "x")
    >>> W_x.name, W_x.get_value().shape, b_x.name, float(b_x.get_value().sum())
    ('W_x', (86, 256), 'b_x', 0.0)
    """
    return (shared(init_array("normal", (n_in, n_out), rng, dtype), f"W_{suffix}"),
            shared(init_array("zeros", (n_out,), rng, dtype), f"b_{suffix}"))


def identity_and_bias(n, suffix="h", dtype="float32"):
    """The lesson's ``id_and_bias``: an identity ``W_<suffix>`` (n, n) and a zero bias.

    With the identity the hidden state starts out carried forward unchanged
    (the IRNN start), so nothing is drawn at random.
    """
    return (shared(init_array("identity", (n, n), None, dtype), f"W_{suffix}"),
            shared(init_array("zeros", (n,), None, dtype), f"b_{suffix}"))


def lesson_params(vocab_size, n_hidden, rng, dtype="float32"):
    """W_h identity, W_x and W_y normal(sqrt(2/rows)), zero biases; lesson order."""
    W_h, b_h = identity_and_bias(n_hidden, "h", dtype)
    W_x, b_x = weights_and_bias(vocab_size, n_hidden, rng, "x", dtype)
    W_y, b_y = weights_and_bias(n_hidden, vocab_size, rng, "y", dtype)
    return [W_h, b_h, W_x, b_x, W_y, b_y]   # PARAM_NAMES, the step's argument order


def declare_inputs(dtype="float32"):
    """The lesson's four declared variables: one-hot rows in and out, h0, lr."""
    inp = pt.matrix("inp", dtype=dtype)    # [T, V] one-hot characters
    outp = pt.matrix("outp", dtype=dtype)  # [T, V] one-hot next characters
    h0 = pt.vector("h0", dtype=dtype)      # [H] hidden state before the first char
    lr = pt.scalar("lr", dtype=dtype)
    return inp, outp, h0, lr


def forward(inp, h0, params, act="relu", unroll=False):
    """Hidden states and logits for every step: ``scan`` of the lesson step."""
    step = lambda x_t, h_tm1, *p: lesson_step(x_t, h_tm1, *p, act=activation(act))
    hs, zs = loop(step, [inp], [h0, None], params, unroll=unroll)
    return hs, zs


def summed_error(zs, outp):
    """Cross-entropy summed over the characters of the sequence (the lesson's error)."""
    return losses.total(losses.categorical_crossentropy_from_logits(zs, outp))


class RawLessonModel:
    """What every raw lesson model shares: declared inputs, summed error,
    SGD updates, the two compiled functions and the numpy-facing helpers.

    A subclass supplies :meth:`make_params` (shared variables, in its step's
    order) and :meth:`forward_graph` (hidden states and logits); compilation
    happens on first use of :attr:`train_fn` / :attr:`predict_fn`.
    """

    def __init__(self, vocab_size, n_hidden, dtype="float32", seed=42, unroll=False,
                 seq_len=None, backend=None):
        self.vocab_size, self.n_hidden, self.dtype, self.backend = vocab_size, n_hidden, dtype, backend
        self.params = self.make_params(np.random.default_rng(seed))
        self.inp, self.outp, self.h0, self.lr = declare_inputs(dtype)
        # the sizes the model knows, in the graph: inside scan's step only these are static
        # (JAX needs the sizes of a concatenation's gradient there, the combined GRU's)
        inp = pt.specify_shape(self.inp, (seq_len, vocab_size))
        h0 = pt.specify_shape(self.h0, (n_hidden,))
        self.hs, self.zs = self.forward_graph(inp, h0, unroll)
        self.y = pt.special.softmax(self.zs, axis=-1)   # the lesson's per-step softmax output
        self.error = summed_error(self.zs, self.outp)
        self.grads = pytensor.grad(self.error, self.params)
        self.updates = updates.sgd(self.grads, self.params, self.lr)

    def make_params(self, rng):
        raise NotImplementedError

    def forward_graph(self, inp, h0, unroll):
        raise NotImplementedError

    @cached_property
    def train_fn(self):
        """(h0, inp, outp, lr) -> error, applying ``w <- w - lr * g`` to every weight."""
        return compile_function([self.h0, self.inp, self.outp, self.lr], self.error,
                                updates=self.updates, backend=self.backend)

    @cached_property
    def predict_fn(self):
        """(h0, inp) -> per-step softmax probabilities."""
        return compile_function([self.h0, self.inp], self.y, backend=self.backend)

    def zeros_h0(self):
        return np.zeros(self.n_hidden, dtype=self.dtype)

    def _check(self, x, name):
        """One-hot rows ``[seq_len >= 1, vocab_size]``, cast to the model's dtype."""
        x = as_numeric(x, name)
        if x.ndim != 2 or x.shape[1] != self.vocab_size or x.shape[0] == 0:
            raise ShapeError(f"{name} must be one-hot rows of shape (seq_len, {self.vocab_size}) "
                             f"with seq_len >= 1, got {x.shape}; encode ids with "
                             "np.eye(vocab_size)[ids]")
        check_finite(x, name)
        check_one_hot(x, name)
        return x.astype(self.dtype, copy=False)

    def _check_h0(self, h0):
        if h0 is None:
            return self.zeros_h0()
        h0 = as_numeric(h0, "h0")
        if h0.shape != (self.n_hidden,):
            raise ShapeError(f"h0 must have shape (n_hidden,) = ({self.n_hidden},), got {h0.shape}")
        check_finite(h0, "h0")
        return h0.astype(self.dtype)

    def _check_lr(self, lr):
        return np.asarray(check_rate(lr, "lr"), self.dtype)

    def train_step(self, inp, outp, lr, h0=None):
        """One SGD step on one sequence; returns the summed error before the step.

        Everything is checked before the step: one-hot ``inp`` and ``outp`` of the
        same length, a finite ``lr >= 0``, ``h0`` of shape ``(n_hidden,)``.
        """
        inp, outp = self._check(inp, "inp"), self._check(outp, "outp")
        if len(inp) != len(outp):
            raise ShapeError(f"inp has {len(inp)} rows but outp has {len(outp)}; "
                             "each input character needs one target")
        lr, h0 = self._check_lr(lr), self._check_h0(h0)
        return float(self.train_fn(h0, inp, outp, lr))

    def predict_proba(self, inp, h0=None):
        inp, h0 = self._check(inp, "inp"), self._check_h0(h0)
        return self.predict_fn(h0, inp)

    def predict_ids(self, inp, h0=None):
        """Argmax decoding: the most likely next character id after each input."""
        return self.predict_proba(inp, h0).argmax(axis=-1)

    def get_params(self):
        return {p.name: p.get_value() for p in self.params}

    def set_params(self, values):
        for p in self.params:
            new = np.asarray(values[p.name], dtype=self.dtype)
            if new.shape != p.get_value(borrow=True).shape:
                raise ShapeError(f"{p.name}: expected shape {p.get_value(borrow=True).shape}, got {new.shape}")
        for p in self.params:
            p.set_value(np.asarray(values[p.name], dtype=self.dtype))


class LessonRNN(RawLessonModel):
    """The lesson model (section 8) with its symbolic graph and two compiled functions.

    The lesson's readable form: one step does everything (input, recurrence,
    output) inside ``scan``. The batched, speed-arranged model users train is
    built from :mod:`symrnn.layers` (see :mod:`symrnn.layers.charmodels`).
    """

    def __init__(self, vocab_size, n_hidden=256, act="relu", dtype="float32", seed=42,
                 unroll=False, seq_len=None, backend=None):
        self.act = act
        super().__init__(vocab_size, n_hidden, dtype, seed, unroll, seq_len, backend)

    def make_params(self, rng):
        return lesson_params(self.vocab_size, self.n_hidden, rng, self.dtype)

    def forward_graph(self, inp, h0, unroll):
        return forward(inp, h0, self.params, self.act, unroll)


def check_rate(value, name, low=0.0, strict=False):
    """``value`` as a float that is finite and ``>= low`` (``> low`` if ``strict``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    value = float(value) if ok else value
    if not ok or not np.isfinite(value) or value < low or (strict and value == low):
        raise ConfigError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, "
                          f"got {value!r}")
    return value


def check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def check_id_sequences(x_ids, y_ids, vocab_size):
    """``x_ids`` and ``y_ids`` as int arrays ``[n_sequences >= 1, seq_len >= 1]`` of the same
    shape, every id in ``[0, vocab_size)``; errors name the first bad id and its index."""
    checked = []
    for name, ids in (("x_ids", x_ids), ("y_ids", y_ids)):
        arr = as_numeric(ids, name)
        if arr.ndim != 2 or 0 in arr.shape:
            raise ShapeError(f"{name} must be ids of shape (n_sequences, seq_len), both >= 1, "
                             f"got {arr.shape}")
        check_finite(arr, name)
        check_whole(arr, name)
        check_ids(arr, vocab_size, name, f"the model's {vocab_size} characters; encode text "
                                         "with the model's vocabulary")
        checked.append(arr.astype(np.int64))
    if checked[0].shape != checked[1].shape:
        raise ShapeError(f"x_ids and y_ids must have the same shape, got {checked[0].shape} "
                         f"and {checked[1].shape}")
    return checked


def train_lesson(rnn, x_ids, y_ids, lr=0.01, report_every=1000, log=print,
                 lr_decay=1.0, decay_every=1000):
    """The lesson's loop: batch 1, h0 zeros, one call per sequence, mean error
    printed every ``report_every`` calls. Returns the list of printed means.

    ``lr`` is multiplied by ``lr_decay`` after every ``decay_every`` sequences
    (the raw GRU lesson: 0.1 decayed by 0.95 every 1,000); the default 1.0
    keeps it constant, as in the plain RNN lesson. All ids and settings are
    checked before the first sequence trains, so the loop itself calls the
    compiled function directly.
    """
    x_ids, y_ids = check_id_sequences(x_ids, y_ids, rnn.vocab_size)
    lr = check_rate(lr, "lr")
    report_every = check_count(report_every, "report_every")
    decay_every = check_count(decay_every, "decay_every")
    lr_decay = check_rate(lr_decay, "lr_decay", strict=True)
    eye = np.eye(rnn.vocab_size, dtype=rnn.dtype)
    h0, lr_t = rnn.zeros_h0(), np.asarray(lr, rnn.dtype)
    fn, means, running = rnn.train_fn, [], 0.0
    for i in range(len(x_ids)):
        running += float(fn(h0, eye[x_ids[i]], eye[y_ids[i]], lr_t))
        if (i + 1) % report_every == 0:
            means.append(running / report_every)
            log(f"{i + 1:>7} sequences  mean error {means[-1]:.3f}  lr {float(lr_t):.4g}")
            running = 0.0
        if (i + 1) % decay_every == 0:
            lr_t = np.asarray(lr_t * lr_decay, rnn.dtype)
    return means
