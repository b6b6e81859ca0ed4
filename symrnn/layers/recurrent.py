"""Recurrent layers: a base class for any cell with the core's step contract, and SimpleRNN.

The API is batch-major (B, T, F). The input projection ``x . W_x + b`` for
every step and gate is one matmul before the loop; only the recurrence runs in
the loop, time-major. The built-in cells (SimpleRNN, GRU, LSTM with activations
given by name) run as one recurrence op (:mod:`symrnn.graph.recurrence`, whose
meaning is the same ``scan``: fused kernels on Numba); a cell of your own, or
``unroll=True``, runs in :func:`symrnn.graph.loops.loop` (:meth:`Recurrent.loop_kind`
says which). A cell is a pure function
``step(xw_t, *states_tm1, *recurrent_params) -> new_state or [new_states]``
where ``xw_t`` holds all gates' projected inputs concatenated, so a gated
layer only declares its gate count, state count and step:

>>> import pytensor.tensor as pt
>>> from symrnn.graph.cells import simple_step
>>> class MyRNN(Recurrent):
...     n_gates, n_states = 1, 1
...     def step_function(self):
...         return lambda xw_t, h_tm1, W_h: simple_step(xw_t, h_tm1, W_h, self.act)
>>> rnn = MyRNN(4)
>>> h_last = rnn(pt.tensor3("x"), input_shape=(None, 3, 2))
>>> rnn.count_params()  # W_x 2*4 + W_h 4*4 + b 4
28
>>> rnn.loop_kind(), SimpleRNN(4).loop_kind(), SimpleRNN(4, unroll=True).loop_kind()
('scan', 'recurrence', 'unrolled')
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from ..compat import SCAN_GRAD_READS_SAVED_OUTPUTS
from ..errors import ConfigError, ShapeError
from ..graph.cellrecords import (
    cell_record,
    loop_step,
    one_or_list,
    record_cell,
    record_loop_step,
)
from ..graph.cells import ACTIVATIONS
from ..graph.cells import activation as get_activation
from ..graph.gated import lstm_bias_init
from ..graph.loops import loop
from ..graph.params import init_array, initialiser
from ..graph.projection import time_major_projection
from ..graph.recurrence import recurrence
from ..graph.recurrence import supported as recurrence_supported
from .base import Layer, as_list, float_dtype
from .core import _name_of, _positive_whole, _rate


CONSUME_LESS = (None, "cpu", "mem", "gpu")


def _by_name(fn, name):
    """Whether ``fn`` is the built-in activation ``name`` (a callable of the user's is not,
    even if its ``__name__`` is an activation's name: it runs as ``scan``)."""
    return name in ACTIVATIONS and fn is get_activation(name)


def _per_gate(init, n_gates):
    """An initialiser filling (rows, n_gates * units) gate block by gate block,
    so 'identity'/'orthogonal' apply to each (units, units) recurrent block."""
    def fill(shape, rng):
        rows, cols = shape
        units = cols // n_gates
        return np.concatenate([init_array(init, (rows, units), rng) for _ in range(n_gates)], axis=1)
    return fill


class Recurrent(Layer):
    """Base of recurrent layers: projection, loop, sequence/state outputs.

    Parameters
    ----------
    units : int
        Size of each state.
    step, n_gates, n_states : optional
        The cell ``step(xw_t, *states_tm1, *recurrent_params)``, how many gate
        blocks the input projection has and how many states the loop carries
        (the first is the output ``h``). Subclasses usually set ``n_gates``
        and ``n_states`` as class attributes and override
        :meth:`step_function` (and :meth:`recurrent_params` if they need
        more than ``W_h``).
    init / kernel_initializer, inner_init / recurrent_initializer :
        Initialisers of ``W_x`` (F, n_gates*units) and ``W_h`` (units, n_gates*units),
        applied per gate block.
    return_sequences, return_state, go_backwards, unroll :
        As in Keras; ``unroll`` uses the python-unrolled loop (needs a static T).
    input_dim, input_length :
        Keras 1 way to give a first layer its (input_length, input_dim) input shape.
    stateful : bool
        Keep each batch row's final states in (non-trainable, unsaved) shared
        variables and start the next batch from them; needs a fixed batch size
        (``batch_input_shape=(B, T, F)`` or ``batch_size=B`` on the first
        layer). :meth:`reset_states` sets them back to zeros.
    dropout, recurrent_dropout : float
        Fraction of inputs / of the recurrent state dropped in training, with
        one mask per sequence (the same at every step), drawn from this
        layer's shared RNG; off in inference. Keras 1 names: ``dropout_W``,
        ``dropout_U``.
    grad_clip : float, optional
        Clip the gradient flowing back through every carried state at each
        step to ``[-grad_clip, grad_clip]`` (the forward pass is unchanged).
    truncate_gradient : int
        Backpropagate through at most this many steps (``-1``: all).
    consume_less : {'cpu', 'mem', 'gpu'}, optional
        Keras 1's hint on how to lay out the gate matrix products. Accepted so Keras 1 code
        runs as written, and has no effect here: the input projection of every step and
        gate is always one product before the loop, and the loop one fused op.

    Masks: called on a sequence with a time mask (from ``Embedding(mask_zero=True)``,
    ``Masking``, or ``mask=`` a (batch, timesteps) input of 1s and 0s, Lasagne's
    ``mask_input``), the layer carries every state unchanged through a padded step. The
    last output is then the last real step's, whether the padding comes before or after
    the real steps (``go_backwards`` reads a row's real steps in reverse either way). With
    ``return_sequences`` a padded step outputs the state carried into it (zeros before a
    row's first real step) and the mask passes on, so the loss skips those steps. A row
    with no real step outputs its initial state (zeros).
    """

    n_gates, n_states = 1, 1
    takes_mask = True   # a time mask: masked steps carry every state unchanged (Keras)
    n_saved = 0   # gate activations the cell returns after its states with with_gates=True
    cell_kind = None   # the name of a built-in cell the recurrence op can run
    # A built-in cell's record (symrnn.graph.cellrecords): its counts, weight split and step.
    record = None

    def __init__(self, units, activation="tanh", init=None, inner_init=None,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 return_sequences=False, return_state=False, go_backwards=False, unroll=False,
                 input_dim=None, input_length=None, step=None, n_gates=None, n_states=None,
                 stateful=False, dropout=0.0, recurrent_dropout=0.0, dropout_W=None,
                 dropout_U=None, grad_clip=None, truncate_gradient=-1, consume_less=None,
                 **kwargs):
        if consume_less not in CONSUME_LESS:
            raise ConfigError(f"consume_less must be one of {CONSUME_LESS[1:]} (Keras 1's hint; "
                              f"it changes nothing here), got {consume_less!r}")
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_length, input_dim))
        super().__init__(**kwargs)
        self.dropout = _rate(dropout if dropout_W is None else dropout_W, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout if dropout_U is None else dropout_U,
                                       "recurrent_dropout")
        if grad_clip is not None and not float(grad_clip) > 0:
            raise ConfigError(f"grad_clip must be a positive number (or None), got {grad_clip!r}")
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        if isinstance(truncate_gradient, bool) or not isinstance(truncate_gradient, (int, np.integer)) \
                or not (truncate_gradient == -1 or truncate_gradient >= 1):
            raise ConfigError(f"truncate_gradient must be -1 (every step) or a whole number of "
                              f"steps >= 1, got {truncate_gradient!r}")
        self.truncate_gradient = int(truncate_gradient)
        self.stateful, self.states = bool(stateful), []
        self.rng_var = pytensor.shared(np.random.default_rng(self.seed), name=f"{self.name}.rng")
        self.units = _positive_whole(units, f"{type(self).__name__} units")
        self.activation, self.act = _name_of(activation), get_activation(activation)
        self.init = init or kernel_initializer
        self.inner_init = inner_init or recurrent_initializer
        initialiser(self.init), initialiser(self.inner_init)   # unknown names refused now
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self._step = step
        self.n_gates = n_gates or type(self).n_gates
        self.n_states = n_states or type(self).n_states

    # -- what a subclass changes ----------------------------------------------
    def step_function(self):
        """``step(xw_t, *states_tm1, *recurrent_params)``: ``step=``, else the record's cell."""
        if self._step is not None:
            return self._step
        if self.record is None:
            raise ConfigError(f"{type(self).__name__} has no step function; pass step= "
                              "or override step_function()")
        cell, n_states = record_cell(self.record, self.act, self._gate_act()), self.n_states
        return lambda xw_t, *args: one_or_list(cell(xw_t, args[:n_states], args[n_states:]))

    def recurrent_params(self):
        """The step's parameters: ``W_h`` (split as the record says for a built-in cell)."""
        return [self.W_h] if self.record is None else list(self.record.split_weights(self.W_h))

    def builtin_record(self):
        """The record whose step this layer runs, or None where the step is the user's
        (``step=``, or a subclass with its own ``step_function`` or ``cell``)."""
        if self.record is None or self._step is not None:
            return None
        own = type(self)
        if own.step_function is not Recurrent.step_function or own.cell is not Recurrent.cell:
            return None
        return self.record

    def _gate_act(self):
        return getattr(self, "inner_act", None)   # gated cells only

    # -- lifecycle ----------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ShapeError(f"{self.name} needs input (batch, time, features) with known "
                             f"features, got {input_shape}; e.g. input_shape=(8, 86)")
        width = self.n_gates * self.units
        self.W_x = self.add_weight("W_x", (input_shape[-1], width), _per_gate(self.init, self.n_gates))
        self.W_h = self.add_weight("W_h", (self.units, width), _per_gate(self.inner_init, self.n_gates))
        self.b = self.add_weight("b", (width,), "zeros")
        if self.stateful:
            self._build_states(input_shape[0])

    def _build_states(self, batch_size):
        if batch_size is None:
            raise ConfigError(
                f"{self.name} is stateful, so it needs a fixed batch size: give the model's "
                "first layer batch_input_shape=(batch, timesteps, features) (or batch_size=batch; "
                "for an Embedding: batch_size= with input_length=), and feed batches of exactly "
                "that many rows")
        # Not parameters: not trained, not counted by summary(), not saved.
        self.states = [pytensor.shared(np.zeros((batch_size, self.units), dtype=self.dtype),
                                       name=f"{self.name}.state_{i}") for i in range(self.n_states)]

    def reset_states(self):
        """Set the carried states of a stateful layer back to zeros."""
        for state in self.states:
            state.set_value(np.zeros_like(state.get_value(borrow=True)))

    def call(self, x, training=False, initial_state=None, mask=None):
        in_mask, rec_mask = self._dropout_masks(x, training)
        if in_mask is not None:
            x = x * in_mask[:, None, :]             # one mask per sequence, every step
        xw = self._project(x)                       # [T, B, G*U]: all steps at once
        states0 = self._initial_states(x, initial_state)
        step_mask = self._step_mask(mask, x)        # [T, B] or None
        stacked = self._run_loop(xw, states0, rec_mask, step_mask)   # each [T, B, U], processing order
        if self.stateful and initial_state is None:
            for state, seq in zip(self.states, stacked):
                self.add_update(state, seq[-1])     # the next batch starts here
        h_seq = stacked[0]
        output = h_seq.dimshuffle(1, 0, 2) if self.return_sequences else h_seq[-1]
        if self.return_state:
            return [output] + [s[-1] for s in stacked]
        return output

    def _step_mask(self, mask, x):
        """The time mask ``[B, T]`` (bool or 0/1 numbers) as the loop reads it: ``[T, B]``
        in the layer's dtype, 1 for a real step."""
        if mask is None:
            return None
        if isinstance(mask, (list, tuple)):       # called on [x, *initial states]
            mask = mask[0]
            if mask is None:
                return None
        mask = pt.as_tensor_variable(mask)
        if mask.ndim != 2:
            raise ShapeError(f"{self.name}: a mask must be (batch, timesteps), got a "
                             f"{mask.ndim}-d one; 1 (or True) marks a real step, 0 padding")
        return pt.cast(pt.neq(mask, 0), self.dtype).T

    # -- masks ----------------------------------------------------------------
    def output_masked(self, inputs_masked, kwargs):
        """The sequence output keeps the input's mask; a last output or the states do not."""
        masked = bool(inputs_masked and inputs_masked[0]) or kwargs.get("mask") is not None
        first = masked and self.return_sequences
        return [first] + [False] * self.n_states if self.return_state else first

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        first = mask if self.return_sequences else None
        return [first] + [None] * self.n_states if self.return_state else first

    def _project(self, x):
        """``x . W_x + b`` for every step and gate, time-major ``[T, B, G*U]``
        (:func:`symrnn.graph.projection.time_major_projection`)."""
        return time_major_projection(x, self.W_x, self.b)

    # -- the loop: the recurrence op where it can run the layer, else scan ----------
    def loop_kind(self):
        """``"recurrence"`` (one fused op, :mod:`symrnn.graph.recurrence`), ``"unrolled"``
        or ``"scan"``: how :meth:`call` runs this layer's loop over time."""
        if self.unroll:
            return "unrolled"
        return "recurrence" if self._recurrence_config() is not None else "scan"

    def _recurrence_config(self):
        """``(cell, act, inner_act)`` when the recurrence op represents this layer exactly:
        a built-in cell, activations given by name, a float dtype the op knows."""
        if self.cell_kind is None or self.builtin_record() is None:
            return None
        gate_name = getattr(self, "inner_activation", None)
        named = _by_name(self.act, self.activation) and (
            gate_name is None or _by_name(self.inner_act, gate_name))
        dtype = float_dtype(self.dtype)   # before build: the dtype build will choose
        if not named or not recurrence_supported(self.cell_kind, self.activation, gate_name,
                                                 dtype, self.grad_clip, self.truncate_gradient):
            return None
        return self.cell_kind, self.activation, gate_name

    def _run_loop(self, xw, states0, rec_mask, step_mask=None):
        config = None if self.unroll else self._recurrence_config()
        if config is not None:
            cell, act, inner_act = config
            # the op runs forwards over its sequence; scan's go_backwards does the same reversal
            # (a row's padded steps, read backwards, carry its zero state or its last real one)
            sequence = xw[::-1] if self.go_backwards else xw
            if step_mask is not None and self.go_backwards:
                step_mask = step_mask[::-1]
            return recurrence(cell, sequence, states0, self.W_h, act=act, inner_act=inner_act,
                              mask=rec_mask, step_mask=step_mask, grad_clip=self.grad_clip,
                              truncate_gradient=self.truncate_gradient)
        non_seqs = self.recurrent_params() + ([] if rec_mask is None else [rec_mask])
        sequences = [xw] if step_mask is None else [xw, step_mask]
        stacked = loop(self._loop_step(rec_mask is not None, step_mask is not None), sequences,
                       states0 + [None] * self.n_saved_in_loop(), non_seqs,
                       go_backwards=self.go_backwards,
                       unroll=self.unroll, truncate_gradient=self.truncate_gradient)
        return stacked[:self.n_states]

    def n_saved_in_loop(self):
        """How many gate activations the scan loop outputs after its states: the
        :attr:`n_saved` (a built-in cell's record's ``saved``) where PyTensor's scan gradient
        reads them instead of recomputing the step, none where it recomputes them anyway
        and they would only cost (:data:`symrnn.compat.SCAN_GRAD_READS_SAVED_OUTPUTS`).
        None either for a step of the user's run by :meth:`cell` here: it returns no gates."""
        gives_gates = self.builtin_record() is not None or type(self).cell is not Recurrent.cell
        return self.n_saved if SCAN_GRAD_READS_SAVED_OUTPUTS and gives_gates else 0

    # -- the step inside the loop ----------------------------------------------
    def cell(self, xw_t, states_tm1, params, rec_mask=None, with_gates=False):
        """New state(s) from one step of the cell. A built-in cell runs its record's
        step, which puts ``rec_mask`` where the cell needs it (and, with ``with_gates``,
        returns its saved gates after the states). A step of the user's gets
        ``h_tm1 * rec_mask`` in place of ``h_tm1`` (enough for cells whose ``h_tm1``
        enters only through ``h_tm1 . W_h``) and returns no gates."""
        record = self.builtin_record()
        if record is not None:
            new = record_cell(record, self.act, self._gate_act())(
                xw_t, states_tm1, params, rec_mask, with_gates=with_gates)
            return one_or_list(new)
        states_tm1 = list(states_tm1)
        if rec_mask is not None:
            states_tm1[0] = states_tm1[0] * rec_mask
        return self.step_function()(xw_t, *states_tm1, *params)

    def _loop_step(self, has_mask, has_step_mask=False):
        """The loop's step: the one wiring of :mod:`symrnn.graph.cellrecords` (the
        recurrence op runs the same), around the record's cell or :meth:`cell`."""
        n_params, with_gates = len(self.recurrent_params()), self.n_saved_in_loop() > 0
        record = self.builtin_record()
        if record is not None:
            return record_loop_step(record, self.act, self._gate_act(), n_params, has_mask,
                                    self.grad_clip, with_gates, has_step_mask=has_step_mask)
        return loop_step(self.cell, self.n_states, n_params, has_mask, self.grad_clip,
                         with_gates, has_step_mask=has_step_mask)

    def one_step(self, x_t, states_tm1):
        """Inference step on one time slice ``x_t`` (B, F): the new states, ``h`` first."""
        xw_t = pt.dot(x_t, self.W_x) + self.b
        new = self.cell(xw_t, states_tm1, self.recurrent_params())
        return list(new) if self.n_states > 1 else [new]

    def _dropout_masks(self, x, training):
        """(input mask (B, F) or None, recurrent mask (B, U) or None), scaled by 1/keep."""
        if not training or (self.dropout == 0.0 and self.recurrent_dropout == 0.0):
            return None, None
        rng, masks = self.latest(self.rng_var), []
        for rate, width in ((self.dropout, x.shape[2]), (self.recurrent_dropout, self.units)):
            if rate == 0.0:
                masks.append(None)
                continue
            keep = 1.0 - rate
            rng, bits = pt.random.bernoulli(keep, size=(x.shape[0], width), rng=rng,
                                            return_next_rng=True)
            masks.append(pt.cast(bits, self.dtype) / np.asarray(keep, dtype=self.dtype))
        self.add_update(self.rng_var, rng)          # a fresh mask for the next call
        return masks[0], masks[1]

    def _initial_states(self, x, initial_state):
        if initial_state is None and self.stateful:
            return [self.latest(state) for state in self.states]
        if initial_state is None:
            zeros = pt.zeros((x.shape[0], self.units), dtype=self.dtype)
            return [zeros] * self.n_states
        states = as_list(initial_state)
        if len(states) != self.n_states:
            raise ShapeError(f"{self.name} carries {self.n_states} state(s), "
                             f"initial_state gave {len(states)}")
        return [pt.cast(s, self.dtype) for s in states]

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):   # called with [x, *states]
            input_shape = input_shape[0]
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self.n_states
        return out

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "init": self.init if isinstance(self.init, str) else None,
                "inner_init": self.inner_init if isinstance(self.inner_init, str) else None,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "unroll": self.unroll,
                "stateful": self.stateful, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "grad_clip": self.grad_clip,
                "truncate_gradient": self.truncate_gradient}


