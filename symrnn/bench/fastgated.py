"""GRU and LSTM versions of :class:`symrnn.bench.fastgraph.FastRNN`'s fast graph.

Only the recurrence changes. Everything else is the simple RNN's graph:

- the input projection is done for all steps before the loop, as a row lookup
  ``W[ids] + b`` or one matmul;
- the output layer is one matmul over every step;
- the loss is the same summed sparse cross-entropy;
- SGD updates come from ``pytensor.grad``;
- batches are checked the same way (:class:`symrnn.bench.fastgraph.BatchSGDModel`).

The cells are :func:`symrnn.graph.gated.gru_step` and :func:`symrnn.graph.gated.lstm_step`
(Keras 1 gate order: GRU ``(z, r, h)``, LSTM ``(i, f, c, o)``), with ``tanh``
candidates and logistic ``sigmoid`` gates. Those are the activations PyTorch's
``nn.GRU``/``nn.LSTM`` use, so the benchmark's three implementations compute
the same functions. Keras 1's default ``hard_sigmoid`` has no PyTorch twin.

Weights are ``W [V, gH]``, ``U [H, gH]``, ``b [gH]`` (``g`` = 3 gates for a GRU,
4 for an LSTM), then ``W_y [H, V]`` and ``b_y [V]``. :func:`gated_params`
draws them from a seed, so numpy and PyTorch can start from the same numbers.

>>> import numpy as np
>>> rnn = FastGated(vocab_size=5, n_hidden=4, cell="lstm", dtype="float64", seed=0, backend="py")
>>> ids = np.array([[1, 2, 3], [0, 4, 4]], dtype="int32")   # [B, T]
>>> err = rnn.train_step(ids, np.roll(ids, -1, axis=1), lr=0.1)
>>> bool(err > 0), rnn.generate_fn(np.asarray(2, "int32")).shape
(True, (5,))
"""
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt

from ..errors import ConfigError
from ..graph.gated import (
    SAVED_GATES,
    gru_split_weights,
    gru_step_split,
    lstm_bias_init,
    lstm_step,
)
from ..graph.params import glorot_uniform, orthogonal
from ..graph.recurrent import loop
from ..graph.training import compile_function
from .fastgraph import (
    BatchSGDModel,
    choose_projection,
    declare_batch,
    output_logits,
    project_inputs,
    summed_error,
)

GATE_COUNT = {"gru": 3, "lstm": 4}
PARAM_NAMES = ("W", "U", "b", "W_y", "b_y")
CANDIDATE_ACT, GATE_ACT = "tanh", "sigmoid"


def check_cell(cell):
    """``cell`` if it is ``"gru"`` or ``"lstm"``, else a ConfigError naming both."""
    if cell not in GATE_COUNT:
        raise ConfigError(f"cell must be one of {sorted(GATE_COUNT)}, got {cell!r}")
    return cell


def gated_params(vocab_size, n_hidden, cell, rng, dtype="float64"):
    """Seeded numpy weights, as a dict in :data:`PARAM_NAMES` order.

    The initialisers are Keras 1's: Glorot-uniform input and output weights,
    an orthogonal ``U`` block per gate, zero biases and, for an LSTM, a
    forget-gate bias of 1.
    """
    gates = GATE_COUNT[check_cell(cell)]
    U = np.concatenate([orthogonal((n_hidden, n_hidden), rng) for _ in range(gates)], axis=1)
    b = lstm_bias_init(n_hidden) if cell == "lstm" else np.zeros(gates * n_hidden)
    values = {"W": glorot_uniform((vocab_size, gates * n_hidden), rng), "U": U, "b": b,
              "W_y": glorot_uniform((n_hidden, vocab_size), rng), "b_y": np.zeros(vocab_size)}
    return {name: np.asarray(values[name], dtype=dtype) for name in PARAM_NAMES}


def gated_cell(cell, with_gates=False):
    """The step ``(xw_t, *states_tm1, *recurrent_weights(cell, U)) -> states_t``, with the
    benchmark's activations (and the gate activations after the states, ``with_gates``)."""
    kw = dict(act=CANDIDATE_ACT, inner_act=GATE_ACT, with_gates=with_gates)
    if check_cell(cell) == "gru":
        return lambda xw_t, h_tm1, U_zr, U_h: gru_step_split(xw_t, h_tm1, U_zr, U_h, **kw)
    return lambda xw_t, h_tm1, c_tm1, U: lstm_step(xw_t, h_tm1, c_tm1, U, **kw)


