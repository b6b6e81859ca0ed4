"""One record per built-in cell, and the one wiring of a cell's step inside a loop.

A :class:`CellRecord` holds what the rest of the package needs to know about
a built-in cell: its gate blocks in ``xw``'s last axis (Keras 1 order), the
states it carries (``h`` first), the gate activations it saves for the
backward pass, how to split the recurrent weight ``W_h`` into the step's
parameters, and the step itself. :data:`CELLS` holds the built-in cells by
name; :func:`cell_record` looks one up. The recurrence op
(:mod:`symrnn.graph.recurrence`), the layers (:mod:`symrnn.layers.recurrent`),
the Numba kernels and the bench's numpy twins read their counts from here, so
no other module keeps a table keyed by cell name (the kernels and the twins
key their code by these names; ``tests/graph/test_cell_records.py`` checks both
cover exactly :data:`CELLS`).

A record's ``step`` has one contract for every cell::

    step(xw_t, states_tm1, params, h_in, act, inner_act, with_gates)
        -> [new states..., saved gates... (only with with_gates)]

``states_tm1`` are the carried states, ``params`` what ``split_weights(W_h)``
returned, ``h_in`` is ``h_tm1`` as the recurrent weights see it (recurrent
dropout applied; ``h_tm1`` itself without it), ``act`` and ``inner_act``
names or callables. Each cell decides where ``h_in`` goes: the GRU's blend
``z * h_tm1`` keeps the plain ``h_tm1``.

:func:`loop_step` is the one step wiring a loop runs: it unpacks
``(xw_t, [m_t], *states, *params, [mask])``, clips the gradient through each
state (:func:`symrnn.graph.clipping.clip_gradient`, the only clip), calls a
cell and, with a step mask ``m_t`` (``[B]``: 1 for a real step of a row, 0 for
padding), keeps the clipped old states of the padded rows
(:func:`keep_padded_rows`, Keras' ``K.rnn`` with a mask).
:func:`record_loop_step` wires a record's cell; the recurrence op and the
layers' built-in cells both call it, and a layer with a cell of the user's
calls :func:`loop_step` with its own.

>>> CELLS["gru"].n_gates, CELLS["gru"].n_states, CELLS["gru"].saved
(3, 1, ('z', 'r', 'hh'))
>>> [(name, record.n_saved) for name, record in CELLS.items()]
[('simple', 0), ('gru', 3), ('lstm', 5)]
>>> import numpy as np, pytensor.tensor as pt
>>> xw_t, h_tm1, W_h = pt.dmatrix("xw_t"), pt.dmatrix("h_tm1"), pt.dmatrix("W_h")
>>> step = record_loop_step(CELLS["simple"], "tanh", None, n_params=1, has_mask=False)
>>> h_t = step(xw_t, h_tm1, W_h)
>>> h_t.eval({xw_t: np.ones((1, 2)), h_tm1: np.zeros((1, 2)), W_h: np.eye(2)}).round(3).tolist()
[[0.762, 0.762]]

With a step mask the padded row (the second) keeps its state:

>>> m_t = pt.dvector("m_t")
>>> step = record_loop_step(CELLS["simple"], "tanh", None, n_params=1, has_mask=False,
...                         has_step_mask=True)
>>> h_t = step(xw_t, m_t, h_tm1, W_h)
>>> h_t.eval({xw_t: np.ones((2, 2)), m_t: [1.0, 0.0], h_tm1: np.full((2, 2), 0.5),
...           W_h: np.eye(2)}).round(3).tolist()
[[0.905, 0.905], [0.5, 0.5]]
"""
from collections.abc import Callable
from dataclasses import dataclass

import pytensor.tensor as pt

from ..errors import ConfigError
from .cells import activation, simple_step
from .clipping import clip_gradient
from .gated import GRU_GATES, LSTM_GATES, gru_split_weights, gru_step_split, lstm_step


def whole_weights(W_h):
    """``[W_h]``: the step takes the recurrent weight in one piece."""
    return [W_h]


@dataclass(frozen=True)
class CellRecord:
    """What the package knows about one built-in cell (see the module docstring).

    ``n_gates`` gate blocks of ``H`` columns each in ``xw``, ``W_x``, ``W_h``
    and ``b``, named by ``gates`` in column order; ``n_states`` carried states
    (``h`` first); ``saved``: the gate activations the step returns after its
    states with ``with_gates=True``, in order (the recurrence op outputs them
    after its states, and its backward kernel reads them instead of
    recomputing the step); ``split_weights(W_h)``: the step's parameters;
    ``has_inner_act``: whether the step takes a gate activation; ``fused``:
    whether :mod:`symrnn.graph.numba.kernels` has kernels for it, so the
    recurrence op can run it (a cell without them runs as ``scan``).
    """

    name: str
    n_gates: int
    n_states: int
    saved: tuple
    gates: tuple
    step: Callable
    split_weights: Callable = whole_weights
    has_inner_act: bool = True
    fused: bool = False

    @property
    def n_saved(self):
        """How many gate activations a step saves: ``len(saved)``."""
        return len(self.saved)


# -- each cell's step under the records' contract --------------------------------------
# The graph functions take h_tm1 in their own argument order; these say where h_in goes.

def _simple(xw_t, states_tm1, params, h_in, act, inner_act, with_gates):
    # h_tm1 only meets W_h, so h_in replaces it; there are no gates to save
    return [simple_step(xw_t, h_in, *params, activation(act))]


