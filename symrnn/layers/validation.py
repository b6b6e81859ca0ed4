"""Checking arrays before a model runs on them: once per call, before any state changes.

Numba kernels do not always check bounds, so an id outside an Embedding's
rows would read (or, in a gradient, write) memory it should not, and an id of
``-1`` silently selects the last row. Every array a model is given is checked
here first; a refusal raises one of symrnn's own errors that names the array,
the problem, where it is (the index of the first offending value) and what to
do, and nothing (weights, optimizer accumulators, RNG states, carried
states, the model's history) has changed.

What is refused:

- anything that is not one numeric array: ragged lists, dtype object,
  strings, bools, complex numbers (:class:`~symrnn.errors.DTypeError`);
- the wrong number of arrays, shapes that do not match the model's, empty
  arrays, inputs and targets with different numbers of rows
  (:class:`~symrnn.errors.ShapeError`);
- NaN and inf (:class:`~symrnn.errors.ShapeError`);
- casts that would lose information: ids with fractional parts, integers that
  do not fit the model's integer dtype, finite floats that overflow its float
  dtype (:class:`~symrnn.errors.DTypeError`);
- ids outside ``[0, input_dim)`` for an Embedding fed by a model input, class
  ids outside ``[0, classes)`` for a sparse target, negative probabilities
  for a one-hot target (:class:`~symrnn.errors.ShapeError`).

>>> import numpy as np
>>> spec = ArraySpec("x", shape=(None, 3), dtype="int32", ids_below=5, ids_of="the rows of e")
>>> check_array(np.array([[0, 4, 2]]), spec).dtype
dtype('int32')
>>> check_array(np.array([[0, 1, 5]]), spec)
Traceback (most recent call last):
...
symrnn.errors.ShapeError: x: id 5 at index (0, 2) is outside [0, 5), the rows of e
>>> check_array(np.array([[0.0, 1.5, 2.0]]), spec)
Traceback (most recent call last):
...
symrnn.errors.DTypeError: x: 1.5 at index (0, 1) is not a whole number, so it cannot be an id; ...
"""
from dataclasses import dataclass

import numpy as np

from ..data.checks import (
    as_numeric,
    check_finite,
    check_fits,
    check_ids,
    check_non_negative,
    check_whole,
    first_index,
)
from ..errors import DTypeError, ShapeError
from .core import Embedding

__all__ = ["ArraySpec", "as_numeric", "check_array", "check_arrays", "check_rows",
           "input_specs", "target_specs"]


@dataclass(frozen=True)
class ArraySpec:
    """What one array fed to a compiled function must be.

    Attributes
    ----------
    label : str
        How messages name the array (``"x"``, ``"y[1] (output dense_2)"``).
    shape : tuple
        The shape the function needs; ``None`` is any size (the batch dim is None).
    dtype : str
        The function's dtype; the array is cast to it after the checks.
    ids_below : int, optional
        The values are ids in ``[0, ids_below)`` (an Embedding's rows, a sparse
        target's classes); they must also be whole numbers.
    ids_of : str
        What the ids index and what to do, ending the message for an id out of range.
    non_negative : bool
        The values are probabilities (one-hot targets): no negative entries.
    """

    label: str
    shape: tuple
    dtype: str
    ids_below: int = None
    ids_of: str = ""
    non_negative: bool = False

    @property
    def integral(self):
        return self.ids_below is not None or np.dtype(self.dtype).kind in "iu"


def _target_shape(arr, spec):
    """The shape ``arr`` takes for ``spec``: (N,) for an Input((1,)) gains its axis, Keras'
    sparse (N, T, 1) targets lose theirs; a ShapeError if it still does not match."""
    shape, want = arr.shape, tuple(spec.shape)
    if len(shape) == len(want) - 1 and want[-1] == 1:
        shape = shape + (1,)
    elif len(shape) == len(want) + 1 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != len(want) or any(w is not None and w != d for w, d in zip(want, shape)):
        raise ShapeError(f"{spec.label}: expected shape {want} (None = any size), got {arr.shape}; "
                         f"each sample needs shape {want[1:]}, as the model was built")
    if arr.size == 0:
        raise ShapeError(f"{spec.label} is empty (shape {arr.shape}); pass at least one "
                         "sample with at least one value")
    return shape


