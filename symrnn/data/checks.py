"""Array checks shared by every entry point that takes data (numpy only).

Each check raises one of symrnn's own errors naming the array (``label``),
the problem, the first offending value with its index, and what to do; it
returns nothing and changes nothing, so callers run all of them before any
state changes. :mod:`symrnn.layers.validation` builds the layer API's
per-model checks from these; the batch mixer and the raw lesson models use
them directly.

>>> import numpy as np
>>> check_ids(np.array([[3, -1]]), 4, "x", "the rows of the embedding")
Traceback (most recent call last):
...
symrnn.errors.ShapeError: x: id -1 at index (0, 1) is outside [0, 4), the rows of the embedding
>>> as_numeric([True, False], "y")
Traceback (most recent call last):
...
symrnn.errors.DTypeError: y has dtype bool where numbers are expected; cast with ...
"""
import numpy as np

from ..errors import DTypeError, ShapeError

_KIND_NAMES = {"b": "bool", "O": "object", "U": "strings", "S": "bytes", "V": "structured records",
               "c": "complex numbers", "M": "datetimes", "m": "timedeltas"}


def first_index(mask):
    """The index tuple of the first True in ``mask``, e.g. ``(0, 2)``."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _value(arr, where):
    value = arr[where]
    return value.item() if hasattr(value, "item") else value


def as_numeric(data, label):
    """``data`` as an ndarray of ints or floats, or a DTypeError / ShapeError saying what it is."""
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as err:   # ragged nested lists, unconvertible objects
        raise ShapeError(f"{label} cannot be read as one array ({err}); pass a numpy array "
                         "whose rows all have the same shape") from None
    kind = arr.dtype.kind
    if kind not in "iuf":
        what = _KIND_NAMES.get(kind, str(arr.dtype))
        named = str(arr.dtype) if what == str(arr.dtype) else f"{arr.dtype} ({what})"
        fix = ("cast with .astype(int) for ids or .astype('float32') for features"
               if kind == "b" else "pass numbers: integer ids or float features")
        raise DTypeError(f"{label} has dtype {named} where numbers are expected; {fix}")
    return arr


def check_finite(arr, label):
    """No NaN or inf."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = first_index(~np.isfinite(arr))
        raise ShapeError(f"{label}: {_value(arr, where)} at index {where}; needs finite "
                         "numbers: remove or replace NaN and inf first")


def check_whole(arr, label):
    """Whole numbers only (ids given as floats must not be truncated)."""
    if arr.dtype.kind == "f":
        fractional = arr != np.floor(arr)
        if fractional.any():
            where = first_index(fractional)
            raise DTypeError(f"{label}: {_value(arr, where)} at index {where} is not a whole "
                             "number, so it cannot be an id; pass integer ids (a float id "
                             "would be truncated)")


def check_ids(arr, high, label, what):
    """Every value in ``[0, high)``; ``what`` ends the message (what the ids index, what to do)."""
    if arr.size and (arr.min() < 0 or arr.max() >= high):
        where = first_index((arr < 0) | (arr >= high))
        raise ShapeError(f"{label}: id {_value(arr, where)} at index {where} is outside "
                         f"[0, {high}), {what}")


def check_fits(arr, dtype, label):
    """Refuse values that a cast to the integer ``dtype`` would wrap around."""
    info = np.iinfo(dtype)
    # floats compare in float64 against the exclusive upper bound, which float64 holds
    # exactly (2**63 for int64; info.max itself would round up to it)
    values = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    too_big = (values >= float(info.max) + 1) if arr.dtype.kind == "f" else (values > info.max)
    if arr.size and (values.min() < info.min or too_big.any()):
        where = first_index((values < info.min) | too_big)
        raise DTypeError(f"{label}: {_value(arr, where)} at index {where} does not fit "
                         f"{np.dtype(dtype)} [{info.min}, {info.max}]; the cast would change it")


def check_non_negative(arr, label, why):
    if arr.size and arr.min() < 0:
        where = first_index(arr < 0)
        raise ShapeError(f"{label}: {_value(arr, where)} at index {where} is negative; {why}")


def check_one_hot(arr, label):
    """Rows of zeros with a single one (over the last axis)."""
    not_binary = (arr != 0) & (arr != 1)
    if not_binary.any():
        where = first_index(not_binary)
        raise ShapeError(f"{label}: {_value(arr, where)} at index {where} is not 0 or 1; "
                         "it must be one-hot rows: encode ids with np.eye(vocab_size)[ids]")
    ones = (arr == 1).sum(axis=-1)
    if (ones != 1).any():
        row = first_index(ones != 1)
        raise ShapeError(f"{label}: row {row} has {int(ones[row])} ones; one-hot rows have "
                         "exactly one: encode ids with np.eye(vocab_size)[ids]")
