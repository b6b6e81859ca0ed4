"""Losses: an item-wise expression, then an explicit aggregation.

Cross-entropy is computed from a log-softmax, never ``log(softmax(z))``: once
a probability underflows to 0 the naive form gives ``0 * log 0 = NaN`` and the
weights stay NaN. When handed probabilities that a softmax produced, the loss
walks back to the logits in the graph, so a model ending in a softmax layer
still gets the stable form. Binary cross-entropy does the same for a sigmoid
(:func:`sigmoid_logits_of`): a ``Dense(1, activation='sigmoid')`` output is
scored from its logits, finite and with a gradient at any finite logit.
Both softmax cross-entropies (integer targets and one-hot or soft ones) are one op
each (:class:`SparseSoftmaxXent`, :class:`SoftmaxXent`), fused kernels on Numba.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> z = pt.matrix("z"); ids = pt.ivector("ids")
>>> loss = total(sparse_categorical_crossentropy_from_logits(z, ids))
>>> f = pytensor.function([z, ids], loss)
>>> bool(np.isclose(f(np.zeros((2, 4)), np.array([0, 3], dtype="int32")), 2 * np.log(4)))
True
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_grad
from pytensor.graph.basic import Constant, equal_computations
from pytensor.scalar.math import Sigmoid
from pytensor.tensor.basic import MakeVector
from pytensor.tensor.elemwise import DimShuffle, Elemwise
from pytensor.tensor.shape import Reshape
from pytensor.tensor.special import Softmax
from pytensor.tensor.symbolic import TensorSymbolicOp

from ..compat import infer_shape_args
from ..errors import ConfigError
from . import expansion
from .shapes import leading_axes_order

EPSILON = 1e-7  # Keras' clip for probabilities that do not come from a softmax


def log_softmax(z, axis=-1):
    """``z - logsumexp(z)``: finite for any finite logits.

    The max is subtracted by hand because only some backends' rewrites
    stabilise ``pt.logsumexp`` (FAST_COMPILE overflows at z = 1000); the
    shift cancels exactly, so its gradient is disconnected.
    """
    shift = disconnected_grad(pt.max(z, axis=axis, keepdims=True))
    shifted = z - shift
    return shifted - pt.log(pt.exp(shifted).sum(axis=axis, keepdims=True))


def logits_of(probs):
    """The logits behind ``probs`` if a softmax over the last axis made them, else None.

    Sees through a reshape that keeps the last axis (``TimeDistributed`` folds
    ``[B, T, F]`` into ``[B*T, F]`` for its layer and unfolds the softmax after),
    and through a dimshuffle that only reorders the leading axes (``TimeDistributed``
    applied to a recurrent layer's time-major states swaps them back after).

    >>> z = pt.matrix("z")
    >>> logits_of(pt.special.softmax(z, axis=-1)) is z
    True
    >>> folded = pt.special.softmax(z, axis=-1)
    >>> logits_of(folded.reshape((2, -1, folded.shape[1]))).owner.inputs[0] is z
    True
    >>> wide = pt.special.softmax(pt.matrix("w", shape=(None, 7)), axis=-1)
    >>> logits_of(wide.reshape((-1, 4, 7))) is not None   # a constant target shape
    True
    >>> swapped = wide.reshape((-1, 4, 7)).dimshuffle(1, 0, 2)
    >>> logits_of(swapped).owner.op.new_order, logits_of(swapped.dimshuffle(0, 2, 1))
    ((1, 0, 2), None)
    """
    node = probs.owner
    if node is not None and isinstance(node.op, Softmax):
        axes = node.op.axis if isinstance(node.op.axis, tuple) else (node.op.axis,)
        if tuple(a % probs.ndim for a in axes) == (probs.ndim - 1,):
            return node.inputs[0]
    if node is not None and isinstance(node.op, Reshape):
        folded, shape = node.inputs
        z = logits_of(folded)
        if z is not None and _last_axis_kept(folded, shape):
            return z.reshape(shape, ndim=probs.ndim)
    if leading_axes_order(probs) is not None:
        z = logits_of(node.inputs[0])
        if z is not None:
            return z.dimshuffle(*node.op.new_order)
    return None


def _reordered_leading_axes(z, ids):
    """The order of ``z``'s leading axes if a dimshuffle reordered only those (not the
    identity) and ``ids`` has one axis fewer than ``z``; else None."""
    order = leading_axes_order(z)
    if order is None or ids.ndim != z.ndim - 1 or order == tuple(sorted(order)):
        return None
    return list(order)


def _last_axis_kept(folded, shape):
    """Whether ``reshape(folded, shape)`` keeps ``folded``'s last axis as its own last axis."""
    width = folded.type.shape[-1]
    if isinstance(shape, Constant):   # every size static (symrnn.graph.shapes.sizes)
        return width is not None and int(shape.data[-1]) == width
    if shape.owner is None or not isinstance(shape.owner.op, MakeVector):
        return False
    last = shape.owner.inputs[-1]
    if isinstance(last, Constant) and width is not None:
        return int(last.data) == width
    return equal_computations([last], [folded.shape[folded.ndim - 1]])


