"""The lesson model's graph arranged for speed: same maths, fewer ops in the loop.

The lesson's step does everything inside ``scan``: the input matmul, the
recurrence, the output layer. Only the recurrence needs the loop::

    xw    = W_x[ids] + b_x + b_h          # all steps at once (row lookup, or one matmul)
    h_t   = act(xw_t + h_tm1 . W_h)       # the only thing scan runs
    z     = hs . W_y + b_y                # one matmul over all steps and sequences
    error = sum of cross-entropies / batch size

An integer id selects row ``id`` of ``W_x``, which is what a one-hot row
times ``W_x`` computes, so both input forms give the same loss and the same
gradients (the lookup's gradient is a scatter-add into the rows used).

:func:`hoisted_forward` is time-major and works for one sequence
(``[T]`` ids / ``[T, V]`` one-hot with ``h0`` of shape ``[H]``) and for a
batch (``[T, B]`` / ``[T, B, V]`` with ``h0`` ``[B, H]``). :class:`FastRNN`
wraps it for batch-major training data ``[B, T]`` and also compiles a
one-step generation function that carries its hidden state between calls.

>>> import numpy as np
>>> rnn = FastRNN(vocab_size=5, n_hidden=4, dtype="float64", seed=0, backend="py")
>>> ids = np.array([[1, 2, 3], [0, 4, 4]], dtype="int32")   # [B, T]
>>> err = rnn.train_step(ids, np.roll(ids, -1, axis=1), lr=0.1)
>>> bool(err > 0)
True
"""
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt

from . import losses, updates
from .cells import activation, simple_step
from .errors import ConfigError, ShapeError
from .recurrent import loop
from .training import compile_function

INPUT_KINDS = ("ids", "onehot")


def project_inputs(x, W_x, bias):
    """``x . W_x + bias`` for every step: a row lookup for ids, one matmul for one-hot.

    One-hot inputs of any rank are flattened to 2-d so the product is a single
    GEMM rather than a tensordot that backends may loop over.
    """
    if x.dtype.startswith("int"):
        return W_x[x] + bias
    flat = pt.dot(x.reshape((-1, x.shape[-1])), W_x)
    return flat.reshape((*[x.shape[i] for i in range(x.ndim - 1)], W_x.shape[1])) + bias


def output_logits(hs, W_y, b_y):
    """``hs . W_y + b_y`` for all steps (and sequences) in one 2-d matmul."""
    flat = pt.dot(hs.reshape((-1, hs.shape[-1])), W_y) + b_y
    return flat.reshape((*[hs.shape[i] for i in range(hs.ndim - 1)], W_y.shape[1]))


def hoisted_forward(x, h0, params, act="relu", unroll=False):
    """Hidden states and logits, time-major; ``params`` in the lesson's order.

    Returns ``hs`` ([T, H] or [T, B, H]) and ``zs`` ([T, V] or [T, B, V]).
    """
    W_h, b_h, W_x, b_x, W_y, b_y = params
    xw = project_inputs(x, W_x, b_x + b_h)   # b_h joins b_x: both are constant per step
    fn = activation(act)
    step = lambda xw_t, h_tm1, W: simple_step(xw_t, h_tm1, W, act=fn)
    [hs] = loop(step, [xw], [h0], [W_h], unroll=unroll)
    return hs, output_logits(hs, W_y, b_y)


def summed_error(zs, targets):
    """Cross-entropy summed over every character; ids or one-hot targets."""
    if targets.dtype.startswith("int"):
        return losses.total(losses.sparse_categorical_crossentropy_from_logits(zs, targets))
    return losses.total(losses.categorical_crossentropy_from_logits(zs, targets))


def declare_batch(inputs, dtype):
    """Batch-major symbolic inputs: x, y ([B, T] int32 or [B, T, V]), h0 [B, H], lr."""
    if inputs not in INPUT_KINDS:
        raise ConfigError(f"inputs must be one of {INPUT_KINDS}, got {inputs!r}")
    if inputs == "ids":
        x, y = pt.imatrix("x_ids"), pt.imatrix("y_ids")
    else:
        x, y = pt.tensor3("x_onehot", dtype=dtype), pt.tensor3("y_onehot", dtype=dtype)
    return x, y, pt.matrix("h0", dtype=dtype), pt.scalar("lr", dtype=dtype)


def batch_error(x, y, h0, params, act="relu"):
    """Summed cross-entropy per sequence, averaged over the batch (lesson's error at B=1)."""
    time_major = lambda v: v.swapaxes(0, 1)
    _, zs = hoisted_forward(time_major(x), h0, params, act)
    return summed_error(zs, time_major(y)) / pt.cast(x.shape[0], zs.dtype)


