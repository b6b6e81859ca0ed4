"""Update rules: functions returning an ``OrderedDict {shared: new_expr}``.

The dictionary is handed to ``pytensor.function(..., updates=...)``: every call
of the compiled function then applies all of them at once.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> w = pytensor.shared(np.array(1.0), name="w")
>>> loss = (w - 3) ** 2
>>> step = pytensor.function([], loss, updates=sgd(pytensor.grad(loss, [w]), [w], 0.25))
>>> _ = step(); float(w.get_value())
2.0
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt


def sgd(grads, params, lr):
    """Plain gradient descent: ``w <- w - lr * g`` (the lesson's updates dict)."""
    return OrderedDict((p, p - lr * g) for p, g in zip(params, grads))


def _typed(dtype, *values):
    """Python float hyper-parameters as constants of ``dtype``.

    Under floatX=float64 a bare python float is a float64 constant, which
    upcasts float32 expressions and makes the update's type differ from its
    shared variable (pytensor then refuses the updates dict).
    """
    return [np.asarray(v, dtype=dtype) for v in values]


def _zeros_like(p, name):
    value = p.get_value(borrow=True)
    return pytensor.shared(np.zeros(value.shape, dtype=value.dtype), name=f"{p.name}.{name}")


def momentum(grads, params, lr, momentum=0.9, nesterov=False):
    """SGD with (optionally Nesterov) momentum, Keras' formulation."""
    updates = OrderedDict()
    for p, g in zip(params, grads):
        (momentum,) = _typed(p.dtype, momentum)
        v = _zeros_like(p, "velocity")
        v_new = momentum * v - lr * g
        updates[v] = v_new
        updates[p] = p + momentum * v_new - lr * g if nesterov else p + v_new
    return updates


def adam(grads, params, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Adam with bias correction folded into the step size (Keras' form)."""
    updates = OrderedDict()
    dtype = params[0].dtype if params else "float64"
    beta_1, beta_2, epsilon = _typed(dtype, beta_1, beta_2, epsilon)
    t_prev = pytensor.shared(np.asarray(0, dtype=dtype), name="adam.t")
    t = t_prev + 1
    lr_t = lr * pt.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    for p, g in zip(params, grads):
        m, v = _zeros_like(p, "m"), _zeros_like(p, "v")
        m_t = beta_1 * m + (1 - beta_1) * g
        v_t = beta_2 * v + (1 - beta_2) * pt.sqr(g)
        updates[m], updates[v] = m_t, v_t
        updates[p] = p - lr_t * m_t / (pt.sqrt(v_t) + epsilon)
    updates[t_prev] = t
    return updates


def rmsprop(grads, params, lr=0.001, rho=0.9, epsilon=1e-7):
    """Divide the step by a running RMS of recent gradients."""
    updates = OrderedDict()
    for p, g in zip(params, grads):
        rho, epsilon = _typed(p.dtype, rho, epsilon)
        acc = _zeros_like(p, "rms")
        acc_new = rho * acc + (1 - rho) * pt.sqr(g)
        updates[acc] = acc_new
        updates[p] = p - lr * g / (pt.sqrt(acc_new) + epsilon)
    return updates


def adagrad(grads, params, lr=0.01, epsilon=1e-7):
    """Per-weight step sizes shrinking with the sum of squared gradients."""
    updates = OrderedDict()
    for p, g in zip(params, grads):
        (epsilon,) = _typed(p.dtype, epsilon)
        acc = _zeros_like(p, "adagrad")
        acc_new = acc + pt.sqr(g)
        updates[acc] = acc_new
        updates[p] = p - lr * g / (pt.sqrt(acc_new) + epsilon)
    return updates


def global_norm(grads):
    """sqrt of the sum of squares of every gradient entry."""
    return pt.sqrt(sum(pt.sqr(g).sum() for g in grads))


def clip_by_global_norm(grads, max_norm):
    """Rescale all gradients together so their global norm is at most ``max_norm``."""
    norm = global_norm(grads)
    scale = pt.minimum(1.0, max_norm / pt.maximum(norm, 1e-12))
    return [g * pt.cast(scale, g.dtype) for g in grads]


def clip_by_value(grads, limit):
    """Clip every gradient entry to ``[-limit, limit]``."""
    return [pt.clip(g, *_typed(g.dtype, -limit, limit)) for g in grads]
