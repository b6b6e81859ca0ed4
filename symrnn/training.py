"""Gradients, update dictionaries and compiled functions.

This is the only place (with the raw lesson module, which shows it by hand)
that calls ``pytensor.grad`` and ``pytensor.function``; layers and models
compile through it.
"""
from collections import OrderedDict

import pytensor

from . import updates as update_rules
from .backend import check_backend, get_mode


def compile_function(inputs, outputs, updates=None, backend=None, **kwargs):
    """``pytensor.function`` with the chosen backend's mode (``auto``: see :mod:`symrnn.tiering`)."""
    if check_backend(backend) == "auto":
        from .tiering import compile_tiered
        return compile_tiered(inputs, outputs, updates=updates, **kwargs)
    return pytensor.function(inputs, outputs, updates=updates, mode=get_mode(backend), **kwargs)


def gradients(loss, params, clipnorm=None, clipvalue=None):
    """Symbolic gradients of a scalar loss, optionally clipped."""
    grads = pytensor.grad(loss, params)
    if clipvalue is not None:
        grads = update_rules.clip_by_value(grads, clipvalue)
    if clipnorm is not None:
        grads = update_rules.clip_by_global_norm(grads, clipnorm)
    return grads


def clip_gradient(x, bound):
    """``x`` unchanged forward; its gradient clipped to ``[-bound, bound]`` backward
    (e.g. on ``h_tm1`` inside a recurrent step, to tame exploding messages)."""
    return pytensor.gradient.grad_clip(x, -bound, bound)


def training_updates(loss, params, update_rule, clipnorm=None, clipvalue=None, extra_updates=None):
    """Gradients -> update rule -> one ``OrderedDict`` (plus e.g. batchnorm statistics)."""
    grads = gradients(loss, params, clipnorm, clipvalue)
    updates = OrderedDict(update_rule(grads, params))
    updates.update(extra_updates or {})
    return updates


def train_function(inputs, loss, params, update_rule, outputs=None, backend=None,
                   clipnorm=None, clipvalue=None, extra_updates=None, **kwargs):
    """Compile ``inputs -> outputs`` (default: the loss) that also applies the updates."""
    updates = training_updates(loss, params, update_rule, clipnorm, clipvalue, extra_updates)
    return compile_function(inputs, loss if outputs is None else outputs,
                            updates=updates, backend=backend, **kwargs)
