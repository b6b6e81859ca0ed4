"""Reshapes whose target shape every backend can read before it runs.

JAX traces a function once per set of input shapes and needs the target shape
of a reshape as concrete numbers (constants, or an array's own ``.shape``);
an entry that PyTensor computes (a product of two lengths, a ``Join`` its
rewrites make of a shape tuple) is refused. :func:`sizes` writes each axis as
the static size when the type knows it and leaves at most one unknown axis to
``-1``, so the shape is constant for any batch size. :func:`leading_axes_order`
reads the order a dimshuffle gave the leading axes of a tensor when it only
reordered those (a recurrent layer's batch-major sequence is a view of its
time-major states), and :func:`leading_axes_swapped` finds the tensor behind a
swap of the two leading axes, which folds without a copy.

>>> import pytensor.tensor as pt
>>> x = pt.tensor("x", shape=(None, 5, 3))
>>> sizes([x.shape[0], 5, x.shape[2]], [None, 5, 3])
(-1, 5, 3)
>>> x.reshape(sizes([x.shape[0] * x.shape[1], x.shape[2]], [None, 3])).type.shape
(None, 3)
"""
from pytensor.tensor.elemwise import DimShuffle


def sizes(symbolic, static):
    """The target shape: ``static[i]`` where known, ``-1`` for the one unknown axis
    (two or more unknown axes keep their symbolic lengths, except the first, -1)."""
    unknown = [i for i, size in enumerate(static) if size is None]
    shape = []
    for i, (length, size) in enumerate(zip(symbolic, static)):
        if size is not None:
            shape.append(int(size))
        else:
            shape.append(-1 if i == unknown[0] else length)
    return tuple(shape)


def leading_axes_order(x):
    """The order of ``x``'s leading axes when ``x`` is a dimshuffle that only permuted
    them (no axis added or dropped, the last axis kept last), as a tuple; else None.

    >>> import pytensor.tensor as pt
    >>> y = pt.tensor3("y")
    >>> leading_axes_order(y.dimshuffle(1, 0, 2)), leading_axes_order(y.dimshuffle(0, 2, 1))
    ((1, 0), None)
    >>> leading_axes_order(y.dimshuffle(0, "x", 1, 2)), leading_axes_order(y)
    (None, None)
    """
    node = x.owner
    if node is None or not isinstance(node.op, DimShuffle):
        return None
    order = tuple(node.op.new_order)   # a permutation has no "x" (a new axis) and drops no axis
    if set(order) != set(range(len(order))) or order[-1] != len(order) - 1:
        return None
    return order[:-1]


def leading_axes_swapped(x):
    """``y`` when ``x`` is ``y.dimshuffle(1, 0, 2, ...)`` (its two leading axes swapped,
    the rest kept); else ``None``.

    >>> import pytensor.tensor as pt
    >>> y = pt.tensor3("y")
    >>> leading_axes_swapped(y.dimshuffle(1, 0, 2)) is y, leading_axes_swapped(y.dimshuffle(0, 2, 1))
    (True, None)
    """
    node = x.owner
    order = tuple(getattr(getattr(node, "op", None), "new_order", ()))
    if x.ndim < 2 or order != (1, 0, *range(2, x.ndim)):
        return None
    return node.inputs[0]