def check_array(data, spec):
    """``data`` checked against ``spec`` and cast to ``spec.dtype`` (C-contiguous).

    The checks read the values as given (an index names the caller's own
    array); only then is the array reshaped and cast.
    """
    arr = as_numeric(data, spec.label)
    shape = _target_shape(arr, spec)
    check_finite(arr, spec.label)
    if spec.integral:
        check_whole(arr, spec.label)
    if spec.ids_below is not None:
        check_ids(arr, spec.ids_below, spec.label, spec.ids_of)
    if spec.non_negative:
        check_non_negative(arr, spec.label, "targets of this loss are probabilities (one-hot "
                           "rows); for class ids use loss='sparse_categorical_crossentropy'")
    dtype = np.dtype(spec.dtype)
    if dtype.kind in "iu":
        check_fits(arr, dtype, spec.label)
    with np.errstate(over="ignore"):       # an overflow is refused just below
        cast = np.ascontiguousarray(arr.reshape(shape), dtype=dtype)
    if dtype.kind == "f" and not np.isfinite(cast).all():    # e.g. 1e39 -> inf in float32
        where = first_index(~np.isfinite(cast))
        raise DTypeError(f"{spec.label}: {arr.reshape(shape)[where]} at index {where} "
                         f"overflows {dtype}; scale the data down")
    return cast


def _split_arrays(data, count):
    """``data`` as a list of ``count`` array-likes: a list or tuple holds one per input,
    except that a one-input model also takes its rows as nested lists (Keras does too)."""
    if not isinstance(data, (list, tuple)):
        return [data]
    if count == 1 and not (len(data) > 0 and all(isinstance(a, np.ndarray) for a in data)):
        return [data]
    return list(data)


def check_arrays(data, specs, what):
    """A list of checked arrays, one per spec; ``data`` is one array or a list of them."""
    arrays = _split_arrays(data, len(specs))
    if len(arrays) != len(specs):
        raise ShapeError(f"the model has {len(specs)} {what}(s), got {len(arrays)} array(s); "
                         f"pass {'one array' if len(specs) == 1 else f'a list of {len(specs)} arrays'}")
    return [check_array(a, s) for a, s in zip(arrays, specs)]


def check_rows(arrays, labels):
    """The common number of rows (samples) of ``arrays``; a ShapeError if they differ."""
    rows = [len(a) for a in arrays]
    if len(set(rows)) != 1:
        listed = ", ".join(f"{label}: {n}" for label, n in zip(labels, rows))
        raise ShapeError(f"inputs and targets need the same number of samples (rows), got "
                         f"{listed}; give every input row its target row")
    return rows[0]


# -- what a model needs ---------------------------------------------------------
def _embedding_bounds(model):
    """``{id(model input): (input_dim, layer name)}`` for every Embedding a model input feeds
    directly (the smallest input_dim when several share one input)."""
    bounds = {}
    for node in model.nodes:
        if isinstance(node.layer, Embedding) and node.inputs:
            key = id(node.inputs[0])
            if key not in bounds or node.layer.input_dim < bounds[key][0]:
                bounds[key] = (node.layer.input_dim, node.layer.name)
    return bounds


def _label(kind, i, count, name):
    return kind if count == 1 else f"{kind}[{i}] ({'input' if kind == 'x' else 'output'} {name})"


def input_specs(model):
    """One :class:`ArraySpec` per model input (ids for an Embedding-fed input)."""
    bounds, count, specs = _embedding_bounds(model), len(model.inputs), []
    for i, t in enumerate(model.inputs):
        dim, layer = bounds.get(id(t), (None, ""))
        ids_of = (f"the rows of Embedding {layer} (input_dim={dim}); encode with the model's "
                  f"own vocabulary, ids 0..{dim and dim - 1}")
        specs.append(ArraySpec(_label("x", i, count, t.name), (None,) + tuple(t.shape[1:]), t.dtype,
                               ids_below=dim, ids_of=ids_of))
    return specs


def target_specs(model, sparse_flags, loss_names):
    """One :class:`ArraySpec` per output: class ids for a sparse loss, else the output's
    own shape (non-negative probabilities for categorical cross-entropy)."""
    count, specs = len(model.outputs), []
    for i, (t, sparse, loss, name) in enumerate(zip(model.outputs, sparse_flags, loss_names,
                                                    model.output_names)):
        label = _label("y", i, count, name)
        if sparse:
            classes = t.shape[-1]      # None (unknown width): whole numbers, no range
            ids_of = (f"the classes of output {name} ({classes} units); targets for "
                      f"{loss} are class ids 0..{classes and classes - 1}")
            specs.append(ArraySpec(label, (None,) + tuple(t.shape[1:-1]), "int64",
                                   ids_below=classes, ids_of=ids_of))
        else:
            specs.append(ArraySpec(label, (None,) + tuple(t.shape[1:]), t.dtype,
                                   non_negative=loss == "categorical_crossentropy"))
    return specs
