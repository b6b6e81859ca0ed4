"""Means of item-wise losses and metrics over the items that count: time masks and weights.

An item-wise loss is ``[B]`` (one value per sequence) or ``[B, T]`` (one per
step). :func:`masked_mean` averages it over the real steps only when a time
mask comes with it (Keras: ``sum(loss * mask) / sum(mask)``), and with
sample weights (``[B]``, or ``[B, T]`` for Keras' ``sample_weight_mode=
'temporal'``) takes ``sum(loss * weight) / count(weight != 0)``, as Keras 1's
weighted objective does. Both together: the weighted sum over real steps
divided by the real steps of non-zero weight.

A batch with nothing to count (every step padding, or every weight 0) has a
mean of 0 and no gradient, rather than 0 / 0.

>>> import numpy as np, pytensor.tensor as pt
>>> loss, mask = pt.dmatrix("loss"), pt.bmatrix("mask")
>>> mean = masked_mean(loss, mask=mask)
>>> float(mean.eval({loss: np.array([[1.0, 3.0], [5.0, 100.0]]),
...                  mask: np.array([[1, 1], [1, 0]], dtype="int8")}))
3.0
>>> per_row, w = pt.dvector("per_row"), pt.dvector("w")
>>> float(masked_mean(per_row, weights=w).eval({per_row: np.array([2.0, 4.0, 8.0]),
...                                             w: np.array([1.0, 0.5, 0.0])}))
2.0
"""
import pytensor.tensor as pt

from ..errors import ShapeError


def masked_mean(items, mask=None, weights=None):
    """The mean of ``items`` over what counts (see the module docstring)."""
    if mask is None and weights is None:
        return items.mean()
    scale = pt.ones_like(items)
    counted = pt.ones_like(items)
    if mask is not None:
        mask = pt.cast(mask, items.dtype)
        if mask.ndim != items.ndim:
            raise ShapeError(f"a time mask of {mask.ndim} dims cannot weigh items of "
                             f"{items.ndim}; masks are (batch, timesteps)")
        scale, counted = scale * mask, counted * mask
    if weights is not None:
        weights = pt.cast(weights, items.dtype)
        if weights.ndim > items.ndim:
            raise ShapeError(f"sample weights of {weights.ndim} dims for a loss of {items.ndim} "
                             "(per sequence); temporal weights need sequence outputs")
        weights = weights.reshape(_broadcast_shape(weights, items), ndim=items.ndim)
        scale = scale * weights
        counted = counted * pt.neq(weights, 0)
    # 0 * inf would be NaN: a padded step's loss never enters the sum
    total = pt.switch(pt.neq(scale, 0), items * scale, 0).sum()
    return total / pt.maximum(counted.sum(), 1)


def _broadcast_shape(weights, items):
    """``weights``' shape padded with 1s to ``items``' rank ([B] -> [B, 1] for [B, T])."""
    return [weights.shape[i] for i in range(weights.ndim)] + [1] * (items.ndim - weights.ndim)
