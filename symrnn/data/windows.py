"""Integer windows for training: inputs and the same ids shifted by one, one-hot rows,
a held-out tail, and the stateful layout.

>>> x, y = windows([1, 2, 3, 4, 5, 6, 7], seq_len=3)
>>> x.tolist(), y.tolist()
([[1, 2, 3]], [[2, 3, 4]])
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, CorpusError, ShapeError
from .vocab import as_id_array

#: The lesson's notebook dropped the last two windows; keep it to match its counts.
LESSON_DROP_LAST = 2


# --------------------------------------------------------------------------
# Windows and one-hot




def _require_count(value, name: str, minimum: int) -> int:
    # bool is an int subclass, but windows(ids, True) is surely a mistake
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def windows(ids, seq_len: int, drop_last: int = 0):
    """Non-overlapping input windows and their targets, shifted by one.

    Windows start every ``seq_len`` ids at ``range(0, len(ids) - 1 - seq_len,
    seq_len)``, the lesson's range (it leaves out a final window that would
    just fit, which keeps the lesson's counts). ``x[i]`` is
    ``ids[s:s+seq_len]`` and ``y[i]`` is ``ids[s+1:s+seq_len+1]``: each target
    is the character after the input at the same position. The last
    ``drop_last`` windows are then dropped (the lesson dropped 2, see
    :data:`LESSON_DROP_LAST`).

    Parameters
    ----------
    ids : array_like of int, shape (L,)
    seq_len : int
        Characters per window, > 0.
    drop_last : int
        Windows to drop from the end, >= 0.

    Returns
    -------
    x, y : np.ndarray of int32, shape (N, seq_len)
        ``N = ceil((L - 1 - seq_len) / seq_len) - drop_last``.

    Raises
    ------
    ConfigError
        ``seq_len`` or ``drop_last`` is not a valid int.
    CorpusError
        Fewer than ``(drop_last + 1) * seq_len + 2`` ids: not one window left.

    Examples
    --------
    >>> x, y = windows(np.arange(10), seq_len=3)
    >>> x
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int32)
    >>> y
    array([[1, 2, 3],
           [4, 5, 6]], dtype=int32)
    """
    seq_len = _require_count(seq_len, "seq_len", 1)
    drop_last = _require_count(drop_last, "drop_last", 0)
    ids = as_id_array(ids, "ids", ndim=1)
    n_windows = count_windows(len(ids), seq_len, drop_last)
    if n_windows < 1:
        raise CorpusError(
            f"corpus of {len(ids)} characters is too short for one window of seq_len="
            f"{seq_len} (with drop_last={drop_last} it needs at least "
            f"{(drop_last + 1) * seq_len + 2}); use a longer corpus or a smaller seq_len"
        )
    # Starts are multiples of seq_len, so the windows tile a prefix: a reshape suffices.
    span = n_windows * seq_len
    x = ids[:span].reshape(n_windows, seq_len)
    y = ids[1 : span + 1].reshape(n_windows, seq_len)
    return x.astype(np.int32), y.astype(np.int32)


def count_windows(n_ids: int, seq_len: int, drop_last: int = 0) -> int:
    """How many windows :func:`windows` returns for ``n_ids`` ids (may be <= 0).

    >>> count_windows(600_901, 8, LESSON_DROP_LAST)
    75110
    """
    n_starts = len(range(0, n_ids - 1 - seq_len, seq_len))
    return n_starts - drop_last


def one_hot(ids, vocab_size: int, dtype="float32") -> np.ndarray:
    """One-hot vectors of ``ids``: shape ``ids.shape + (vocab_size,)``.

    Raises
    ------
    ConfigError
        ``vocab_size`` is not a positive int.
    ShapeError
        ``ids`` are not integers, or fall outside ``[0, vocab_size)``.

    Examples
    --------
    >>> one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    vocab_size = _require_count(vocab_size, "vocab_size", 1)
    ids = as_id_array(ids, "ids")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ShapeError(
            f"ids range over [{ids.min()}, {ids.max()}] but vocab_size is {vocab_size}; "
            f"pass the size of the vocabulary that encoded them (vocab.size)"
        )
    return np.eye(vocab_size, dtype=dtype)[ids]