class SimpleRNN(Recurrent):
    """``h_t = activation(x_t . W_x + b + h_tm1 . W_h)`` (Keras' SimpleRNN).

    The lesson's ``SimpleRNN(256, activation='relu', inner_init='identity')``
    works as written; ``b`` stands for the lesson's ``b_x + b_h``.
    """

    record = cell_record("simple")
    n_gates, n_states, n_saved = record.n_gates, record.n_states, record.n_saved
    cell_kind = record.name


class _Gated(Recurrent):
    """Shared arguments of GRU and LSTM: Keras 1 ``inner_activation`` (Keras 2
    ``recurrent_activation``), default ``hard_sigmoid``."""

    def __init__(self, units, inner_activation=None, recurrent_activation="hard_sigmoid", **kwargs):
        super().__init__(units, **kwargs)
        gate_act = inner_activation or recurrent_activation
        self.inner_activation, self.inner_act = _name_of(gate_act), get_activation(gate_act)

    def get_config(self):
        return {**super().get_config(), "inner_activation": self.inner_activation}


class GRU(_Gated):
    """Keras 1 GRU: gates (z, r, h) in ``W_x`` (F, 3H), ``W_h`` (H, 3H), ``b`` (3H,).

    ``h_t = z * h_tm1 + (1 - z) * act(x_h + (r * h_tm1) . U_h)``, see
    :func:`symrnn.graph.gated.gru_step` (run as :func:`symrnn.graph.gated.gru_step_split`).
    Parameters: ``3 * (F*H + H*H + H)``.

    >>> import pytensor.tensor as pt
    >>> gru = GRU(4)
    >>> _ = gru(pt.tensor3("x"), input_shape=(None, 5, 3))
    >>> gru.count_params()  # 3 * (3*4 + 4*4 + 4)
    96
    """

    # The record splits W_h into its [z, r] and h blocks once outside the loop: the
    # gradient of each is then one GEMM after the loop (gru_step_split), not a slice
    # increment every step. Recurrent dropout only where h_tm1 meets U.
    record = cell_record("gru")
    n_gates, n_states, n_saved = record.n_gates, record.n_states, record.n_saved
    cell_kind = record.name


class LSTM(_Gated):
    """Keras 1 LSTM: gates (i, f, c, o) in ``W_x`` (F, 4H), ``W_h`` (H, 4H), ``b`` (4H,).

    Carries two states, ``h`` (the output) and the cell ``c``; the forget-gate
    bias starts at 1 (Keras' ``unit_forget_bias``/``forget_bias_init='one'``)
    so the cell remembers by default. Parameters: ``4 * (F*H + H*H + H)``.

    >>> import pytensor.tensor as pt
    >>> lstm = LSTM(64)
    >>> _ = lstm(pt.tensor3("x"), input_shape=(None, 8, 64))
    >>> lstm.count_params(), lstm.b.get_value()[64:66].tolist()
    (33024, [1.0, 1.0])
    """

    record = cell_record("lstm")
    n_gates, n_states, n_saved = record.n_gates, record.n_states, record.n_saved
    cell_kind = record.name

    def __init__(self, units, unit_forget_bias=True, forget_bias_init=None, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias if forget_bias_init is None \
            else forget_bias_init in ("one", "ones")

    def build(self, input_shape):
        super().build(input_shape)
        if self.unit_forget_bias:
            self.b.set_value(lstm_bias_init(self.units, self.dtype))

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