def recurrent_weights(cell, U):
    """The loop's non-sequences: a GRU's ``U`` as two blocks sliced before the loop
    (see :func:`symrnn.graph.gated.gru_step_split`), an LSTM's ``U`` whole."""
    return list(gru_split_weights(U)) if cell == "gru" else [U]


def initial_states(cell, h0):
    """The loop's starting states from ``h0``: an LSTM's cell state starts at zero."""
    return [h0] if cell == "gru" else [h0, pt.zeros_like(h0)]


def gated_forward(cell, x, h0, params, projection="lookup", save_gates=True):
    """Time-major hidden states ``[T, B, H]`` and logits ``[T, B, V]``.

    With ``save_gates`` the loop also outputs every step's gate activations
    (unused here), so the backward loop reads them instead of recomputing the
    step (:data:`symrnn.graph.gated.SAVED_GATES`); same values either way.
    """
    W, U, b, W_y, b_y = params
    xw = project_inputs(x, W, b, projection)
    outputs_info = initial_states(cell, h0) + [None] * (SAVED_GATES[cell] if save_gates else 0)
    step = gated_cell(cell, with_gates=save_gates)
    hs = loop(step, [xw], outputs_info, recurrent_weights(cell, U))[0]
    return hs, output_logits(hs, W_y, b_y)


def gated_batch_error(cell, x, y, h0, params, projection="lookup", save_gates=True):
    """Summed cross-entropy per sequence of batch-major ``x, y``, averaged over the batch."""
    time_major = lambda v: v.swapaxes(0, 1)
    _, zs = gated_forward(cell, time_major(x), h0, params, projection, save_gates)
    return summed_error(zs, time_major(y), projection) / pt.cast(x.shape[0], zs.dtype)


class FastGated(BatchSGDModel):
    """A GRU or LSTM character model on batched data, trained by SGD.

    The arguments are :class:`symrnn.bench.fastgraph.FastRNN`'s, with ``cell``
    (``"gru"`` or ``"lstm"``) in place of ``act``. ``train_fn``, ``train_step``,
    ``fit``, ``get_params`` and ``set_params`` behave as they do there.
    """

    def __init__(self, vocab_size, n_hidden=256, cell="gru", dtype="float32", seed=42,
                 inputs="ids", backend=None, trust_input=False, projection="auto"):
        self.vocab_size, self.n_hidden, self.dtype = vocab_size, n_hidden, dtype
        self.cell, self.inputs = check_cell(cell), inputs
        self.backend, self.trust_input = backend, trust_input
        self.projection = choose_projection(vocab_size, projection, backend)
        values = gated_params(vocab_size, n_hidden, cell, np.random.default_rng(seed), dtype)
        self.params = [pytensor.shared(values[name], name=name) for name in PARAM_NAMES]
        self.x, self.y, self.h0, self.lr = declare_batch(inputs, dtype)
        self._build_sgd(gated_batch_error(cell, self.x, self.y, self.h0, self.params,
                                          self.projection))

    @cached_property
    def states(self):
        """The generator's state, carried between calls: ``[h]`` (GRU) or ``[h, c]`` (LSTM)."""
        names = ["h_gen", "c_gen"][:1 + (self.cell == "lstm")]
        return [pytensor.shared(np.zeros(self.n_hidden, dtype=self.dtype), name=n) for n in names]

    @cached_property
    def generate_fn(self):
        """(id as a 0-d int32 array) -> next-char probabilities [V]; updates :attr:`states`.

        One step without ``scan``, like ``FastRNN.generate_fn``.
        """
        x_id = pt.iscalar("x_id")
        W, U, b, W_y, b_y = self.params
        step = gated_cell(self.cell, with_gates=True)   # a list whatever the cell
        new_states = step(W[x_id] + b, *self.states, *recurrent_weights(self.cell, U))
        new_states = new_states[:len(self.states)]
        probs = pt.special.softmax(pt.dot(new_states[0], W_y) + b_y, axis=-1)
        return compile_function([x_id], probs, updates=dict(zip(self.states, new_states)),
                                backend=self.backend, trust_input=self.trust_input)
