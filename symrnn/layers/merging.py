"""Layers that merge a list of tensors into one: Keras 2's ``Concatenate``, ``Multiply``,
``Average``, ``Maximum`` (``Add`` is in :mod:`.core`) and Keras 1's functional ``merge``.

A merge layer is called on a list of at least two tensors (functional API,
:func:`symrnn.layers.Input`). Their shapes are checked when it is called, so
a mismatch is a :class:`~symrnn.errors.ShapeError` naming every input's shape
before any model is built: the element-wise merges need one shape, and
``Concatenate`` needs the shapes to agree except along its axis. A size of
``None`` (unknown until the data arrives) agrees with any size. The merges
have no weights; their output dtype is what the inputs' operation gives
(PyTensor's upcast), unless ``dtype=`` asks for a cast first.

>>> import numpy as np
>>> from symrnn.layers import Input, Model
>>> a, b = Input((2,), dtype="float64"), Input((3,), dtype="float64")
>>> joined = merge([a, b], mode="concat")          # Keras 1; Concatenate()([a, b]) in Keras 2
>>> joined.shape
(None, 5)
>>> model = Model([a, b], joined)
>>> model.predict([np.ones((1, 2)), np.zeros((1, 3))], backend="py").tolist()
[[1.0, 1.0, 0.0, 0.0, 0.0]]
>>> Multiply(name="product")([a, b])
Traceback (most recent call last):
...
symrnn.errors.ShapeError: product: Multiply needs inputs of one shape ... (axis 1 differs: 2 vs 3); ...
"""
import numpy as np
import pytensor.tensor as pt

from ..errors import ConfigError, ShapeError
from .base import KTensor, Layer, as_list
from .core import Add


def _merged_dim(dims):
    """The one known size among ``dims`` (None if none is known), or False if two differ."""
    known = {d for d in dims if d is not None}
    if len(known) > 1:
        return False
    return known.pop() if known else None


class _Merge(Layer):
    """Common part of the merge layers: a list of >= 2 inputs, checked shapes, no weights."""

    # time masks pass on: a step is real where it is real in every masked input (Keras)
    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cast_to = self.dtype   # a dtype given by the caller; None: the operation's own

    # -- checks, before anything is recorded or built ---------------------------------
    def _check_count(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            got = (f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple))
                   else type(inputs).__name__)
            raise ConfigError(f"{self.name}: {type(self).__name__} merges a list of at least 2 "
                              f"tensors, got {got}; call it as {type(self).__name__}()([a, b])")

    def _shape_error(self, shapes, what, axis, dims):
        return ShapeError(f"{self.name}: {type(self).__name__} needs {what} (None = any size), "
                          f"got shapes {[tuple(s) for s in shapes]} (axis {axis} differs: "
                          f"{' vs '.join(str(d) for d in dims)}); make the inputs agree, e.g. "
                          "with a Dense layer or a different number of units")

    def _check_ranks(self, shapes, what):
        ranks = [len(s) for s in shapes]
        if len(set(ranks)) != 1:
            raise ShapeError(f"{self.name}: {type(self).__name__} needs {what}, got shapes "
                             f"{[tuple(s) for s in shapes]} with {ranks} axes; give every "
                             "input the same number of axes")

    def _record(self, inputs, kwargs):
        self._check_count(inputs)
        tensors = list(inputs)
        if not all(isinstance(t, KTensor) for t in tensors):
            raise ConfigError(f"{self.name}: mix of Input tensors and other values; "
                              "call a layer on Input()/layer outputs only")
        if kwargs:
            raise ConfigError(f"{self.name}: {type(self).__name__} takes no call arguments "
                              f"besides its list of inputs, got {sorted(kwargs)}")
        self.compute_output_shape([t.shape for t in tensors])    # raises on a mismatch
        # the dtype the operation gives these inputs, as the KTensor it records says
        probes = [pt.tensor(dtype=t.dtype, shape=(None,) * t.ndim) for t in tensors]
        self._recorded_dtype = self._merge(self._cast(probes)).dtype
        return super()._record(tensors, kwargs)

    def compute_output_dtype(self, input_dtype):
        return getattr(self, "_recorded_dtype", None) or self.dtype

    # -- the operation ------------------------------------------------------------
    def _cast(self, inputs):
        return [pt.cast(x, self._cast_to) if self._cast_to else x for x in inputs]

    def _merge(self, inputs):
        raise NotImplementedError

    def call(self, inputs, training=False):
        self._check_count(inputs)
        return self._merge(self._cast(list(inputs)))

    def compute_output_shape(self, input_shape):
        self._check_count(input_shape)
        what = "inputs of one shape"
        self._check_ranks(input_shape, what)
        out = []
        for axis, dims in enumerate(zip(*input_shape)):
            dim = _merged_dim(dims)
            if dim is False:
                raise self._shape_error(input_shape, what, axis, dims)
            out.append(dim)
        return tuple(out)

    def get_config(self):
        # the dtype asked for, not the one the first call settled on: a reloaded layer casts
        # exactly when the saved one did
        return {**super().get_config(), "dtype": self._cast_to}


