"""Bidirectional: a recurrent layer run forwards and, with its own weights, backwards.

The backward copy is the same layer class and configuration with
``go_backwards`` flipped. Its sequence comes out in processing order (last
step first), so it is reversed in time again before the two are merged,
which lines step t of both directions up.

>>> import pytensor.tensor as pt
>>> from symrnn.layers import LSTM
>>> bi = Bidirectional(LSTM(3, return_sequences=True), merge_mode="concat")
>>> _ = bi(pt.tensor3("x"), input_shape=(None, 5, 2))
>>> bi.count_params(), bi.compute_output_shape((None, 5, 2))  # 2 * 4 * (2*3 + 3*3 + 3)
(144, (None, 5, 6))
"""
import pytensor.tensor as pt

from ..errors import ConfigError
from .base import Layer
from .recurrent import Recurrent

MERGE_MODES = ("concat", "sum")


def _backward_copy(layer):
    config = {**layer.get_config(), "name": f"{layer.name}_backward",
              "go_backwards": not layer.go_backwards, "seed": None}  # its own initial weights
    config.pop("batch_input_shape", None)
    return type(layer)(**config)


class Bidirectional(Layer):
    """``merge(forward(x), reverse_time(backward(x)))`` with ``merge_mode`` 'concat' or 'sum'.

    The forward layer is the one given; the backward one is a copy of its
    configuration with its own weights. Parameters: twice the layer's. A time mask
    reaches both: each reads a row's real steps (the backward one in reverse, whether
    the row is padded before or after them) and carries its state through the padding.
    """

    takes_mask = True

    def __init__(self, layer, merge_mode="concat", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Recurrent):
            raise ConfigError(f"Bidirectional wraps a recurrent layer (SimpleRNN, GRU, LSTM), "
                              f"got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        if layer.return_state:
            raise ConfigError("Bidirectional does not return states; "
                              "build the layer with return_state=False")
        self.forward, self.backward = layer, _backward_copy(layer)
        self.merge_mode = merge_mode

    @property
    def layer(self):
        return self.forward

    @property
    def stateful(self):
        return self.forward.stateful

    def reset_states(self):
        self.forward.reset_states()
        self.backward.reset_states()

    def build(self, input_shape):
        for layer in (self.forward, self.backward):
            layer.maybe_build(input_shape, self.dtype)
        self._params = self.forward._params + self.backward._params
        self._trainable_flags = self.forward._trainable_flags + self.backward._trainable_flags

    @property
    def trainable_params(self):
        if not self.trainable:
            return []
        return self.forward.trainable_params + self.backward.trainable_params

    def call(self, x, training=False, mask=None):
        y_fwd = self.forward.apply(x, training, self._updates, mask=mask)
        y_bwd = self.backward.apply(x, training, self._updates, mask=mask)
        if self.forward.return_sequences:
            y_bwd = y_bwd[:, ::-1]                  # processing order -> time order
        if self.merge_mode == "sum":
            return y_fwd + y_bwd
        return pt.concatenate([y_fwd, y_bwd], axis=-1)

    def output_masked(self, inputs_masked, kwargs):
        return self.forward.output_masked(inputs_masked, kwargs)

    def compute_mask(self, inputs, mask):
        return self.forward.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        shape = self.forward.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (2 * shape[-1],)
        return shape

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward).__name__,
                          "config": self.forward.get_config()}}
