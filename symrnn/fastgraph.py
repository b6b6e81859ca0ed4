"""The lesson model's graph arranged for speed: same maths, fewer ops in the loop.

The lesson's step does everything inside ``scan``: the input matmul, the
recurrence, the output layer. Only the recurrence needs the loop::

    xw    = W_x[ids] + b_x + b_h          # all steps at once (row lookup, or one matmul)
    h_t   = act(xw_t + h_tm1 . W_h)       # the only thing scan runs
    z     = hs . W_y + b_y                # one matmul over all steps and sequences
    error = sum of cross-entropies / batch size

An integer id selects row ``id`` of ``W_x``, which is what a one-hot row
times ``W_x`` computes, so both input forms give the same loss and the same
gradients. How integer ids are projected is a speed choice
(:func:`choose_projection`): a row lookup, whose gradient is a scatter-add
into the rows used, or a one-hot matmul built inside the graph, whose
gradient is one dense GEMM. Which wins depends on the backend and the
vocabulary size (:data:`ONEHOT_MAX_VOCAB`).

On a busy machine, run with ``OPENBLAS_NUM_THREADS=1``: Numba's matmuls call
the OpenBLAS bundled with scipy, whose threads spin against other processes
(measured on 2 shared cores: 0.30 s per batch-64 step with 2 threads, 0.006 s
with 1). Nothing here sets it: thread counts are the caller's choice.

Reductions stay in the weights' dtype (:func:`same_dtype_sums`): PyTensor
accumulates float32 sums in float64 by default, which costs a cast per
element and buys nothing measurable at these sizes.

:func:`hoisted_forward` is time-major and works for one sequence
(``[T]`` ids / ``[T, V]`` one-hot with ``h0`` of shape ``[H]``) and for a
batch (``[T, B]`` / ``[T, B, V]`` with ``h0`` ``[B, H]``). :class:`FastRNN`
wraps it for batch-major training data ``[B, T]`` and also compiles a
one-step generation function that carries its hidden state between calls,
and a sampler (:meth:`FastRNN.sample`) that draws many characters in one call.

>>> import numpy as np
>>> rnn = FastRNN(vocab_size=5, n_hidden=4, dtype="float64", seed=0, backend="py")
>>> ids = np.array([[1, 2, 3], [0, 4, 4]], dtype="int32")   # [B, T]
>>> err = rnn.train_step(ids, np.roll(ids, -1, axis=1), lr=0.1)
>>> bool(err > 0)
True
"""
from contextlib import contextmanager
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.replace import clone_replace
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.graph.traversal import graph_inputs
from pytensor.tensor.math import Sum

from . import losses, updates
from .backend import check_backend
from .cells import activation, relu_saving_mask, simple_step
from .errors import ConfigError, ShapeError
from .recurrent import loop
from .sampling import check_temperature
from .training import compile_function

INPUT_KINDS = ("ids", "onehot")
PROJECTIONS = ("auto", "lookup", "onehot")
# Largest vocabulary for which "auto" expands integer ids to one-hot rows, per backend.
# Measured on 2 shared cores, float32, H=256, T*B = 40*64 ids, projection forward + dW_x
# (ms per call, lookup / one-hot):
#   numba:  V=86  2.3 / 9.1    V=512  4.1 / 55    V=2048  3.2 / 270
#   c:      V=86 21.6 / 10.7   V=512 16.1 / 38
# Numba's scatter-add loop is cheap, so the lookup always wins there (and the whole
# numba train step at V=86 confirms it: 20.5k vs 19.2k chars/s; re-measured with
# symrnn.blas_dot at B=64, T=40: 40.1 vs 43.1 ms per step). PyTensor's C
# AdvancedIncSubtensor1 is slow, so the GEMM wins on C up to roughly V ~ 200.
ONEHOT_MAX_VOCAB = {"numba": 0, "c": 200, "py": 0, "jax": 0}
ONEHOT_MAX_VOCAB_DEFAULT = 0


def choose_projection(vocab_size, projection="auto", backend=None):
    """``"onehot"`` or ``"lookup"``: how integer ids become ``x . W_x``.

    ``"auto"`` picks the one-hot GEMM when ``vocab_size`` is at most
    ``ONEHOT_MAX_VOCAB[backend]`` (``None``: the default backend).

    >>> choose_projection(86, backend="c"), choose_projection(86, backend="numba")
    ('onehot', 'lookup')
    >>> choose_projection(50_000, backend="c"), choose_projection(50_000, "onehot")
    ('lookup', 'onehot')
    """
    if projection not in PROJECTIONS:
        raise ConfigError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
    if projection != "auto":
        return projection
    limit = ONEHOT_MAX_VOCAB.get(check_backend(backend), ONEHOT_MAX_VOCAB_DEFAULT)
    return "onehot" if vocab_size <= limit else "lookup"