class Concatenate(_Merge):
    """Join a list of tensors along ``axis`` (default the last, the features).

    Keras 2's ``Concatenate(axis=-1)``, Keras 1's ``merge(mode='concat',
    concat_axis=...)``. The inputs need the same number of axes and the same
    sizes on every axis but ``axis``; the output's size there is their sum.
    ``axis`` counts from the end when negative; the batch axis (0) cannot be
    joined.

    >>> from symrnn.layers import Input
    >>> a, b = Input((4, 3)), Input((4, 5))
    >>> Concatenate()([a, b]).shape, Concatenate(axis=1)([a, a]).shape
    ((None, 4, 8), (None, 8, 3))
    """

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ConfigError(f"Concatenate axis must be an int (e.g. -1, the last axis), got "
                              f"{type(axis).__name__} {axis!r}")
        super().__init__(**kwargs)
        self.axis = int(axis)

    def output_masked(self, inputs_masked, kwargs):
        # called after compute_output_shape, which resolved the axis for these inputs
        if any(inputs_masked) and getattr(self, "_joins_time", False):
            raise ConfigError(f"{self.name}: Concatenate along the time axis cannot join masked "
                              "sequences; concatenate features (axis=-1), or drop the mask")
        return super().output_masked(inputs_masked, kwargs)

    def _axis_for(self, ndim, shapes=None):
        """``self.axis`` as a non-negative index into ``ndim`` axes; a ShapeError if it is not
        one of them or is the batch axis."""
        if not -ndim <= self.axis < ndim:
            got = f"inputs of shapes {[tuple(s) for s in shapes]}" if shapes else f"{ndim}-D inputs"
            raise ShapeError(f"{self.name}: Concatenate axis {self.axis} is outside the axes of "
                             f"{got} (valid: {-ndim + 1} to {ndim - 1}, batch axis excluded)")
        axis = self.axis % ndim
        if axis == 0:
            raise ShapeError(f"{self.name}: Concatenate axis {self.axis} is the batch axis; "
                             f"samples cannot be joined, pick an axis from 1 to {ndim - 1} "
                             "(or -1, the last)")
        return axis

    def _merge(self, inputs):
        return pt.concatenate(inputs, axis=self._axis_for(inputs[0].ndim))

    def compute_output_shape(self, input_shape):
        self._check_count(input_shape)
        what = f"the inputs' shapes equal except along axis {self.axis}"
        self._check_ranks(input_shape, what)
        axis = self._axis_for(len(input_shape[0]), input_shape)
        self._joins_time = axis == 1 and len(input_shape[0]) >= 3   # (batch, time, ...) inputs
        out = []
        for i, dims in enumerate(zip(*input_shape)):
            if i == axis:
                out.append(None if None in dims else int(sum(dims)))
                continue
            dim = _merged_dim(dims)
            if dim is False:
                raise self._shape_error(input_shape, what, i, dims)
            out.append(dim)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Multiply(_Merge):
    """Element-wise product of a list of same-shaped tensors (Keras 1's mode 'mul').

    >>> import numpy as np, pytensor.tensor as pt
    >>> a, b = pt.dvector("a"), pt.dvector("b")
    >>> Multiply()([a, b]).eval({a: [1.0, 2.0], b: [3.0, 4.0]}).tolist()
    [3.0, 8.0]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Element-wise mean of a list of same-shaped tensors (Keras 1's mode 'ave').

    >>> import numpy as np, pytensor.tensor as pt
    >>> a, b = pt.dvector("a"), pt.dvector("b")
    >>> Average()([a, b]).eval({a: [1.0, 2.0], b: [3.0, 5.0]}).tolist()
    [2.0, 3.5]
    """

    def _merge(self, inputs):
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        count = len(inputs)
        if total.dtype.startswith("float"):   # divide in the inputs' float dtype
            count = np.asarray(count, dtype=total.dtype)
        return total / count


class Maximum(_Merge):
    """Element-wise maximum of a list of same-shaped tensors (Keras 1's mode 'max').

    >>> import numpy as np, pytensor.tensor as pt
    >>> a, b = pt.dvector("a"), pt.dvector("b")
    >>> Maximum()([a, b]).eval({a: [1.0, 6.0], b: [3.0, 4.0]}).tolist()
    [3.0, 6.0]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = pt.maximum(out, x)
        return out


#: Keras 1's ``merge`` modes and the layer each one makes.
MERGE_MODES = {"sum": Add, "mul": Multiply, "concat": Concatenate, "ave": Average, "max": Maximum}


def merge(inputs, mode="sum", concat_axis=-1, name=None):
    """Keras 1's functional ``merge([a, b], mode=...)``: the merged tensor.

    ``mode`` is 'sum' (:class:`~symrnn.layers.Add`), 'mul' (:class:`Multiply`),
    'concat' (:class:`Concatenate` along ``concat_axis``), 'ave'
    (:class:`Average`) or 'max' (:class:`Maximum`); the layer is named ``name``.
    ``concat_axis`` is ignored by the other modes, as in Keras 1.
    Keras 1's 'cos' and 'dot' modes and callables are not supported.

    >>> from symrnn.layers import Input
    >>> a, b = Input((3,)), Input((3,))
    >>> merge([a, b], mode="ave").shape, merge([a, b], mode="concat").shape
    ((None, 3), (None, 6))
    >>> merge([a, b], mode="cos")
    Traceback (most recent call last):
    ...
    symrnn.errors.ConfigError: merge mode 'cos' is not supported; use one of 'sum', 'mul', ...
    """
    if not isinstance(mode, str) or mode not in MERGE_MODES:
        raise ConfigError(f"merge mode {mode!r} is not supported; use one of "
                          f"{', '.join(repr(m) for m in MERGE_MODES)} (Keras 1's 'cos', 'dot' "
                          "and callable modes are not)")
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        got = (f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple))
               else type(inputs).__name__)
        raise ConfigError(f"merge needs a list of at least 2 tensors, got {got}; "
                          "call it as merge([a, b], mode=...)")
    layer = (Concatenate(axis=concat_axis, name=name) if mode == "concat"
             else MERGE_MODES[mode](name=name))
    return layer(list(inputs))
