"""Layers that behave differently in training and inference: Dropout, BatchNormalization.

Their state (an RNG, moving statistics) lives in shared variables whose next
values go into the updates dictionary of the training function, so nothing
changes between calls except through that dictionary.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from ..errors import ConfigError
from .base import Layer
from .core import _rate


class Dropout(Layer):
    """Zero each input with probability ``rate`` in training (scaled by 1/keep); identity in inference.

    The mask comes from an explicit shared ``np.random.Generator``; its next
    state is an update, so each training call draws a new mask while a
    function compiled without updates draws the same one every time.
    """

    supports_masking = True

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "Dropout rate")
        self.rng_var = pytensor.shared(np.random.default_rng(self.seed), name=f"{self.name}.rng")

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        next_rng, mask = pt.random.bernoulli(keep, size=x.shape, rng=self.latest(self.rng_var),
                                             return_next_rng=True)
        self.add_update(self.rng_var, next_rng)
        return x * pt.cast(mask, x.dtype) / np.asarray(keep, dtype=x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class BatchNormalization(Layer):
    """Normalise over every axis but the last with batch statistics in training,
    with moving statistics in inference. A time mask passes on (the statistics include
    padded steps, as Keras' do).

    ``moving_mean``/``moving_var`` are non-trainable parameters updated as
    ``m <- momentum * m + (1 - momentum) * batch_stat`` (the biased batch
    variance) through the updates dictionary.
    """

    supports_masking = True

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = _rate(momentum, "BatchNormalization momentum")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)) \
                or not 0 < epsilon < np.inf:
            raise ConfigError(f"BatchNormalization epsilon must be a number > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        n = (input_shape[-1],)
        self.gamma = self.add_weight("gamma", n, "ones")
        self.beta = self.add_weight("beta", n, "zeros")
        self.moving_mean = self.add_weight("moving_mean", n, "zeros", trainable=False)
        self.moving_var = self.add_weight("moving_var", n, "ones", trainable=False)

    def call(self, x, training=False):
        if training:
            axes = tuple(range(x.ndim - 1))
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            self._track(self.moving_mean, mean)
            self._track(self.moving_var, var)
        else:
            mean, var = self.moving_mean, self.moving_var
        return self.gamma * (x - mean) / pt.sqrt(var + self.epsilon) + self.beta

    def _track(self, moving, batch_stat):
        old = self.latest(moving)
        self.add_update(moving, self.momentum * old + (1.0 - self.momentum) * batch_stat)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