def _concrete(projection):
    if projection not in ("lookup", "onehot"):
        raise ConfigError(f"projection must be 'lookup' or 'onehot' here, got {projection!r}; "
                          "resolve 'auto' with choose_projection(vocab_size)")
    return projection


def one_hot(ids, vocab_size, dtype):
    """``[..., V]`` one-hot rows of integer ``ids``, built in the graph (no gradient)."""
    return pt.eq(ids[..., None], pt.arange(vocab_size)).astype(dtype)


def project_inputs(x, W_x, bias, projection="lookup"):
    """``x . W_x + bias`` for every step: a row lookup for ids, one matmul for one-hot.

    ``projection="onehot"`` turns integer ids into one-hot rows first, so the
    gradient of ``W_x`` is a GEMM instead of a scatter-add. One-hot inputs of any
    rank are flattened to 2-d so the product is a single GEMM rather than a
    tensordot that backends may loop over.
    """
    if x.dtype.startswith("int"):
        if _concrete(projection) == "lookup":
            return W_x[x] + bias
        x = one_hot(x, W_x.shape[0], W_x.dtype)
    flat = pt.dot(x.reshape((-1, x.shape[-1])), W_x)
    return flat.reshape((*[x.shape[i] for i in range(x.ndim - 1)], W_x.shape[1])) + bias


def output_logits(hs, W_y, b_y):
    """``hs . W_y + b_y`` for all steps (and sequences) in one 2-d matmul."""
    flat = pt.dot(hs.reshape((-1, hs.shape[-1])), W_y) + b_y
    return flat.reshape((*[hs.shape[i] for i in range(hs.ndim - 1)], W_y.shape[1]))


def hoisted_forward(x, h0, params, act="relu", unroll=False, projection="lookup"):
    """Hidden states and logits, time-major; ``params`` in the lesson's order.

    Returns ``hs`` ([T, H] or [T, B, H]) and ``zs`` ([T, V] or [T, B, V]).
    ``projection`` applies to integer ids (see :func:`project_inputs`).
    """
    W_h, b_h, W_x, b_x, W_y, b_y = params
    xw = project_inputs(x, W_x, b_x + b_h, projection)   # b_h joins b_x: constant per step
    fn = relu_saving_mask if act == "relu" else activation(act)
    step = lambda xw_t, h_tm1, W: simple_step(xw_t, h_tm1, W, act=fn)
    [hs] = loop(step, [xw], [h0], [W_h], unroll=unroll)
    return hs, output_logits(hs, W_y, b_y)


def one_step(x_id, h_tm1, params, act="relu"):
    """``(h_t [H], logits [V])`` after the character ``x_id`` (0-d int) from ``h_tm1`` [H]."""
    W_h, b_h, W_x, b_x, W_y, b_y = params
    h_t = activation(act)(W_x[x_id] + b_x + b_h + pt.dot(h_tm1, W_h))
    return h_t, pt.dot(h_t, W_y) + b_y


def generation_step(x_id, h_tm1, params, act="relu"):
    """One character: ``(probs [V], h_t [H])`` from an id (0-d int) and ``h_tm1`` [H]."""
    h_t, z = one_step(x_id, h_tm1, params, act)
    return pt.special.softmax(z, axis=-1), h_t


def sampling_step(noise_t, h_tm1, id_tm1, inv_temperature, params, act="relu"):
    """One sampled character inside a compiled loop: ``(h_t, id_t)``.

    ``argmax(z / T + g)`` with ``g`` standard Gumbel noise is a draw from
    ``softmax(z / T)`` (the Gumbel-max trick), so the whole draw is an argmax
    in the graph and the noise comes in as a sequence the caller drew from a
    seeded numpy generator. Zero noise gives the greedy (argmax) character.
    """
    h_t, z = one_step(id_tm1, h_tm1, params, act)
    return h_t, pt.argmax(z * inv_temperature + noise_t).astype("int32")


