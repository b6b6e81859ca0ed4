"""Recurrent layers: a base class for any cell with the core's step contract, and SimpleRNN.

The API is batch-major (B, T, F). The input projection ``x . W_x + b`` for
every step and gate is one matmul before the loop; only the recurrence runs
inside :func:`symrnn.recurrent.loop`, time-major. A cell is a pure function
``step(xw_t, *states_tm1, *recurrent_params) -> new_state or [new_states]``
where ``xw_t`` holds all gates' projected inputs concatenated, so a gated
layer only declares its gate count, state count and step:

>>> import pytensor.tensor as pt
>>> from symrnn.cells import simple_step
>>> class MyRNN(Recurrent):
...     n_gates, n_states = 1, 1
...     def step_function(self):
...         return lambda xw_t, h_tm1, W_h: simple_step(xw_t, h_tm1, W_h, self.act)
>>> rnn = MyRNN(4)
>>> h_last = rnn(pt.tensor3("x"), input_shape=(None, 3, 2))
>>> rnn.count_params()  # W_x 2*4 + W_h 4*4 + b 4
28
"""
import numpy as np
import pytensor.tensor as pt

from ..cells import activation as get_activation, simple_step
from ..errors import ConfigError, ShapeError
from ..params import init_array
from ..recurrent import loop
from .base import Layer, as_list
from .core import _name_of


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
    """

    n_gates, n_states = 1, 1

    def __init__(self, units, activation="tanh", init=None, inner_init=None,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 return_sequences=False, return_state=False, go_backwards=False, unroll=False,
                 input_dim=None, input_length=None, step=None, n_gates=None, n_states=None,
                 **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_length, input_dim))
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ConfigError(f"{type(self).__name__} units must be positive, got {units}")
        self.units = int(units)
        self.activation, self.act = _name_of(activation), get_activation(activation)
        self.init = init or kernel_initializer
        self.inner_init = inner_init or recurrent_initializer
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self._step = step
        self.n_gates = n_gates or type(self).n_gates
        self.n_states = n_states or type(self).n_states

    # -- what a subclass changes ----------------------------------------------
    def step_function(self):
        if self._step is None:
            raise ConfigError(f"{type(self).__name__} has no step function; pass step= "
                              "or override step_function()")
        return self._step

    def recurrent_params(self):
        return [self.W_h]

    # -- lifecycle ----------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ShapeError(f"{self.name} needs input (batch, time, features) with known "
                             f"features, got {input_shape}; e.g. input_shape=(8, 86)")
        width = self.n_gates * self.units
        self.W_x = self.add_weight("W_x", (input_shape[-1], width), _per_gate(self.init, self.n_gates))
        self.W_h = self.add_weight("W_h", (self.units, width), _per_gate(self.inner_init, self.n_gates))
        self.b = self.add_weight("b", (width,), "zeros")

    def call(self, x, training=False, initial_state=None):
        xw = pt.dot(x, self.W_x) + self.b           # [B, T, G*U]: all steps at once
        states0 = self._initial_states(x, initial_state)
        step = self._as_list_step(self.step_function())
        stacked = loop(step, [xw.dimshuffle(1, 0, 2)], states0, self.recurrent_params(),
                       go_backwards=self.go_backwards, unroll=self.unroll)  # each [T, B, U]
        h_seq = stacked[0]
        output = h_seq.dimshuffle(1, 0, 2) if self.return_sequences else h_seq[-1]
        if self.return_state:
            return [output] + [s[-1] for s in stacked]
        return output

    def _as_list_step(self, step):
        if self.n_states == 1:
            return step
        return lambda *args: list(step(*args))

    def _initial_states(self, x, initial_state):
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
                "go_backwards": self.go_backwards, "unroll": self.unroll}


class SimpleRNN(Recurrent):
    """``h_t = activation(x_t . W_x + b + h_tm1 . W_h)`` (Keras' SimpleRNN).

    The lesson's ``SimpleRNN(256, activation='relu', inner_init='identity')``
    works as written; ``b`` stands for the lesson's ``b_x + b_h``.
    """

    def step_function(self):
        act = self.act
        return lambda xw_t, h_tm1, W_h: simple_step(xw_t, h_tm1, W_h, act)