def categorical_crossentropy_from_logits(z, y_onehot):
    """Per-item cross-entropy with one-hot (or soft) targets over the last axis.

    ``y_onehot`` has ``z``'s shape (any number of leading axes); built from
    :func:`softmax_crossentropy` on the rows of both. Integer targets are cast to
    ``z``'s dtype. Targets that broadcast against ``z`` (another number of axes, or
    an axis of static length 1 where ``z``'s is not) get the plain log-softmax graph.
    """
    if y_onehot.dtype not in pt.type.float_dtypes:
        y_onehot = pt.cast(y_onehot, z.dtype)
    if z.ndim == 0 or y_onehot.type.broadcastable != z.type.broadcastable:
        return -(y_onehot * log_softmax(z)).sum(axis=-1)
    flat_z = z.reshape((-1, z.shape[-1]))
    flat_y = y_onehot.reshape((-1, y_onehot.shape[-1]))
    # the leading sizes one by one, static where known (y.shape[:-1] would lose them)
    leading = [y_onehot.shape[i] if size is None else size
               for i, size in enumerate(y_onehot.type.shape[:-1])]
    return softmax_crossentropy(flat_z, flat_y).reshape(leading, ndim=y_onehot.ndim - 1)


def sparse_categorical_crossentropy_from_logits(z, ids):
    """Per-item cross-entropy with integer targets; ``ids`` has ``z``'s shape minus its last axis.

    Built from :func:`sparse_softmax_crossentropy` on the rows of ``z``. Logits whose
    leading axes a dimshuffle reordered (a recurrent layer's time-major ``[T, B, V]``
    read as ``[B, T, V]``) are scored where they lie, against the targets reordered
    the other way, and the item losses are reordered back: the targets are a small
    integer array, while reading the logits in their new order copies all of them
    (and their gradient, backward).

    >>> import numpy as np, pytensor
    >>> zt, ids = pt.tensor3("zt"), pt.lmatrix("ids")
    >>> items = sparse_categorical_crossentropy_from_logits(zt.dimshuffle(1, 0, 2), ids)
    >>> f = pytensor.function([zt, ids], items, mode="FAST_COMPILE")
    >>> logits = np.log(np.arange(1.0, 25.0).reshape(2, 3, 4))   # [T=2, B=3, V=4]
    >>> targets = np.array([[0, 1], [2, 3], [3, 0]])              # [B=3, T=2]
    >>> expected = [[-np.log(np.exp(logits[t, b]) / np.exp(logits[t, b]).sum())[targets[b, t]]
    ...              for t in range(2)] for b in range(3)]
    >>> bool(np.allclose(f(logits, targets), expected))
    True
    """
    order = _reordered_leading_axes(z, ids)
    if order is not None:
        back = [order.index(axis) for axis in range(len(order))]   # the inverse permutation
        items = sparse_categorical_crossentropy_from_logits(z.owner.inputs[0],
                                                            ids.dimshuffle(*back))
        return items.dimshuffle(*order)
    flat_z = z.reshape((-1, z.shape[-1]))
    return sparse_softmax_crossentropy(flat_z, ids.flatten()).reshape(ids.shape)


