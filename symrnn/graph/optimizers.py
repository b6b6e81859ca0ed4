"""Optimizer objects: thin wrappers that turn gradients into an updates dict.

Each wraps one rule of :mod:`symrnn.graph.updates`, keeps the learning rate in a
shared variable (so ``optimizer.lr = 1e-4`` after compiling changes the
compiled training function) and applies ``clipnorm`` / ``clipvalue`` to the
gradients first.

>>> import numpy as np, pytensor
>>> from symrnn.graph.backend import compile_function
>>> w = pytensor.shared(np.array(1.0), name="w")
>>> opt = SGD(lr=0.25)
>>> step = compile_function([], (w - 3) ** 2, updates=opt.updates((w - 3) ** 2, [w]), backend="py")
>>> _ = step(); float(w.get_value())
2.0
>>> opt.lr = 0.5; _ = step(); float(w.get_value())
3.0
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ..errors import ConfigError, ShapeError
from . import updates as rules
from .gradients import gradients


class Optimizer:
    """Base: learning rate in a shared variable, gradient clipping, accumulator state."""

    def __init__(self, lr, clipnorm=None, clipvalue=None):
        self._lr_value, self._lr_var = float(lr), None
        self.clipnorm, self.clipvalue = clipnorm, clipvalue
        self.accumulators = []  # shared variables the rule created (momenta, step counts)

    @property
    def lr(self):
        return float(self._lr_var.get_value()) if self._lr_var is not None else self._lr_value

    @lr.setter
    def lr(self, value):
        self._lr_value = float(value)
        if self._lr_var is not None:
            self._lr_var.set_value(np.asarray(value, dtype=self._lr_var.dtype))

    def _lr_shared(self, dtype):
        """Created with the parameters' dtype: a float64 lr would upcast float32 weights."""
        if self._lr_var is None:
            self._lr_var = pytensor.shared(np.asarray(self._lr_value, dtype=dtype), name="lr")
        return self._lr_var

    def updates(self, grads_or_loss, params):
        """``OrderedDict {shared: new_value}`` for ``params`` (and the accumulators)."""
        params = list(params)
        if isinstance(grads_or_loss, Variable):
            grads = gradients(grads_or_loss, params, self.clipnorm, self.clipvalue)
        else:
            grads = self._clip(list(grads_or_loss))
        dtype = params[0].dtype if params else pytensor.config.floatX
        result = self.rule(grads, params, self._lr_shared(dtype))
        # each update in its variable's own dtype: a python-float hyper-parameter can upcast a
        # float32 expression to float64, which pytensor.function refuses for a float32 variable
        result = OrderedDict((v, pt.cast(e, v.dtype)) for v, e in result.items())
        self.accumulators = [v for v in result if not any(v is p for p in params)]
        return result

    def _clip(self, grads):
        if self.clipvalue is not None:
            grads = rules.clip_by_value(grads, self.clipvalue)
        if self.clipnorm is not None:
            grads = rules.clip_by_global_norm(grads, self.clipnorm)
        return grads

    def rule(self, grads, params, lr):
        raise NotImplementedError

    def get_state(self):
        """Accumulator values by name (momenta, Adam's m, v and t), plus lr."""
        return {"lr": np.asarray(self.lr), **{v.name: v.get_value() for v in self.accumulators}}

    def set_state(self, state):
        """Restore :meth:`get_state`; refuses mismatched names or shapes before changing anything."""
        names = {v.name: v for v in self.accumulators}
        missing = sorted(set(names) - set(state))
        if missing:
            raise ShapeError(f"optimizer state lacks {missing}; was it saved from this optimizer "
                             "after compiling the same model?")
        for name, var in names.items():
            if np.shape(state[name]) != var.get_value(borrow=True).shape:
                raise ShapeError(f"optimizer state {name} has shape {np.shape(state[name])}, "
                                 f"needs {var.get_value(borrow=True).shape}")
        for name, var in names.items():
            var.set_value(np.asarray(state[name], dtype=var.dtype))
        if "lr" in state:
            self.lr = float(state["lr"])


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(lr, **kwargs)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def rule(self, grads, params, lr):
        if self.momentum == 0.0 and not self.nesterov:
            return rules.sgd(grads, params, lr)
        return rules.momentum(grads, params, lr, self.momentum, self.nesterov)


class Adam(Optimizer):
    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(lr, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def rule(self, grads, params, lr):
        return rules.adam(grads, params, lr, self.beta_1, self.beta_2, self.epsilon)


class RMSprop(Optimizer):
    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(lr, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def rule(self, grads, params, lr):
        return rules.rmsprop(grads, params, lr, self.rho, self.epsilon)


class Adagrad(Optimizer):
    def __init__(self, lr=0.01, epsilon=1e-7, **kwargs):
        super().__init__(lr, **kwargs)
        self.epsilon = epsilon

    def rule(self, grads, params, lr):
        return rules.adagrad(grads, params, lr, self.epsilon)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get_optimizer(optimizer):
    """An optimizer object from a name ('adam') or the object itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    try:
        return OPTIMIZERS[str(optimizer).lower()]()
    except KeyError:
        raise ConfigError(f"unknown optimizer {optimizer!r}; valid names: "
                          f"{', '.join(sorted(OPTIMIZERS))} (or pass an Optimizer object)") from None