def _gru(xw_t, states_tm1, params, h_in, act, inner_act, with_gates):
    # h_in where h meets U; the blend z * h_tm1 keeps the plain h_tm1
    [h_tm1] = states_tm1
    new = gru_step_split(xw_t, h_tm1, *params, act, inner_act, h_in=h_in, with_gates=with_gates)
    return new if with_gates else [new]


def _lstm(xw_t, states_tm1, params, h_in, act, inner_act, with_gates):
    # h_tm1 only meets U, so h_in replaces it for the whole step; c is never masked
    [_, c_tm1] = states_tm1
    return lstm_step(xw_t, h_in, c_tm1, *params, act, inner_act, with_gates=with_gates)


SIMPLE = CellRecord("simple", n_gates=1, n_states=1, saved=(), gates=("h",), step=_simple,
                    has_inner_act=False, fused=True)
GRU = CellRecord("gru", n_gates=3, n_states=1, saved=("z", "r", "hh"), gates=GRU_GATES,
                 step=_gru, split_weights=gru_split_weights, fused=True)
LSTM = CellRecord("lstm", n_gates=4, n_states=2, saved=("i", "f", "g", "o", "act_c"),
                  gates=LSTM_GATES, step=_lstm, fused=True)

#: The built-in cells by name: what the recurrence op, its kernels and the layers run.
CELLS = {record.name: record for record in (SIMPLE, GRU, LSTM)}


def cell_record(name):
    """The :class:`CellRecord` of the built-in cell ``name``.

    >>> cell_record("lstm").n_states
    2
    >>> cell_record("rnn")
    Traceback (most recent call last):
    ...
    symrnn.errors.ConfigError: unknown cell 'rnn'; built-in cells: simple, gru, lstm ...
    """
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown cell {name!r}; built-in cells: {', '.join(CELLS)} "
                          "(a cell of your own: a Recurrent layer with its own step "
                          "function)") from None


# -- the wiring of a step inside a loop ----------------------------------------------------

def one_or_list(outputs):
    """A step's outputs as scan takes them: the variable alone when there is one."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return outputs if len(outputs) > 1 else outputs[0]


def record_cell(record, act, inner_act):
    """``cell(xw_t, states_tm1, params, rec_mask=None, with_gates=False)``: the record's
    step with recurrent dropout applied to ``h_tm1`` (``h_in = h_tm1 * rec_mask``).

    It returns a list: the new states, then the saved gates with ``with_gates``.
    """
    def cell(xw_t, states_tm1, params, rec_mask=None, with_gates=False):
        states_tm1 = list(states_tm1)
        h_in = states_tm1[0] if rec_mask is None else states_tm1[0] * rec_mask
        return record.step(xw_t, states_tm1, list(params), h_in, act, inner_act, with_gates)
    return cell


def keep_padded_rows(m_t, new, old):
    """``new`` in the rows whose step is real (``m_t > 0``), ``old`` in the padded ones.

    A switch, not the blend ``m * new + (1 - m) * old``: a NaN or inf that a
    padded step computes (from padding that is garbage) does not reach the
    state. ``m_t`` is ``[B]``; it broadcasts over the state's other axes.
    """
    real = m_t.dimshuffle(0, *["x"] * (new.ndim - 1)) > 0
    return pt.switch(real, new, old)


def loop_step(cell, n_states, n_params, has_mask, clip=None, with_gates=False,
              has_step_mask=False):
    """``step(xw_t, [m_t], *states_tm1, *params, [rec_mask])`` for a loop over time.

    ``cell(xw_t, states_tm1, params, rec_mask, with_gates=...)`` computes the
    step. With ``clip``, the gradient through every carried state is clipped
    to ``[-clip, clip]`` before the cell sees the state (so the clip covers
    the whole gradient of ``h_tm1``, masked part and blend alike).

    With ``has_step_mask`` the step takes the step mask ``m_t`` (``[B]``, the
    loop's second sequence after ``xw``) and every state it returns is the
    clipped old state in the rows where ``m_t`` is not > 0
    (:func:`keep_padded_rows`): the gradient through a padded step is clipped
    like any other. The saved gates (after the states) are the cell's at every
    step, padded or not.
    """
    def step(xw_t, *args):
        m_t, args = (args[0], args[1:]) if has_step_mask else (None, args)
        states = list(args[:n_states])
        params = list(args[n_states:n_states + n_params])
        rec_mask = args[n_states + n_params] if has_mask else None
        if clip is not None:
            states = [clip_gradient(s, clip) for s in states]   # tame exploding messages
        outputs = cell(xw_t, states, params, rec_mask, with_gates=with_gates)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if has_step_mask:
            outputs[:n_states] = [keep_padded_rows(m_t, new, old)
                                  for new, old in zip(outputs[:n_states], states)]
        return one_or_list(outputs)
    return step


def record_loop_step(record, act, inner_act, n_params, has_mask, clip=None, with_gates=False,
                     has_step_mask=False):
    """:func:`loop_step` of a built-in cell: what the recurrence op and the layers run.

    With ``with_gates`` the step returns the record's ``saved`` gates after its
    states, for a loop that keeps them (``[None] * record.n_saved`` more
    ``outputs_info``); ``has_step_mask``: see :func:`loop_step`.
    """
    return loop_step(record_cell(record, act, inner_act), record.n_states, n_params, has_mask,
                     clip, with_gates, has_step_mask)
