"""Gradients and update dictionaries: ``pytensor.grad``, optional clipping, an update rule.

Below the optimizers and the compiled functions (it compiles nothing), so an
optimizer object builds its updates without reaching a backend.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> w = pytensor.shared(np.array([1.0, -2.0]), name="w")
>>> [g] = gradients((w ** 2).sum(), [w], clipvalue=1.0)
>>> g.eval().tolist()                              # 2w = [2, -4], clipped to [-1, 1]
[1.0, -1.0]
"""
from collections import OrderedDict

import pytensor

from . import updates as update_rules


def gradients(loss, params, clipnorm=None, clipvalue=None):
    """Symbolic gradients of a scalar loss, optionally clipped."""
    grads = pytensor.grad(loss, params)
    if clipvalue is not None:
        grads = update_rules.clip_by_value(grads, clipvalue)
    if clipnorm is not None:
        grads = update_rules.clip_by_global_norm(grads, clipnorm)
    return grads


def training_updates(loss, params, update_rule, clipnorm=None, clipvalue=None, extra_updates=None):
    """Gradients -> update rule -> one ``OrderedDict`` (plus e.g. batchnorm statistics)."""
    grads = gradients(loss, params, clipnorm, clipvalue)
    updates = OrderedDict(update_rule(grads, params))
    updates.update(extra_updates or {})
    return updates