def summed_error(zs, targets, projection="lookup"):
    """Cross-entropy summed over every character; ids or one-hot targets.

    With ``projection="onehot"`` integer targets are expanded to one-hot rows,
    so the loss's gradient is elementwise instead of a scatter into zeros.
    """
    if targets.dtype.startswith("int"):
        if _concrete(projection) == "lookup":
            return losses.total(losses.sparse_categorical_crossentropy_from_logits(zs, targets))
        targets = one_hot(targets, zs.shape[-1], zs.dtype)
    return losses.total(losses.categorical_crossentropy_from_logits(zs, targets))


@node_rewriter([Sum])
def _sum_in_own_dtype(fgraph, node):
    x, op = node.inputs[0], node.op
    if x.dtype.startswith("float") and op.acc_dtype != x.dtype and op.dtype == x.dtype:
        return [pt.sum(x, axis=op.axis, acc_dtype=x.dtype)]
    return None


def same_dtype_sums(outputs):
    """``outputs`` with every float sum accumulated in its input's dtype.

    PyTensor sums float32 in a float64 accumulator by default (also the sums
    that ``pytensor.grad`` creates for broadcast biases); rewriting them keeps
    a float32 graph float32. Scan's inner graphs are left alone.

    >>> x = pt.vector("x", dtype="float32")
    >>> [s] = same_dtype_sums([x.sum()])
    >>> s.owner.op.acc_dtype
    'float32'
    """
    outputs = list(outputs)
    roots = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    fgraph = FunctionGraph(roots, outputs, clone=True)   # rewrite a copy, not the caller's graph
    in2out(_sum_in_own_dtype).rewrite(fgraph)
    return clone_replace(list(fgraph.outputs), replace=dict(zip(fgraph.inputs, roots)))


def declare_batch(inputs, dtype):
    """Batch-major symbolic inputs: x, y ([B, T] int32 or [B, T, V]), h0 [B, H], lr."""
    if inputs not in INPUT_KINDS:
        raise ConfigError(f"inputs must be one of {INPUT_KINDS}, got {inputs!r}")
    if inputs == "ids":
        x, y = pt.imatrix("x_ids"), pt.imatrix("y_ids")
    else:
        x, y = pt.tensor3("x_onehot", dtype=dtype), pt.tensor3("y_onehot", dtype=dtype)
    return x, y, pt.matrix("h0", dtype=dtype), pt.scalar("lr", dtype=dtype)


def batch_error(x, y, h0, params, act="relu", projection="lookup"):
    """Summed cross-entropy per sequence, averaged over the batch (lesson's error at B=1)."""
    time_major = lambda v: v.swapaxes(0, 1)
    _, zs = hoisted_forward(time_major(x), h0, params, act, projection=projection)
    return summed_error(zs, time_major(y), projection) / pt.cast(x.shape[0], zs.dtype)