def _loss_term(probs, ids, g_loss):
    """``g_loss[:, None] * (probs - onehot(ids))``, the meaning of :class:`SparseSoftmaxXentGrad`.

    Subtracts ``g`` at the targets rather than build the one-hot rows (a ``[N, V]``
    compare and cast that PyTensor's python backend runs element by element).
    """
    rows = pt.arange(probs.shape[0])
    return pt.inc_subtensor((g_loss[:, None] * probs)[rows, ids], -g_loss)


def _xent_pullback(inputs, outputs, output_grads):
    """``dz`` from the loss's gradient and, if connected, the softmax output's (as a graph)."""
    z, ids = inputs
    _, probs = outputs
    g_loss, g_probs = output_grads
    terms = []
    if not isinstance(g_loss.type, DisconnectedType):
        terms.append(_loss_term(probs, ids, g_loss))
    if not isinstance(g_probs.type, DisconnectedType):   # softmax's own rule
        terms.append(probs * (g_probs - (g_probs * probs).sum(axis=1, keepdims=True)))
    return [sum(terms[1:], terms[0]) if terms else pt.zeros_like(z), DisconnectedType()()]


def sparse_softmax_graph(z, ids):
    """The meaning of :class:`SparseSoftmaxXent`: ``[loss [N], probs [N, V]]`` for ``z [N, V]``."""
    shift = pt.max(z, axis=1, keepdims=True)
    exp_shifted = pt.exp(z - shift)
    # The sum is at least 1 (the largest logit contributes exp(0)), so the maximum changes
    # nothing; it hides log(sum(exp)) and exp / sum(exp) from PyTensor's rewrites, which
    # would otherwise rebuild each as its own stabilised graph with its own exp.
    # acc_dtype: a float32 graph sums its (at most V) exps in float32, as Keras does, rather
    # than casting every element to PyTensor's default float64 accumulator.
    total_exp = pt.maximum(exp_shifted.sum(axis=1, keepdims=True, acc_dtype=z.dtype), 1)
    picked = z[pt.arange(z.shape[0]), ids]
    loss = pt.log(total_exp[:, 0]) + shift[:, 0] - picked
    return [loss, exp_shifted / total_exp]


