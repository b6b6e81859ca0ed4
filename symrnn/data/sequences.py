"""Variable-length sequences to one padded array: Keras' ``pad_sequences``.

Keras' IMDB example (``examples/imdb_lstm.py``) reads reviews as lists of
word ids of different lengths and pads (or cuts) them all to ``maxlen``
before an ``Embedding``:

>>> pad_sequences([[1, 2, 3], [4, 5], []], maxlen=4)
array([[0, 1, 2, 3],
       [0, 0, 4, 5],
       [0, 0, 0, 0]], dtype=int32)
>>> pad_sequences([[1, 2, 3], [4, 5]], maxlen=2, padding="post", truncating="post")
array([[1, 2],
       [4, 5]], dtype=int32)
"""
from collections.abc import Mapping, Set

import numpy as np

from ..errors import ConfigError, DTypeError, ShapeError

PADDING_SIDES = ("pre", "post")


def _check_side(name, value):
    if not isinstance(value, str) or value not in PADDING_SIDES:
        raise ConfigError(f"{name} must be 'pre' (at the start of each sequence) or 'post' "
                          f"(at the end), got {value!r}")


def _check_maxlen(maxlen):
    if maxlen is None:
        return None
    # bool is an int subclass, but maxlen=True is surely a mistake
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
        raise ConfigError(f"maxlen must be a whole number of steps (or None for the longest "
                          f"sequence), got {type(maxlen).__name__} {maxlen!r}")
    if maxlen < 0:
        raise ConfigError(f"maxlen must be >= 0 (or None for the longest sequence), got {maxlen}")
    return int(maxlen)


def _check_dtype(dtype):
    try:
        return np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype {dtype!r} is not a numpy dtype; use e.g. 'int32' for ids, "
                          "'float32' for features or object for strings") from None


def _is_text(dtype):
    return dtype.kind in "OUS"


def _as_item(item, index):
    """One sequence as an array whose first axis is its steps; a DTypeError or ShapeError
    naming the item otherwise."""
    if isinstance(item, (str, bytes)) or isinstance(item, (Mapping, Set)) \
            or not hasattr(item, "__len__"):
        what = "a string" if isinstance(item, (str, bytes)) else type(item).__name__
        raise DTypeError(f"sequences[{index}] is {what} ({item!r:.40}), not a sequence of "
                         "values; pass a list of lists (or arrays), one per sample, e.g. "
                         "[[1, 2, 3], [4, 5]]")
    try:
        arr = np.asarray(item)
    except (ValueError, TypeError) as err:   # ragged steps: [[1, 2], [3]]
        raise ShapeError(f"sequences[{index}] cannot be read as one array of steps ({err}); "
                         "every step of a sequence needs the same shape") from None
    if arr.ndim == 0:
        raise DTypeError(f"sequences[{index}] is a single value ({item!r:.40}), not a sequence "
                         "of values; pass a list of lists (or arrays), one per sample")
    return arr


def _cast(arr, dtype, index):
    """``arr`` in ``dtype``; a DTypeError if the cast would change a value (a fractional id
    truncated, an id too big for the dtype, text where numbers are expected)."""
    if _is_text(dtype):
        return arr.astype(dtype)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"sequences[{index}] holds {arr.dtype} values where {dtype} numbers "
                         "are expected; pass numbers, or dtype=object to pad strings")
    with np.errstate(invalid="ignore", over="ignore"):
        cast = arr.astype(dtype)
    if dtype.kind in "biu" and arr.dtype != dtype:
        changed = ~(cast == arr)     # numpy compares the values, not their dtypes; NaN != NaN
        if changed.any():
            where = tuple(int(i) for i in np.argwhere(changed)[0])
            raise DTypeError(f"sequences[{index}]: {arr[where].item()!r} at index {where} does "
                             f"not fit dtype {dtype}, so the cast would change it; pass whole "
                             "numbers in range, or a float dtype (e.g. dtype='float32') for "
                             "features")
    return cast


