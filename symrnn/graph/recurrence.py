"""A whole recurrence over time as one op, whose meaning is the layers' ``scan``.

:class:`Recurrence` is an ``OpFromGraph`` whose inner graph is the loop the
recurrent layers build (:class:`symrnn.layers.recurrent.Recurrent`): the cell
step of :mod:`symrnn.graph.cells` / :mod:`symrnn.graph.gated` run by
:func:`symrnn.graph.loops.scan_loop` over the projected inputs ``xw`` (time-major
``[T, B, G*H]``), with the same recurrent-dropout mask, ``grad_clip`` (:func:`symrnn.graph.clipping.clip_gradient`) and
``truncate_gradient`` semantics. Its gradient is :class:`RecurrenceGrad`,
whose inner graph is ``pytensor.grad`` of that loop. On every backend except
Numba both ops are replaced by their inner graphs before any rewrite
(:mod:`symrnn.graph.expansion`), so the compiled function is the scan graph;
on Numba they run the fused kernels of :mod:`symrnn.graph.numba.kernels`,
which the tests prove equal to the graphs.

Op inputs: ``xw [T, B, G*H]``, ``h0 [B, H]``, ``c0 [B, H]`` (LSTM only),
``W_h [H, G*H]``, ``mask [B, H]`` (only when ``has_mask``) and ``step_mask
[T, B]`` (only when ``has_step_mask``). Op outputs: the stacked states
(``hs [T, B, H]``, and ``cs`` for the LSTM), then the gate activations each
step saves for the backward pass (internal: :data:`INTERNAL_OUTPUTS`).
:func:`recurrence` returns the states only.

The step mask is Keras' time mask (``K.rnn`` with a mask), for sequences of
different lengths padded to one ``T``: 1 where row ``b`` has a real step at
time ``t``, 0 where it is padding. A padded step leaves every carried state as
it was (``hs[t] = hs[t - 1]``, ``h0`` before the first real step; see
:func:`symrnn.graph.cellrecords.keep_padded_rows`): the states after the last
real step of a row are that step's, and the gradient through a padded step
passes straight to the step before, clipped by ``grad_clip`` like any other.
The saved gates are computed at every step. The mask is not differentiable:
its gradient is zeros.

Activations are those whose derivative can be written from their output
(:data:`ACTIVATIONS`); ``relu`` is :func:`symrnn.graph.cells.relu`,
whose gradient is 0 where the pre-activation is exactly 0.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> xw, h0, W_h = pt.tensor3("xw"), pt.matrix("h0"), pt.matrix("W_h")
>>> [hs] = recurrence("simple", xw, [h0], W_h, act="tanh")
>>> f = pytensor.function([xw, h0, W_h], hs, mode="FAST_COMPILE")
>>> f(np.ones((2, 1, 3)), np.zeros((1, 3)), np.eye(3)).round(3).tolist()
[[[0.762, 0.762, 0.762]], [[0.943, 0.943, 0.943]]]
>>> supported("gru", "tanh", "hard_sigmoid", "float32"), supported("gru", "softmax")
(True, False)
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import DisconnectedType
from pytensor.tensor.symbolic import TensorSymbolicOp

from ..compat import infer_shape_args
from ..errors import ConfigError, DTypeError, ShapeError
from . import cells, expansion
from .cellrecords import CELLS, cell_record, record_loop_step
from .loops import scan_loop

# The cells the op runs (those with fused kernels), and read off their records
# (symrnn.graph.cellrecords): the gate blocks in xw's last axis, the states each step
# carries, and the outputs after the states (what the backward kernels read instead
# of recomputing).
OP_CELLS = {name: record for name, record in CELLS.items() if record.fused}
N_GATES = {name: record.n_gates for name, record in OP_CELLS.items()}
N_STATES = {name: record.n_states for name, record in OP_CELLS.items()}
INTERNAL_OUTPUTS = {name: record.saved for name, record in OP_CELLS.items()}
# Activations whose derivative is a function of their output alone.
ACTIVATIONS = {name: cells.ACTIVATIONS[name] for name in cells.FROM_OUTPUT}
DTYPES = ("float32", "float64")
PROPS = ("cell", "act", "inner_act", "has_mask", "grad_clip", "truncate_gradient",
         "has_step_mask")


def supported(cell, act="tanh", inner_act="hard_sigmoid", dtype="float64", grad_clip=None,
              truncate_gradient=-1):
    """Whether :func:`recurrence` can represent this configuration.

    The layers ask before building the op and fall back to a plain ``scan``
    otherwise (their own step functions, ``unroll=True``, callables as
    activations, other dtypes, a cell whose record has no fused kernels).
    """
    return (cell in OP_CELLS and act in ACTIVATIONS
            and (not OP_CELLS[cell].has_inner_act or inner_act in ACTIVATIONS)
            and str(dtype) in DTYPES
            and (grad_clip is None or (np.isscalar(grad_clip) and float(grad_clip) > 0))
            and isinstance(truncate_gradient, (int, np.integer))
            and (truncate_gradient == -1 or truncate_gradient >= 1))


def recurrence_graph(cell, xw, states0, W_h, mask=None, act="tanh", inner_act=None,
                     grad_clip=None, truncate_gradient=-1, step_mask=None):
    """The op's meaning: every output of the layers' scan (states, then saved gates).

    The step is the layers' own wiring of the cell
    (:func:`symrnn.graph.cellrecords.record_loop_step`); a ``step_mask [T, B]`` is the
    scan's second sequence, after ``xw``.
    """
    record = cell_record(cell)
    params = list(record.split_weights(W_h))
    step = record_loop_step(record, ACTIVATIONS[act], ACTIVATIONS.get(inner_act), len(params),
                            mask is not None, grad_clip, with_gates=True,
                            has_step_mask=step_mask is not None)
    return scan_loop(step, [xw] + ([] if step_mask is None else [step_mask]),
                     list(states0) + [None] * record.n_saved,
                     params + ([] if mask is None else [mask]),
                     truncate_gradient=truncate_gradient)


class _RecurrenceOp(expansion.ExpandedGraph, TensorSymbolicOp):
    """What the forward op and its gradient share: the props and the input layout."""

    __props__ = PROPS
    has_step_mask = False   # what an op built before the prop existed means

    def n_forward_inputs(self):
        # xw, states0, W_h, mask, step_mask
        return 1 + N_STATES[self.cell] + 1 + self.has_mask + self.has_step_mask

    def split_forward_inputs(self, inputs):
        """``(xw, states0, W_h, mask or None, step_mask or None)`` from the forward inputs."""
        n = N_STATES[self.cell]
        xw, states0, W_h = inputs[0], list(inputs[1:1 + n]), inputs[1 + n]
        optional = iter(inputs[2 + n:self.n_forward_inputs()])
        mask = next(optional) if self.has_mask else None
        step_mask = next(optional) if self.has_step_mask else None
        return xw, states0, W_h, mask, step_mask

    def forward_graph(self, inputs):
        xw, states0, W_h, mask, step_mask = self.split_forward_inputs(inputs)
        return recurrence_graph(self.cell, xw, states0, W_h, mask, self.act, self.inner_act,
                                self.grad_clip, self.truncate_gradient, step_mask)


def _same_graph_and_props(self, other):
    # The props take part besides the inner graphs: they name what the kernels run.
    return OpFromGraph.__eq__(self, other) and self._props() == other._props()


def _hash_graph_and_props(self):
    return hash((OpFromGraph.__hash__(self), self._props()))


class Recurrence(_RecurrenceOp):
    """The loop over time as one node: outputs the states, then the saved gates."""

    __eq__, __hash__ = _same_graph_and_props, _hash_graph_and_props

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        # Every output, state or saved gate, is [T, B, H]. Said here, shape inference does
        # not walk the inner scan graph (OpFromGraph's generic infer_shape did, and took
        # most of a two-layer LSTM's compile on the py backend).
        node, input_shapes = infer_shape_args(args)
        (T, B, _), H = input_shapes[0], input_shapes[1 + N_STATES[self.cell]][0]
        return [(T, B, H)] * len(node.outputs)

    def build_inner_graph(self, *inputs):
        return self.forward_graph(inputs)

    def pullback(self, inputs, outputs, output_grads):
        n_states = N_STATES[self.cell]
        if not all(isinstance(g.type, DisconnectedType) for g in output_grads[n_states:]):
            # someone differentiates a saved gate: only the generic gradient knows how
            return super().pullback(inputs, outputs, output_grads)
        state_grads = [pt.zeros_like(out) if isinstance(g.type, DisconnectedType) else g
                       for out, g in zip(outputs[:n_states], output_grads[:n_states])]
        op = RecurrenceGrad(**self._props_dict())
        return op(*inputs, *outputs, *state_grads, return_list=True)


class RecurrenceGrad(_RecurrenceOp):
    """Gradients of :class:`Recurrence`'s states with respect to every input.

    Inputs: the forward inputs, the forward outputs (all of them: the kernel
    reads the saved states and gates), then the gradients of the states.
    Outputs: the gradients of ``xw``, the initial states, ``W_h``, ``mask`` and
    ``step_mask`` (zeros: the step mask only selects, it is not differentiable).
    The inner graph recomputes the forward loop from the forward inputs; once
    expanded, that loop merges with the forward op's own.
    """

    __eq__, __hash__ = _same_graph_and_props, _hash_graph_and_props

    def __init__(self, input_types=None, **kwargs):
        kwargs.setdefault("on_unused_input", "ignore")  # the forward outputs, in the graph
        super().__init__(input_types, **kwargs)

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        # the gradient of each forward input has that input's shape
        _, input_shapes = infer_shape_args(args)
        return list(input_shapes[:self.n_forward_inputs()])

    def build_inner_graph(self, *inputs):
        n_in, n_states = self.n_forward_inputs(), N_STATES[self.cell]
        forward_inputs, state_grads = list(inputs[:n_in]), inputs[-n_states:]
        states = self.forward_graph(forward_inputs)[:n_states]
        # the step mask's gradient is zeros by definition: scan need not derive it
        wrt = forward_inputs[:-1] if self.has_step_mask else forward_inputs
        grads = pytensor.grad(None, wrt, known_grads=dict(zip(states, state_grads)),
                              disconnected_inputs="ignore", return_disconnected="zero")
        return grads + ([pt.zeros_like(forward_inputs[-1])] if self.has_step_mask else [])


def _check_config(cell, act, inner_act, dtype, grad_clip, truncate_gradient):
    if not supported(cell, act, inner_act, dtype, grad_clip, truncate_gradient):
        raise ConfigError(
            f"recurrence cannot represent cell={cell!r}, act={act!r}, inner_act={inner_act!r}, "
            f"dtype={dtype!r}, grad_clip={grad_clip!r}, truncate_gradient={truncate_gradient!r}; "
            f"cells {list(OP_CELLS)}, activations {sorted(ACTIVATIONS)}, dtypes {DTYPES}, "
            "grad_clip None or > 0, truncate_gradient -1 or >= 1 (ask supported() first)")


def _checked_step_mask(step_mask, xw):
    """``step_mask`` as a ``[T, B]`` tensor in ``xw``'s dtype, or an error saying what to do."""
    step_mask = pt.as_tensor_variable(step_mask)
    if step_mask.ndim != 2:
        raise ShapeError(f"step_mask must be [T, B] (time-major, like xw), got {step_mask.ndim} "
                         f"dimension(s); a batch-major [B, T] mask needs .T")
    if step_mask.dtype != xw.dtype:
        raise DTypeError(f"step_mask is {step_mask.dtype} and xw is {xw.dtype}: give the step "
                         f"mask xw's float dtype (1.0 real step, 0.0 padding), e.g. "
                         f"step_mask.astype({xw.dtype!r})")
    for axis, (m, x) in enumerate(zip(step_mask.type.shape, xw.type.shape[:2])):
        if m is not None and x is not None and m != x:
            raise ShapeError(f"step_mask's axis {axis} has {m} entries and xw's has {x}: the "
                             "step mask must be [T, B] with xw's T and B")
    return step_mask