def split_tail(ids, fraction: float = 0.1):
    """Split off the last ``fraction`` of the ids as a held-out set.

    The tail, not a random sample, is held out, so no held-out window shares
    text with a training window (except at the one boundary).

    Returns
    -------
    train_ids, heldout_ids : np.ndarray
        Views of ``ids``; both non-empty, heldout has
        ``max(1, round(len(ids) * fraction))`` ids (at most ``len(ids) - 1``).

    Examples
    --------
    >>> train, heldout = split_tail(np.arange(10), 0.2)
    >>> train.tolist(), heldout.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    fraction_ok = isinstance(fraction, (float, int)) and not isinstance(fraction, bool)
    if not fraction_ok or not 0 < fraction < 1:
        raise ConfigError(f"fraction must be a number strictly between 0 and 1, got {fraction!r}")
    ids = as_id_array(ids, "ids", ndim=1)
    if len(ids) < 2:
        raise CorpusError(
            f"cannot split {len(ids)} id(s) into a training part and a held-out part; "
            f"use a longer corpus"
        )
    n_heldout = max(1, round(len(ids) * fraction))  # round: 100 * 0.29 is 28.999...
    n_heldout = min(n_heldout, len(ids) - 1)  # keep at least one training id
    cut = len(ids) - n_heldout
    return ids[:cut], ids[cut:]


HELDOUT_FRACTION = 0.1


def train_heldout_windows(ids, seq_len: int, heldout_fraction: float = HELDOUT_FRACTION,
                          sequences: int = 0):
    """Training and held-out windows ``(x, y, heldout_x, heldout_y)`` from the ids.

    The held-out part is the tail of the corpus (:func:`split_tail`);
    ``sequences > 0`` keeps only the first that many training windows.
    Raises a CorpusError when either part is shorter than one window.

    >>> x, y, hx, hy = train_heldout_windows(np.arange(100) % 7, seq_len=5)
    >>> x.shape, hx.shape, bool((y[:, :-1] == x[:, 1:]).all())
    ((17, 5), (1, 5), True)
    """
    train_ids, heldout_ids = split_tail(ids, heldout_fraction)
    x, y = windows(train_ids, seq_len)
    try:
        heldout_x, heldout_y = windows(heldout_ids, seq_len)
    except CorpusError:
        raise CorpusError(f"the held-out tail ({len(heldout_ids)} characters, {heldout_fraction:.0%} "
                          f"of the corpus) is shorter than one window of {seq_len}; use a longer "
                          "corpus or a smaller --seq-len") from None
    if sequences:
        x, y = x[:sequences], y[:sequences]
    return x, y, heldout_x, heldout_y


def stateful_layout(ids, batch_size: int, seq_len: int):
    """Lay a corpus out for stateful training: row i of batch k+1 continues row i of batch k.

    The ids (minus the last, which is only a target) are cut into
    ``batch_size`` contiguous streams, one per batch row; batch k holds the
    k-th ``seq_len`` window of every stream. Ids that do not fill a whole
    window of every stream are dropped from the end of each stream.

    Returns
    -------
    x, y : np.ndarray, shape (n_batches * batch_size, seq_len)
        Ordered batch by batch (rows ``k*B .. k*B + B - 1`` are batch k);
        ``y`` is ``x`` shifted by one character. Feed them with
        ``fit(x, y, batch_size=batch_size, shuffle=False)``.

    Examples
    --------
    >>> x, y = stateful_layout(np.arange(13), batch_size=2, seq_len=3)
    >>> x.tolist()      # stream 0 is 0..5, stream 1 is 6..11
    [[0, 1, 2], [6, 7, 8], [3, 4, 5], [9, 10, 11]]
    >>> y[0].tolist()
    [1, 2, 3]
    """
    ids = as_id_array(ids, "ids", ndim=1)
    batch_size = _require_count(batch_size, "batch_size", 1)
    seq_len = _require_count(seq_len, "seq_len", 1)
    stream_len = (len(ids) - 1) // batch_size
    n_batches = stream_len // seq_len
    if n_batches == 0:
        raise CorpusError(f"{len(ids)} ids cannot fill one batch of {batch_size} rows x {seq_len} "
                          f"steps (+1 target); need at least {batch_size * seq_len + 1}: use a "
                          "longer corpus or a smaller batch_size/seq_len")
    used = n_batches * seq_len
    starts = np.arange(batch_size) * stream_len
    offsets = starts[:, None] + np.arange(used)[None, :]           # [B, used]
    def layout(a):  # [B, n_batches*T] -> [n_batches, B, T] -> [n_batches*B, T]
        return a.reshape(batch_size, n_batches, seq_len).transpose(1, 0, 2).reshape(-1, seq_len)
    return layout(ids[offsets]), layout(ids[offsets + 1])