class BatchSGDModel:
    """What the fast models share: the SGD graph, batch checks, trusted calls, weights.

    A subclass declares the inputs (:func:`declare_batch`), the shared weights
    ``params``, the generator's shared ``states``, and calls :meth:`_build_sgd`
    with its error; the rest (compiling, validating, fitting) is the same for
    every cell.
    """

    def _build_sgd(self, error):
        """Gradients of ``error`` by ``pytensor.grad`` and plain SGD updates."""
        self.error, *self.grads = same_dtype_sums([error, *pytensor.grad(error, self.params)])
        self.updates = updates.sgd(self.grads, self.params, self.lr)
        self._zeros, self._lr = {}, {}   # per-call arrays, allocated once

    @cached_property
    def train_fn(self):
        """(h0 [B, H], x, y, lr) -> error, applying SGD to every weight."""
        return compile_function([self.h0, self.x, self.y, self.lr], self.error,
                                updates=self.updates, backend=self.backend,
                                trust_input=self.trust_input)

    def reset_state(self):
        """Zero the generator's state (every shared variable in :attr:`states`)."""
        for state in self.states:
            state.set_value(np.zeros_like(state.get_value(borrow=True)))

    def zeros_h0(self, batch_size):
        """A fresh zero state ``[batch_size, H]`` (the compiled step never writes to h0)."""
        return np.zeros((batch_size, self.n_hidden), dtype=self.dtype)

    def _cached_zeros(self, batch_size):
        if batch_size not in self._zeros:
            self._zeros[batch_size] = self.zeros_h0(batch_size)
        return self._zeros[batch_size]

    def _lr_array(self, lr):
        if lr not in self._lr:
            self._lr[lr] = np.asarray(lr, self.dtype)
        return self._lr[lr]

    def check_batch(self, x, name):
        """Validate and cast one batch (before any state changes)."""
        x = np.asarray(x)
        if self.inputs == "ids":
            if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
                raise ShapeError(f"{name} must be integer ids of shape (batch, seq_len), got "
                                 f"{x.dtype} {x.shape}")
            if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
                raise ShapeError(f"{name} ids must lie in [0, {self.vocab_size}); check the vocabulary")
            return np.ascontiguousarray(x, dtype="int32")
        if x.ndim != 3 or x.shape[2] != self.vocab_size:
            raise ShapeError(f"{name} must be one-hot of shape (batch, seq_len, {self.vocab_size}), "
                             f"got {x.shape}; encode ids with np.eye(vocab_size)[ids]")
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _check_pair(self, x, y):
        x, y = self.check_batch(x, "x"), self.check_batch(y, "y")
        if x.shape[:2] != y.shape[:2]:
            raise ShapeError(f"x and y must have the same (batch, seq_len), got {x.shape} and {y.shape}")
        return x, y

    def _check_h0(self, h0, batch_size):
        h0 = np.ascontiguousarray(h0, dtype=self.dtype)
        if h0.shape != (batch_size, self.n_hidden):
            raise ShapeError(f"h0 must have shape ({batch_size}, {self.n_hidden}), got {h0.shape}")
        return h0

    @contextmanager
    def _trusted(self, fn):
        """A compiled function, skipping its input checks while ours have run; a user
        calling it directly still gets the checks they asked for."""
        fn.trust_input = True
        try:
            yield fn
        finally:
            fn.trust_input = self.trust_input

    def train_step(self, x, y, lr, h0=None):
        """One SGD step on one batch; returns the error before the step."""
        x, y = self._check_pair(x, y)
        h0 = self._cached_zeros(len(x)) if h0 is None else self._check_h0(h0, len(x))
        with self._trusted(self.train_fn) as fn:
            return float(fn(h0, x, y, self._lr_array(float(lr))))

    def fit(self, x, y, lr, batch_size=64, epochs=1):
        """SGD over ``x, y`` ([N, T] ids or [N, T, V] one-hot) in order, ``batch_size``
        sequences per step from a zero state; returns the error of every step.

        The whole array is validated and cast once, then every step calls the
        compiled function trusted, with a preallocated ``h0`` and ``lr``. A last
        batch smaller than ``batch_size`` is dropped (a new batch size would
        mean a new shape: same function, but a different kernel path).

        >>> rnn = FastRNN(vocab_size=5, n_hidden=4, dtype="float64", seed=0, backend="py")
        >>> ids = np.arange(30).reshape(6, 5) % 5
        >>> len(rnn.fit(ids, (ids + 1) % 5, lr=0.1, batch_size=2, epochs=2))
        6
        """
        x, y = self._check_pair(x, y)
        if batch_size < 1 or len(x) < batch_size:
            raise ShapeError(f"fit needs 1 <= batch_size <= number of sequences ({len(x)}), "
                             f"got batch_size={batch_size}")
        h0, lr = self._cached_zeros(batch_size), self._lr_array(float(lr))
        n_full = len(x) - len(x) % batch_size
        errors = []
        with self._trusted(self.train_fn) as fn:
            for _ in range(epochs):
                for i in range(0, n_full, batch_size):
                    errors.append(float(fn(h0, x[i:i + batch_size], y[i:i + batch_size], lr)))
        return errors

    def get_params(self):
        return {p.name: p.get_value() for p in self.params}

    def set_params(self, values):
        for p in self.params:
            if np.shape(values[p.name]) != p.get_value(borrow=True).shape:
                raise ShapeError(f"{p.name}: expected shape {p.get_value(borrow=True).shape}, "
                                 f"got {np.shape(values[p.name])}")
        for p in self.params:
            p.set_value(np.asarray(values[p.name], dtype=self.dtype))


