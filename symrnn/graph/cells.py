"""Pure one-step functions: ``step(x_t, h_tm1, *params) -> h_t``.

A cell creates no variables and compiles nothing; it only says how one time
step turns symbolic inputs into symbolic outputs. The loop over time lives in
:mod:`symrnn.graph.loops`. Naming follows PyTensor's ``a_tmb``: ``h_tm1`` is h
at t-1.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph

from ..compat import infer_shape_args
from ..errors import ConfigError


def linear(x):
    return x


class ElementwiseGraph(OpFromGraph):
    """An ``OpFromGraph`` of one elementwise expression: its output has its input's shape.

    Said here, shape inference does not walk the inner graph; OpFromGraph's generic
    ``infer_shape`` did, for every such node inside every scan step, and took most of a
    two-layer LSTM's compile on the py backend (lesson 12's --quick run took 17 s, 12 s
    with the recurrence ops' own ``infer_shape``, 7 s with this one too).
    """

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        return [input_shapes[0]]


def from_output_grad(x, expr_of, pullback, name):
    """``expr_of(x)`` as an inline ``OpFromGraph`` with ``pullback`` as its gradient.

    Used for elementwise activations whose gradient can be written from their
    output alone (``pullback(inputs, outputs, output_grads)`` reads ``outputs``).
    Scan's gradient swaps a step's outputs for their saved forward values, so
    such a gradient needs nothing recomputed in the backward loop. ``pullback``
    should be a module-level function, so two such ops compare equal.
    """
    template = x.type()
    return ElementwiseGraph([template], [expr_of(template)], pullback=pullback, inline=True,
                            name=name)(x)


def _hard_sigmoid_grad_from_output(inputs, outputs, output_grads):
    y = outputs[0]
    slope = np.asarray(0.2, dtype=y.dtype)
    return [output_grads[0] * slope * ((y > 0) & (y < 1))]


def hard_sigmoid(x):
    """Keras' piecewise-linear sigmoid ``clip(0.2 x + 0.5, 0, 1)`` in ``x``'s dtype
    (a bare 0.2 is not exact in float32, so PyTensor would upcast to float64).

    Its gradient reads the slope's mask off the output (``0 < y < 1``), not off
    ``x``, so a loop that saves the gate activations (a cell record's ``saved``,
    :mod:`symrnn.graph.cellrecords`) needs no pre-activation, and no matmul, in
    its backward pass. The only change from ``clip``'s own gradient is at ``y``
    exactly 0 or 1, where ``clip`` passes the gradient at its two corner points
    and this does not.
    """
    slope, offset = np.asarray(0.2, dtype=x.dtype), np.asarray(0.5, dtype=x.dtype)
    return from_output_grad(x, lambda t: pt.clip(t * slope + offset, 0, 1),
                            _hard_sigmoid_grad_from_output, "hard_sigmoid")


def _relu_grad_from_output(inputs, outputs, output_grads):
    return [output_grads[0] * (outputs[0] > 0)]


def relu(x):
    """``max(x, 0)`` whose gradient reads the mask off the output (``y > 0``).

    PyTensor's own gradient of ``maximum`` compares the output with its input,
    so a backward scan recomputes the step's input ``xw_t + h_tm1 . W_h``: one
    extra GEMM per step. Scan's gradient already swaps a step's output for the
    saved forward value, so a gradient written in terms of the output costs
    nothing. Same values except at ``x == 0`` exactly (mask 0 instead of 1, as
    :mod:`symrnn.lesson.numpy_rnn` and the fused recurrence kernels do).
    """
    return from_output_grad(x, lambda t: pt.maximum(t, 0), _relu_grad_from_output, "relu")


def softmax(x):
    return pt.special.softmax(x, axis=-1)  # axis=None would normalise over the batch too


ACTIVATIONS = {
    "relu": relu, "tanh": pt.tanh, "sigmoid": pt.sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "linear": linear, "softmax": softmax,
}
# Those whose derivative is a function of their output alone (elementwise): what the
# recurrence op's kernels can differentiate from the activations they saved.
FROM_OUTPUT = ("tanh", "sigmoid", "hard_sigmoid", "relu", "linear")


def activation(name):
    """Look up an activation by name (callables pass through)."""
    if callable(name):
        return name
    if name is None:
        return linear
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; valid names: "
                          f"{', '.join(sorted(ACTIVATIONS))}") from None


def lesson_step(x_t, h_tm1, W_h, b_h, W_x, b_x, W_y, b_y, act=relu):
    """The lesson's step, in its argument order: new hidden state and logits.

    It returns logits rather than softmax probabilities so the loss can use a
    log-softmax (``-(y * log(softmax(z)))`` turns NaN once a probability
    underflows to 0); ``softmax(z_t)`` is the lesson's ``y``.
    """
    h_t = act(pt.dot(x_t, W_x) + b_x + pt.dot(h_tm1, W_h) + b_h)
    z_t = pt.dot(h_t, W_y) + b_y
    return h_t, z_t


def simple_step(xw_t, h_tm1, W_h, act=relu):
    """Simple RNN step whose input projection ``x_t . W_x + b`` was done for all
    steps at once before the loop (one big matmul instead of T small ones)."""
    return act(xw_t + pt.dot(h_tm1, W_h))