def recurrence(cell, xw, states0, W_h, act="tanh", inner_act="hard_sigmoid", mask=None,
               grad_clip=None, truncate_gradient=-1, step_mask=None):
    """The stacked states ``[hs]`` (``[hs, cs]`` for the LSTM) of one recurrence op.

    ``xw`` is the projected input, time-major ``[T, B, G*H]`` (a contiguous
    array saves the kernel a copy), ``states0`` the initial states
    (``[h0]`` or ``[h0, c0]``, each ``[B, H]``), ``W_h`` the whole recurrent
    weight ``[H, G*H]`` and ``mask`` an optional recurrent-dropout mask
    ``[B, H]``. All in one float dtype; see :func:`supported`.

    ``step_mask`` (optional, ``[T, B]`` in ``xw``'s dtype) is 1.0 for a real
    step of a row and 0.0 for a padded one, where every state keeps its value
    (see the module docstring); ``ShapeError`` or ``DTypeError`` if it is not.
    """
    xw, W_h = pt.as_tensor_variable(xw), pt.as_tensor_variable(W_h)
    states0 = [pt.as_tensor_variable(s) for s in states0]
    inputs = [xw, *states0, W_h] + ([] if mask is None else [pt.as_tensor_variable(mask)])
    if step_mask is not None:
        inputs.append(_checked_step_mask(step_mask, xw))
    dtypes = {v.dtype for v in inputs}
    dtype = dtypes.pop() if len(dtypes) == 1 else "mixed"
    if cell in CELLS and not CELLS[cell].has_inner_act:
        inner_act = None   # the op's props name no gate activation the cell does not have
    _check_config(cell, act, inner_act, dtype, grad_clip, truncate_gradient)
    if len(states0) != N_STATES[cell]:
        raise ConfigError(f"a {cell} recurrence carries {N_STATES[cell]} state(s), "
                          f"states0 gave {len(states0)}")
    expansion.register()   # any mode that compiles this graph can expand it
    op = Recurrence(cell=cell, act=act, inner_act=inner_act, has_mask=mask is not None,
                    grad_clip=None if grad_clip is None else float(grad_clip),
                    truncate_gradient=int(truncate_gradient),
                    has_step_mask=step_mask is not None)
    return op(*inputs, return_list=True)[:N_STATES[cell]]