class FastRNN:
    """The lesson model (same parameters, same init under a seed) on batched data.

    Parameters
    ----------
    vocab_size, n_hidden : int
    act : str
        ``"relu"`` (the lesson) or ``"tanh"``.
    dtype : str
        One dtype for the whole graph (float32 for speed, float64 for tests).
    seed : int
        Same seed, same initial weights as :class:`symrnn.lesson_rnn.LessonRNN`.
    inputs : {"ids", "onehot"}
        ``[B, T]`` integer ids (row lookup) or ``[B, T, V]`` one-hot rows.
    backend : str, optional
        See :mod:`symrnn.backend`.
    trust_input : bool
        Compile with ``trust_input=True``: the call skips input conversion and
        checks, so pass arrays of exactly the right dtype (0-d arrays, not
        numpy scalars). :meth:`train_step` checks once and casts for you.
    """

    def __init__(self, vocab_size, n_hidden=256, act="relu", dtype="float32", seed=42,
                 inputs="ids", backend=None, trust_input=False):
        from .lesson_rnn import lesson_params  # lesson_rnn imports this module too
        self.vocab_size, self.n_hidden, self.dtype = vocab_size, n_hidden, dtype
        self.act, self.inputs, self.backend, self.trust_input = act, inputs, backend, trust_input
        self.params = lesson_params(vocab_size, n_hidden, np.random.default_rng(seed), dtype)
        self.x, self.y, self.h0, self.lr = declare_batch(inputs, dtype)
        self.error = batch_error(self.x, self.y, self.h0, self.params, act)
        self.grads = pytensor.grad(self.error, self.params)
        self.updates = updates.sgd(self.grads, self.params, self.lr)

    @cached_property
    def train_fn(self):
        """(h0 [B, H], x, y, lr) -> error, applying SGD to the six weights."""
        return compile_function([self.h0, self.x, self.y, self.lr], self.error,
                                updates=self.updates, backend=self.backend,
                                trust_input=self.trust_input)

    @cached_property
    def state(self):
        """The generator's hidden state [H], a shared variable carried between calls."""
        return pytensor.shared(np.zeros(self.n_hidden, dtype=self.dtype), name="h_gen")

    @cached_property
    def generate_fn(self):
        """(id as a 0-d int32 array) -> next-char probabilities [V]; updates :attr:`state`."""
        x_id = pt.iscalar("x_id")
        hs, zs = hoisted_forward(x_id[None], self.state, self.params, self.act)
        probs = pt.special.softmax(zs[0], axis=-1)
        return compile_function([x_id], probs, updates={self.state: hs[-1]},
                                backend=self.backend, trust_input=self.trust_input)

    def reset_state(self):
        self.state.set_value(np.zeros(self.n_hidden, dtype=self.dtype))

    def zeros_h0(self, batch_size):
        return np.zeros((batch_size, self.n_hidden), dtype=self.dtype)

    def check_batch(self, x, name):
        """Validate and cast one batch (before any state changes)."""
        x = np.asarray(x)
        if self.inputs == "ids":
            if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
                raise ShapeError(f"{name} must be integer ids of shape (batch, seq_len), got "
                                 f"{x.dtype} {x.shape}")
            if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
                raise ShapeError(f"{name} ids must lie in [0, {self.vocab_size}); check the vocabulary")
            return x.astype("int32", copy=False)
        if x.ndim != 3 or x.shape[2] != self.vocab_size:
            raise ShapeError(f"{name} must be one-hot of shape (batch, seq_len, {self.vocab_size}), "
                             f"got {x.shape}; encode ids with np.eye(vocab_size)[ids]")
        return x.astype(self.dtype, copy=False)

    def train_step(self, x, y, lr, h0=None):
        """One SGD step on one batch; returns the error before the step."""
        x, y = self.check_batch(x, "x"), self.check_batch(y, "y")
        if x.shape[:2] != y.shape[:2]:
            raise ShapeError(f"x and y must have the same (batch, seq_len), got {x.shape} and {y.shape}")
        h0 = self.zeros_h0(len(x)) if h0 is None else np.asarray(h0, self.dtype)
        return float(self.train_fn(h0, x, y, np.asarray(lr, self.dtype)))

    def get_params(self):
        return {p.name: p.get_value() for p in self.params}

    def set_params(self, values):
        for p in self.params:
            if np.shape(values[p.name]) != p.get_value(borrow=True).shape:
                raise ShapeError(f"{p.name}: expected shape {p.get_value(borrow=True).shape}, "
                                 f"got {np.shape(values[p.name])}")
        for p in self.params:
            p.set_value(np.asarray(values[p.name], dtype=self.dtype))
