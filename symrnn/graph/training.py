"""Gradients, update dictionaries and compiled functions.

The layers and the application compile through here (``pytensor.grad`` and
``pytensor.function`` with the chosen backend's mode); the raw lesson models
in :mod:`symrnn.lesson` call the same two functions by hand, as the lesson
did, and the recurrence Op derives its gradient Op with ``pytensor.grad``.
"""
from collections import OrderedDict

import pytensor

from . import jax_backend
from . import updates as update_rules
from .backend import get_mode, require_backend


def compile_function(inputs, outputs, updates=None, backend=None, **kwargs):
    """``pytensor.function`` with the chosen backend's mode (see :mod:`symrnn.graph.backend`);
    for ``jax``, compiled once per set of input shapes (:mod:`symrnn.graph.jax_backend`)."""
    backend = require_backend(backend)
    if backend == "jax":
        return jax_backend.StaticShapeFunction(inputs, outputs, updates, get_mode("jax"), **kwargs)
    fn = pytensor.function(inputs, outputs, updates=updates, mode=get_mode(backend), **kwargs)
    return jax_backend.host_values(fn)   # reads weights a JAX function left on its device


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


def train_function(inputs, loss, params, update_rule, outputs=None, backend=None,
                   clipnorm=None, clipvalue=None, extra_updates=None, **kwargs):
    """Compile ``inputs -> outputs`` (default: the loss) that also applies the updates."""
    updates = training_updates(loss, params, update_rule, clipnorm, clipvalue, extra_updates)
    return compile_function(inputs, loss if outputs is None else outputs,
                            updates=updates, backend=backend, **kwargs)