def _check_value(value, dtype):
    if _is_text(dtype):
        return
    if isinstance(value, (str, bytes)):
        raise DTypeError(f"value {value!r} is text but dtype is {dtype}; pass dtype=object "
                         "to pad strings (Keras does the same)")
    try:
        as_array = np.asarray(value)
    except (ValueError, TypeError):
        as_array = np.asarray(None)
    if as_array.ndim != 0 or as_array.dtype.kind not in "biuf":
        raise DTypeError(f"value must be one number (what padded steps hold), got {value!r}")
    if dtype.kind in "biu":
        with np.errstate(invalid="ignore", over="ignore"):
            fits = np.isfinite(as_array) and as_array.astype(dtype) == as_array
        if not fits:
            raise DTypeError(f"value {value!r} does not fit dtype {dtype} (padding would hold "
                             f"a different number); pass a whole number in range, or a float "
                             "dtype such as 'float32'")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.):
    """Sequences of different lengths as one array ``[len(sequences), maxlen, ...]``.

    Keras' ``keras.preprocessing.sequence.pad_sequences``: a sequence longer
    than ``maxlen`` loses steps at its start (``truncating='pre'``) or its end
    (``'post'``); a shorter one gets ``value`` steps before it
    (``padding='pre'``) or after it (``'post'``). An empty sequence becomes a
    row of padding. Each step may itself be an array (e.g. feature vectors):
    every non-empty sequence's steps need the shape of the first one's, which
    becomes the trailing shape of the result.

    Parameters
    ----------
    sequences : list of sequences
        One list (or array) of steps per sample; the rows of a 2-D array work too.
    maxlen : int or None
        Steps per padded row; None (default) is the longest sequence's length.
        ``maxlen=0`` gives an empty ``[n, 0]`` array.
    dtype : str or numpy dtype
        The result's dtype (default ``'int32'``, ids for an ``Embedding``);
        ``object`` pads strings, as in Keras.
    padding, truncating : {'pre', 'post'}
        Where padding goes, and which end of a long sequence is cut.
    value : number
        What padded steps hold (default 0, Keras' padding id).

    Returns
    -------
    np.ndarray, shape ``(len(sequences), maxlen) + step shape``

    Raises
    ------
    ConfigError
        ``padding`` or ``truncating`` other than 'pre'/'post', a negative or
        non-integer ``maxlen``, an unknown ``dtype``.
    DTypeError
        ``sequences`` or one of its items is not a sequence (a number, a string,
        a dict), values that a cast to ``dtype`` would change (fractional ids,
        ids out of range, text for a numeric dtype), or a ``value`` that
        ``dtype`` cannot hold. Keras truncated these silently.
    ShapeError
        Sequences whose steps have different shapes.

    Examples
    --------
    >>> pad_sequences([[1, 2, 3], [4]], padding="post")
    array([[1, 2, 3],
           [4, 0, 0]], dtype=int32)
    >>> pad_sequences([[1, 2, 3, 4], [5]], maxlen=3, value=-1)
    array([[ 2,  3,  4],
           [-1, -1,  5]], dtype=int32)
    >>> pad_sequences([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]], dtype="float32").shape
    (2, 2, 2)
    >>> pad_sequences([[1, 2]], padding="middle")
    Traceback (most recent call last):
    ...
    symrnn.errors.ConfigError: padding must be 'pre' ... or 'post' (at the end), got 'middle'
    """
    # every argument is checked before anything is built
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    maxlen = _check_maxlen(maxlen)
    dtype = _check_dtype(dtype)
    _check_value(value, dtype)
    if isinstance(sequences, (str, bytes, Mapping, Set)) or not hasattr(sequences, "__iter__") \
            or (isinstance(sequences, np.ndarray) and sequences.ndim == 0):
        raise DTypeError(f"sequences must be a list of sequences, one per sample (e.g. "
                         f"[[1, 2, 3], [4, 5]]), got {type(sequences).__name__}")
    items = [_as_item(s, i) for i, s in enumerate(sequences)]

    step_shape, first = (), None
    for i, arr in enumerate(items):
        if len(arr) == 0:
            continue    # an empty sequence is all padding, whatever its trailing shape
        if first is None:
            step_shape, first = arr.shape[1:], i
        elif arr.shape[1:] != step_shape:
            raise ShapeError(f"sequences[{i}] has steps of shape {arr.shape[1:]} but "
                             f"sequences[{first}] has steps of shape {step_shape}; every "
                             "step of every sequence needs one shape")
    if maxlen is None:
        maxlen = max((len(arr) for arr in items), default=0)

    kept = []
    for i, arr in enumerate(items):
        if len(arr) == 0 or maxlen == 0:
            kept.append(None)
            continue
        part = arr[-maxlen:] if truncating == "pre" else arr[:maxlen]
        kept.append(_cast(part, dtype, i))

    out = np.full((len(items), maxlen) + step_shape, value, dtype=dtype)
    for i, part in enumerate(kept):
        if part is None:
            continue
        if padding == "pre":
            out[i, maxlen - len(part):] = part
        else:
            out[i, :len(part)] = part
    return out