class FastRNN(BatchSGDModel):
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
        ``[B, T]`` integer ids or ``[B, T, V]`` one-hot rows.
    backend : str, optional
        See :mod:`symrnn.backend`.
    trust_input : bool
        Compile with ``trust_input=True``: the call skips input conversion and
        checks, so pass arrays of exactly the right dtype (0-d arrays, not
        numpy scalars). :meth:`train_step` and :meth:`fit` check their inputs
        themselves and always call the function trusted.
    projection : {"auto", "lookup", "onehot"}
        How integer ids are projected (see :func:`choose_projection`, which
        ``"auto"`` asks with this backend); the same loss and gradients either way.
    """

    def __init__(self, vocab_size, n_hidden=256, act="relu", dtype="float32", seed=42,
                 inputs="ids", backend=None, trust_input=False, projection="auto"):
        from .lesson_rnn import lesson_params  # lesson_rnn imports this module too
        self.vocab_size, self.n_hidden, self.dtype = vocab_size, n_hidden, dtype
        self.act, self.inputs, self.backend, self.trust_input = act, inputs, backend, trust_input
        self.projection = choose_projection(vocab_size, projection, backend)
        self.params = lesson_params(vocab_size, n_hidden, np.random.default_rng(seed), dtype)
        self.x, self.y, self.h0, self.lr = declare_batch(inputs, dtype)
        error = batch_error(self.x, self.y, self.h0, self.params, act, self.projection)
        self._build_sgd(error)

    @cached_property
    def state(self):
        """The generator's hidden state [H], a shared variable carried between calls."""
        return pytensor.shared(np.zeros(self.n_hidden, dtype=self.dtype), name="h_gen")

    @property
    def states(self):
        return [self.state]

    @cached_property
    def generate_fn(self):
        """(id as a 0-d int32 array) -> next-char probabilities [V]; updates :attr:`state`.

        One step written out without ``scan`` (a one-step scan costs more in loop
        machinery than the step's arithmetic); the new state goes back into the
        shared :attr:`state` through the updates, so nothing but the id crosses
        the call boundary.
        """
        x_id = pt.iscalar("x_id")
        probs, h_t = generation_step(x_id, self.state, self.params, self.act)
        return compile_function([x_id], probs, updates={self.state: h_t},
                                backend=self.backend, trust_input=self.trust_input)

    @cached_property
    def sample_fn(self):
        """(first id, noise [n, V], 1 / temperature) -> the ``n`` ids that follow it.

        All ``n`` characters in one call: a ``scan`` over :func:`sampling_step`
        feeds each sampled id back in as the next input, so the per-call cost
        (argument passing, dispatch) is paid once per ``n`` characters instead
        of once per character. The hidden state starts from and ends in
        :attr:`state`, as with :attr:`generate_fn`. Call it through :meth:`sample`.
        """
        first_id = pt.iscalar("first_id")
        noise = pt.matrix("gumbel_noise", dtype=self.dtype)
        inv_temperature = pt.scalar("inv_temperature", dtype=self.dtype)
        step = lambda g_t, h_tm1, id_tm1, inv_t, *params: sampling_step(
            g_t, h_tm1, id_tm1, inv_t, params, self.act)
        hs, ids = loop(step, [noise], [self.state, first_id], [inv_temperature, *self.params])
        return compile_function([first_id, noise, inv_temperature], ids,
                                updates={self.state: hs[-1]}, backend=self.backend,
                                trust_input=self.trust_input)

    def sample(self, n_chars, first_id, temperature=1.0, seed=None):
        """The ``n_chars`` ids that follow ``first_id``, each drawn from
        ``softmax(z / temperature)`` and fed back in; ``temperature=None`` is greedy.

        Continues from :attr:`state` (:meth:`reset_state` starts afresh) and
        leaves the last hidden state there. Same seed, same ids.

        >>> rnn = FastRNN(vocab_size=5, n_hidden=4, dtype="float64", seed=0, backend="py")
        >>> ids = rnn.sample(6, first_id=2, seed=0)
        >>> ids.shape, ids.dtype.name, bool(((0 <= ids) & (ids < 5)).all())
        ((6,), 'int32', True)
        """
        check_temperature(temperature)
        if isinstance(n_chars, bool) or not isinstance(n_chars, (int, np.integer)) or n_chars < 1:
            raise ConfigError(f"n_chars must be a positive integer, got {n_chars!r}")
        if isinstance(first_id, bool) or not isinstance(first_id, (int, np.integer)) \
                or not 0 <= first_id < self.vocab_size:
            raise ShapeError(f"first_id must be an integer id in [0, {self.vocab_size}), got "
                             f"{first_id!r}; encode characters with the model's vocabulary")
        shape = (int(n_chars), self.vocab_size)
        if temperature is None:
            noise, inv_temperature = np.zeros(shape, self.dtype), 1.0
        else:
            noise = np.random.default_rng(seed).gumbel(size=shape).astype(self.dtype)
            inv_temperature = 1.0 / temperature
        with self._trusted(self.sample_fn) as fn:
            return fn(np.asarray(first_id, "int32"), noise, np.asarray(inv_temperature, self.dtype))
