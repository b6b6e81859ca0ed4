"""Feed-forward layers: Dense, Activation, Flatten, Embedding, OneHot, TimeDistributed, Add.

>>> import numpy as np, pytensor.tensor as pt
>>> from symrnn.graph.backend import compile_function
>>> emb = Embedding(5, 2, name="e")
>>> ids = pt.lmatrix("ids")
>>> out = emb(ids, input_shape=(None, 3))
>>> compile_function([ids], out, backend="py")(np.array([[0, 4, 4]])).shape
(1, 3, 2)
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from ..errors import ConfigError, ShapeError
from ..graph.cells import activation as get_activation
from ..graph.params import initialiser
from ..graph.projection import MAX_TABLE_ROWS
from ..graph.shapes import leading_axes_swapped, sizes
from .base import Layer, as_list


def _positive_whole(value, what):
    """``value`` as an int >= 1, or a ConfigError naming ``what``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < 1:
        raise ConfigError(f"{what} must be a whole number >= 1, got {value!r}")
    return int(value)


def _rate(value, what):
    """A dropout fraction in [0, 1), or a ConfigError naming ``what``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{what} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def _name_of(fn_or_name):
    return fn_or_name if isinstance(fn_or_name, str) or fn_or_name is None else fn_or_name.__name__


class Dense(Layer):
    """``activation(x . W + b)`` over the last axis (works on (B, F) and (B, T, F)).

    ``init`` is the Keras 1 name of ``kernel_initializer``; 'normal' is the
    lesson's normal(sqrt(2 / rows)), 'identity' needs ``units == input dim``.
    On a sequence (B, T, F) it passes the time mask on.
    """

    supports_masking = True

    def __init__(self, units, activation=None, init=None, kernel_initializer="glorot_uniform",
                 bias=True, use_bias=None, input_dim=None, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_dim,))
        super().__init__(**kwargs)
        self.units = _positive_whole(units, "Dense units")
        self.activation = _name_of(activation)
        self.act = get_activation(activation)
        self.init = init or kernel_initializer
        initialiser(self.init)   # an unknown name is refused now, not at the first call
        self.use_bias = bias if use_bias is None else use_bias

    def build(self, input_shape):
        self.W = self.add_weight("W", (input_shape[-1], self.units), self.init)
        self.b = self.add_weight("b", (self.units,), "zeros") if self.use_bias else None

    def call(self, x, training=False):
        z = pt.dot(x, self.W)
        return self.act(z + self.b if self.use_bias else z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "init": self.init if isinstance(self.init, str) else None, "bias": self.use_bias}


class Activation(Layer):
    """Apply an activation by name (relu, tanh, sigmoid, softmax, linear)."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation, self.act = _name_of(activation), get_activation(activation)

    def call(self, x, training=False):
        return self.act(x)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class Flatten(Layer):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...)."""

    def call(self, x, training=False):
        return x.reshape((x.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            raise ShapeError(f"{self.name}: Flatten needs every non-batch dim known, got {input_shape}; "
                             "give the previous layer an input_length")
        return (input_shape[0], int(np.prod(rest)))


class Embedding(Layer):
    """Integer ids -> rows of a (input_dim, output_dim) matrix: ``W[ids]``.

    Equivalent to ``one_hot(ids) . W`` without building the one-hot matrix.
    ``mask_zero=True`` makes id 0 padding: the output carries a time mask
    (``ids != 0``) that recurrent layers and the loss read, so ``input_dim``
    counts the padding id too (Keras). ``dropout`` (Keras 1) drops whole words of
    the vocabulary in training: each batch zeroes a random ``dropout`` fraction of
    the rows of ``W`` (every occurrence of those words) and scales the others by
    ``1 / (1 - dropout)``.

    >>> import numpy as np, pytensor.tensor as pt
    >>> emb = Embedding(5, 2, mask_zero=True)
    >>> ids = pt.lmatrix("ids")
    >>> _ = emb(ids, input_shape=(None, 3))
    >>> emb.compute_mask(ids, None).eval({ids: np.array([[0, 0, 4]])}).tolist()
    [[False, False, True]]
    """

    input_dtype = "int32"

    def __init__(self, input_dim, output_dim, input_length=None, init="uniform",
                 embeddings_initializer=None, mask_zero=False, dropout=0.0, **kwargs):
        kwargs.setdefault("input_shape", (input_length,))
        super().__init__(**kwargs)
        self.input_dim = _positive_whole(input_dim, "Embedding input_dim (the vocabulary size)")
        self.output_dim = _positive_whole(output_dim, "Embedding output_dim")
        if input_length is not None:
            _positive_whole(input_length, "Embedding input_length")
        self.input_length = input_length
        self.init = embeddings_initializer or init
        initialiser(self.init)
        self.mask_zero = bool(mask_zero)
        self.dropout = _rate(dropout, "Embedding dropout")
        if self.dropout:
            self.rng_var = pytensor.shared(np.random.default_rng(self.seed), name=f"{self.name}.rng")

    def build(self, input_shape):
        self.W = self.add_weight("W", (self.input_dim, self.output_dim), self.init)

    def call(self, ids, training=False):
        ids = pt.cast(ids, "int64")
        rows = self.W[ids]
        if training and self.dropout:
            # one draw per word of the vocabulary, read at the ids: the rows of W a batch
            # uses are scaled, not all input_dim of them
            keep = 1.0 - self.dropout
            next_rng, kept = pt.random.bernoulli(keep, size=(self.input_dim,),
                                                 rng=self.latest(self.rng_var), return_next_rng=True)
            self.add_update(self.rng_var, next_rng)
            scale = pt.cast(kept, rows.dtype) / np.asarray(keep, dtype=rows.dtype)
            rows = rows * scale[ids][..., None]
        return rows

    def output_masked(self, inputs_masked, kwargs):
        return self.mask_zero

    def compute_mask(self, inputs, mask):
        return pt.neq(inputs, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_output_dtype(self, input_dtype):
        return self.dtype

    def get_config(self):
        config = super().get_config()
        batch_shape = config.pop("batch_input_shape", None)  # input_length says the rest
        if batch_shape and batch_shape[0] is not None:
            config["batch_size"] = batch_shape[0]
        return {**config, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "input_length": self.input_length,
                "init": self.init if isinstance(self.init, str) else None,
                "mask_zero": self.mask_zero, "dropout": self.dropout}


class Masking(Layer):
    """Mark as padding every step whose features all equal ``mask_value`` (Keras'
    ``Masking``): the output carries the time mask ``any(x != mask_value, axis=-1)``
    and has those steps zeroed.

    >>> import numpy as np, pytensor.tensor as pt
    >>> x = pt.tensor3("x")
    >>> layer = Masking(0.0)
    >>> _ = layer(x, input_shape=(None, 3, 2))
    >>> layer.compute_mask(x, None).eval({x: np.array([[[0., 0.], [1., 0.], [0., 0.]]])}).tolist()
    [[False, True, False]]
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        if not np.isfinite(self.mask_value):
            raise ConfigError(f"Masking mask_value must be a finite number, got {mask_value!r}")

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"{self.name}: Masking needs (batch, timesteps, features), got "
                             f"{input_shape}")

    def _real(self, x):
        return pt.any(pt.neq(x, np.asarray(self.mask_value, dtype=x.dtype)), axis=-1)

    def call(self, x, training=False):
        return x * pt.cast(self._real(x), x.dtype)[:, :, None]

    def output_masked(self, inputs_masked, kwargs):
        return True

    def compute_mask(self, inputs, mask):
        real = self._real(inputs)
        return real if mask is None else real & mask

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class OneHot(Layer):
    """Integer ids -> one-hot rows of length ``input_dim`` (no weights).

    The lesson fed its raw RNN one-hot characters; this layer lets a model
    take ids (``[B, T]``, as the data step makes them) and still give the next
    layer those rows, so a ``SimpleRNN`` after it owns the lesson's ``W_x``.

    >>> import numpy as np, pytensor.tensor as pt
    >>> from symrnn.graph.backend import compile_function
    >>> ids = pt.lmatrix("ids")
    >>> rows = OneHot(3, dtype="float64")(ids, input_shape=(None, 2))
    >>> compile_function([ids], rows, backend="py")(np.array([[2, 0]])).tolist()
    [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]
    """

    input_dtype = "int32"

    def __init__(self, input_dim, input_length=None, **kwargs):
        kwargs.setdefault("input_shape", (input_length,))
        super().__init__(**kwargs)
        self.input_dim = _positive_whole(input_dim, "OneHot input_dim")
        self.input_length = input_length

    def call(self, ids, training=False):
        ids = pt.cast(ids, "int64")
        if self.input_dim > MAX_TABLE_ROWS:   # no V x V constant: compare with a range
            return pt.eq(ids[..., None], pt.arange(self.input_dim)).astype(self.dtype)
        # rows of the identity: a lookup, so a recurrent layer after it projects the
        # table once (symrnn.graph.projection) instead of multiplying every one-hot row
        return pt.constant(np.eye(self.input_dim, dtype=self.dtype))[ids]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.input_dim,)

    def get_config(self):
        config = super().get_config()
        batch_shape = config.pop("batch_input_shape", None)  # input_length says the rest
        if batch_shape and batch_shape[0] is not None:
            config["batch_size"] = batch_shape[0]
        return {**config, "input_dim": self.input_dim, "input_length": self.input_length}


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step of (B, T, ...) by folding T into the batch.

    One (B*T, ...) call instead of a loop over T; the wrapped layer's weights
    are shared by all steps and keep the wrapped layer's names. The time mask passes on.
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ConfigError(f"TimeDistributed wraps a layer (e.g. Dense(86)), got "
                              f"{type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        self.layer.maybe_build((None,) + tuple(input_shape[2:]), self.dtype)
        self._params = self.layer._params
        self._trainable_flags = self.layer._trainable_flags

    @property
    def trainable_params(self):
        return self.layer.trainable_params if self.trainable else []

    def call(self, x, training=False):
        # A recurrent layer's sequence is its time-major states with the two leading axes
        # swapped: folded as it is, that view is copied. Fold the time-major states
        # instead (no copy, and the gradient comes back time-major) and swap the wrapped
        # layer's output, for a per-step layer the same values.
        time_major = leading_axes_swapped(x)
        if time_major is None:
            return self._apply_folded(x, training)
        y = self._apply_folded(time_major, training)
        return y.dimshuffle(1, 0, *range(2, y.ndim))

    def _apply_folded(self, x, training):
        # static sizes where known (sizes): JAX needs the target shapes as concrete numbers
        folded = x.reshape(sizes([-1] + [x.shape[i] for i in range(2, x.ndim)],
                                 (None,) + x.type.shape[2:]))
        y = self.layer.apply(folded, training, self._updates)
        return y.reshape(sizes([x.shape[0], x.shape[1]] + [y.shape[i] for i in range(1, y.ndim)],
                               x.type.shape[:2] + y.type.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}


class Add(Layer):
    """Element-wise sum of a list of same-shaped inputs (the lesson's merge 'sum')."""

    supports_masking = True   # a step is real where it is real in every masked input

    def call(self, inputs, training=False):
        inputs = as_list(inputs)
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total

    def compute_output_shape(self, input_shape):
        shapes = {tuple(s[1:]) for s in input_shape}
        if len(shapes) != 1:
            raise ShapeError(f"{self.name}: Add needs inputs of one shape, got {input_shape}")
        return tuple(input_shape[0])