class SparseSoftmaxXent(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(z [N, V], ids [N]) -> (loss [N], probs [N, V])``; means :func:`sparse_softmax_graph`.

    Expanded into that graph on every backend but Numba, which runs a fused kernel
    (:mod:`symrnn.graph.numba.xent`). Its gradient is :class:`SparseSoftmaxXentGrad`
    when only the loss is differentiated; with the probabilities' gradient connected,
    the graph of :func:`_xent_pullback` (the softmax rule besides).
    """

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        z_shape = input_shapes[0]
        return [(z_shape[0],), tuple(z_shape)]

    def build_inner_graph(self, z, ids):
        return sparse_softmax_graph(z, ids)

    def pullback(self, inputs, outputs, output_grads):
        g_loss, g_probs = output_grads
        if (isinstance(g_loss.type, DisconnectedType)
                or not isinstance(g_probs.type, DisconnectedType)):
            return _xent_pullback(inputs, outputs, output_grads)
        _, ids = inputs
        return [SparseSoftmaxXentGrad()(outputs[1], ids, g_loss), DisconnectedType()()]


class SparseSoftmaxXentGrad(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(probs [N, V], ids [N], g_loss [N]) -> dz [N, V]``; means :func:`_loss_term`."""

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        return [tuple(input_shapes[0])]

    def build_inner_graph(self, probs, ids, g_loss):
        return [_loss_term(probs, ids, g_loss)]


def sparse_softmax_crossentropy(z, ids):
    """``-log softmax(z)[i, ids[i]]`` for logits ``z`` [N, V] and integer ``ids`` [N].

    Same value as picking :func:`log_softmax` at the targets. The gradient,
    ``g * (softmax(z) - onehot(ids))``, reads the softmax that the forward
    pass already computed: PyTensor's own gradient of the log-softmax
    recomputes ``exp`` of every logit and scatters the targets into a zero
    array, two passes over the ``[N, V]`` logits that a training step pays
    for (about a tenth of a batch-64 step on Numba, whose ``exp`` is scalar).
    The loss is one :class:`SparseSoftmaxXent` node and its gradient one
    :class:`SparseSoftmaxXentGrad`: expanded into their graphs before compiling
    on every backend but Numba, where each is one fused pass over the rows
    (:mod:`symrnn.graph.numba.xent`). Tests check the rule against finite
    differences and against the plain log-softmax graph, and the kernels against
    the graphs.

    >>> import numpy as np, pytensor
    >>> z = pt.dmatrix("z"); ids = pt.ivector("ids")
    >>> f = pytensor.function([z, ids], sparse_softmax_crossentropy(z, ids))
    >>> np.round(f(np.log([[0.5, 0.25, 0.25]]), np.array([1], dtype="int32")), 6)
    array([1.386294])
    """
    expansion.register()   # any mode that compiles this graph can expand it
    return SparseSoftmaxXent()(z, ids)[0]


def _soft_loss_term(probs, y, g_loss):
    """``g_loss[:, None] * (probs * y.sum(axis=1)[:, None] - y)``, the meaning of
    :class:`SoftmaxXentGrad`: the loss's gradient wrt the logits for targets ``y``
    whose rows need not sum to 1."""
    mass = y.sum(axis=1, keepdims=True, acc_dtype=_acc_dtype(y))
    return g_loss[:, None] * (probs * mass - y)


def _acc_dtype(x):
    """Sum a float array in its own dtype (as the kernels do); PyTensor's default otherwise."""
    return x.dtype if x.dtype in pt.type.float_dtypes else None


def _soft_xent_pullback(inputs, outputs, output_grads):
    """``[dz, dy]`` of :class:`SoftmaxXent` as a graph: the loss's term and, if connected,
    the softmax rule for ``dz``; ``dy = -log softmax(z) * g_loss`` (the true derivative,
    for targets that depend on parameters)."""
    z, y = inputs
    _, probs = outputs
    g_loss, g_probs = output_grads
    terms = []
    if not isinstance(g_loss.type, DisconnectedType):
        terms.append(_soft_loss_term(probs, y, g_loss))
    if not isinstance(g_probs.type, DisconnectedType):   # softmax's own rule
        terms.append(probs * (g_probs - (g_probs * probs).sum(axis=1, keepdims=True)))
    dz = sum(terms[1:], terms[0]) if terms else pt.zeros_like(z)
    return [_as_grad_of(z, dz), _target_grad(z, y, probs, g_loss)]


def _target_grad(z, y, probs, g_loss):
    """``d loss / d y = -log softmax(z) * g_loss[:, None]``, or disconnected with ``g_loss``."""
    if isinstance(g_loss.type, DisconnectedType):   # the probabilities do not depend on y
        return DisconnectedType()()
    # log_softmax recomputes the rows' exp (only in a graph that asks for dy), exact at every
    # order. Reading logsumexp off the probabilities instead (z[k] - log(probs[k]) at each
    # row's argmax k) saves that pass, but its two gathers took longer to compile on Numba
    # (cold: 9 s against 5 s), and max(z) - log(max(probs)) differentiates wrongly at ties.
    return _as_grad_of(y, -log_softmax(z, axis=1) * g_loss[:, None])


def _as_grad_of(x, grad):
    """``grad`` in ``x``'s dtype (mixed float dtypes upcast inside the graphs)."""
    return grad if grad.dtype == x.dtype else pt.cast(grad, x.dtype)


def softmax_xent_graph(z, y):
    """The meaning of :class:`SoftmaxXent`: ``[loss [N], probs [N, V]]`` for ``z, y [N, V]``.

    ``loss_i = sum_j y_ij (log(total_i) - (z_ij - shift_i))``, ``shift`` the row's max and
    ``total`` the sum of ``exp(z - shift)``: ``-sum_j y_ij log softmax(z)_ij`` summed from
    non-negative terms for non-negative targets (no cancellation at logits of 1000, whereas
    ``logsumexp * sum(y) - sum(y * z)`` would), and any rows of targets (soft, or all zero).
    """
    shift = pt.max(z, axis=1, keepdims=True)
    shifted = z - shift
    exp_shifted = pt.exp(shifted)
    # as sparse_softmax_graph: the maximum hides the sum from the stabilising rewrites
    total_exp = pt.maximum(exp_shifted.sum(axis=1, keepdims=True, acc_dtype=z.dtype), 1)
    terms = y * (pt.log(total_exp) - shifted)
    loss = terms.sum(axis=1, acc_dtype=_acc_dtype(terms))
    return [loss, exp_shifted / total_exp]


class SoftmaxXent(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(z [N, V], y [N, V]) -> (loss [N], probs [N, V])``; means :func:`softmax_xent_graph`.

    The one-hot (or soft-target) form of :class:`SparseSoftmaxXent`, expanded and fused
    the same way. Gradient: :class:`SoftmaxXentGrad` for ``z`` when only the loss is
    differentiated, else the graph of :func:`_soft_xent_pullback`; for ``y``, always that
    graph's ``-log softmax(z) * g_loss`` (pruned when nothing asks for it).
    """

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        z_shape = input_shapes[0]
        return [(z_shape[0],), tuple(z_shape)]

    def build_inner_graph(self, z, y):
        return softmax_xent_graph(z, y)

    def pullback(self, inputs, outputs, output_grads):
        g_loss, g_probs = output_grads
        if (isinstance(g_loss.type, DisconnectedType)
                or not isinstance(g_probs.type, DisconnectedType)):
            return _soft_xent_pullback(inputs, outputs, output_grads)
        z, y = inputs
        probs = outputs[1]
        dz = _as_grad_of(z, SoftmaxXentGrad()(probs, y, g_loss))
        return [dz, _target_grad(z, y, probs, g_loss)]


class SoftmaxXentGrad(expansion.ExpandedGraph, TensorSymbolicOp):
    """``(probs [N, V], y [N, V], g_loss [N]) -> dz [N, V]``; means :func:`_soft_loss_term`."""

    def infer_shape(self, *args):   # (fgraph,) node, input_shapes: see symrnn.compat
        _, input_shapes = infer_shape_args(args)
        return [tuple(input_shapes[0])]

    def build_inner_graph(self, probs, y, g_loss):
        return [_soft_loss_term(probs, y, g_loss)]


def softmax_crossentropy(z, y):
    """``-sum_j y[i, j] log softmax(z)[i, j]`` for logits ``z`` and targets ``y``, both [N, V].

    The one-hot (or soft-target) form of :func:`sparse_softmax_crossentropy`, built the
    same way: one :class:`SoftmaxXent` node, whose gradient for ``z`` is one
    :class:`SoftmaxXentGrad` (``g * (softmax(z) * sum(y) - y)``), fused kernels on Numba
    and their graphs elsewhere. Targets need not be one-hot nor sum to 1 per row; the
    gradient wrt ``y`` (``-log softmax(z)`` per unit of loss) is defined too.

    >>> import numpy as np, pytensor
    >>> z, y = pt.dmatrix("z"), pt.dmatrix("y")
    >>> f = pytensor.function([z, y], softmax_crossentropy(z, y))
    >>> np.round(f(np.log([[0.5, 0.25, 0.25]] * 2), np.array([[0, 1, 0], [0.5, 0, 0.5]])), 6)
    array([1.386294, 1.039721])
    """
    expansion.register()   # any mode that compiles this graph can expand it
    z, y = pt.as_tensor_variable(z), pt.as_tensor_variable(y)
    if y.dtype not in pt.type.float_dtypes:   # integer targets: a gradient wrt them is float
        y = pt.cast(y, z.dtype)
    return SoftmaxXent()(z, y)[0]


def categorical_crossentropy(probs, y_onehot):
    """Keras-style: takes probabilities; uses the logits when a softmax made them."""
    z = logits_of(probs)
    if z is not None:
        return categorical_crossentropy_from_logits(z, y_onehot)
    return -(y_onehot * pt.log(pt.clip(probs, EPSILON, 1.0))).sum(axis=-1)


def sparse_categorical_crossentropy(probs, ids):
    """Keras-style sparse form (integer targets) of :func:`categorical_crossentropy`."""
    z = logits_of(probs)
    if z is None:
        z = pt.log(pt.clip(probs, EPSILON, 1.0))  # log-probs are valid logits
    return sparse_categorical_crossentropy_from_logits(z, ids)


def sigmoid_logits_of(probs):
    """The logits behind ``probs`` if a sigmoid made them, else None.

    A sigmoid acts on each element alone, so it sees through any reshape or
    dimshuffle after it (``TimeDistributed`` folds and unfolds the time
    axis): the same reshape of the logits gives the logits of the result.

    >>> z = pt.matrix("z")
    >>> sigmoid_logits_of(pt.sigmoid(z)) is z
    True
    >>> sigmoid_logits_of(pt.sigmoid(z).reshape((2, -1, 1))).owner.inputs[0] is z
    True
    >>> sigmoid_logits_of(pt.tanh(z)) is None
    True
    """
    node = probs.owner
    if node is None:
        return None
    if isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Sigmoid):
        return node.inputs[0]
    if isinstance(node.op, (Reshape, DimShuffle)):
        z = sigmoid_logits_of(node.inputs[0])
        if z is not None:
            return node.op(z, *node.inputs[1:])
    return None


def binary_crossentropy_from_logits(z, y):
    """Per-item binary cross-entropy of logits ``z`` against targets ``y`` in [0, 1],
    averaged over the last axis (Keras' per-item loss).

    ``max(z, 0) - z * y + log1p(exp(-|z|))``, which equals
    ``-(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))`` and is finite for
    every finite ``z``. ``max(z, 0)`` is written ``(z + |z|) / 2`` (the same
    value): at ``z = 0`` exactly its gradient is then 1/2 rather than the 1
    that PyTensor gives ``maximum`` at a tie, so the whole gradient is
    ``sigmoid(z) - y`` there too.

    >>> import numpy as np, pytensor
    >>> z, y = pt.dmatrix("z"), pt.dmatrix("y")
    >>> f = pytensor.function([z, y], binary_crossentropy_from_logits(z, y))
    >>> np.round(f(np.array([[0.0], [1000.0]]), np.array([[1.0], [0.0]])), 6).tolist()
    [0.693147, 1000.0]
    """
    half = np.asarray(0.5, dtype=z.dtype)
    magnitude = abs(z)
    return ((z + magnitude) * half - z * y + pt.log1p(pt.exp(-magnitude))).mean(axis=-1)


def binary_crossentropy(probs, y):
    """Keras' ``binary_crossentropy``: per-item ``-(y log p + (1 - y) log(1 - p))``,
    averaged over the last axis, for sigmoid outputs and 0/1 (or soft) targets.

    When a sigmoid made ``probs`` the loss is computed from its logits
    (:func:`binary_crossentropy_from_logits`, stable at any logit); other
    probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` first, as Keras does.

    >>> import numpy as np, pytensor
    >>> z, y = pt.dmatrix("z"), pt.dmatrix("y")
    >>> stable = pytensor.function([z, y], binary_crossentropy(pt.sigmoid(z), y))
    >>> stable(np.array([[-1000.0]]), np.array([[1.0]]))      # not log(1e-7)
    array([1000.])
    >>> p = pt.dmatrix("p")
    >>> clipped = pytensor.function([p, y], binary_crossentropy(p, y))
    >>> np.round(clipped(np.array([[0.0, 0.5]]), np.array([[1.0, 1.0]])), 4)  # 16.1181, 0.6931
    array([8.4056])
    """
    z = sigmoid_logits_of(probs)
    if z is not None:
        return binary_crossentropy_from_logits(z, y)
    eps = np.asarray(EPSILON, dtype=probs.dtype)
    p = pt.clip(probs, eps, np.asarray(1, dtype=probs.dtype) - eps)
    return -(y * pt.log(p) + (1 - y) * pt.log1p(-p)).mean(axis=-1)


def mse(y_pred, y_true):
    """Per-item mean squared error over the last axis."""
    return pt.sqr(y_pred - y_true).mean(axis=-1)


def total(item_losses):
    """Sum over all items (the lesson's error, summed over the 8 characters)."""
    return item_losses.sum()


def mean(item_losses):
    """Mean over all items (Keras' reported loss)."""
    return item_losses.mean()


LOSSES = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mse": mse, "mean_squared_error": mse,
}


def takes_ids(loss):
    """Whether ``loss`` (a name or a callable) takes integer class ids as targets: the
    sparse cross-entropy, or a callable marked ``sparse = True`` (e.g. a scaled version of it)."""
    if callable(loss):
        return bool(getattr(loss, "sparse", False))
    return loss == "sparse_categorical_crossentropy"


def get_loss(name):
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; valid names: "
                          f"{', '.join(sorted(LOSSES))}") from None
