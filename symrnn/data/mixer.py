"""A batch iterator that mixes several sources at a fixed share per batch.

The lesson trained on batches that were part real data and part
pseudo-labelled data (a model's own predictions on unlabelled inputs), always
in the same proportion. :class:`BatchMixer` does that for any number of
sources: each batch holds exactly ``counts[i]`` rows from source ``i``, where
``counts`` apportions ``batch_size`` by the sources' weights.

Numpy only; this module never imports pytensor.

A source is either

- an ``(x, y)`` pair of arrays with the same first dimension; rows are drawn
  in epoch-style passes: a seeded shuffle of all rows, used in order, every
  row once before any row repeats (a batch may straddle two passes); or
- an iterator (e.g. a generator) of ``(x, y)`` batches of any sizes; its rows
  are buffered and taken in the order they arrive. When it runs dry the
  mixer stops.

How rounding works (largest remainder, also called Hamilton's method): the
exact share of source ``i`` is ``batch_size * w_i / sum(w)``. Each source
first gets the whole part of its share; the rows still missing go, one each,
to the sources with the largest fractional parts, ties to the earlier
source. The arithmetic is done with exact fractions of the float weights, so
the result depends only on the weights and ``batch_size``.

>>> apportion(64, [3, 1])
(48, 16)
>>> apportion(10, [1, 1, 1])
(4, 3, 3)
>>> import numpy as np
>>> real = (np.arange(12).reshape(6, 2), np.arange(6))
>>> pseudo = (100 + np.arange(8).reshape(4, 2), 100 + np.arange(4))
>>> mixer = BatchMixer([real, pseudo], weights=[2, 1], batch_size=3, seed=0)
>>> mixer.counts, mixer.steps_per_epoch
((2, 1), 3)
>>> x, y = next(mixer)
>>> x.shape, int((y < 100).sum()), int((y >= 100).sum())
((3, 2), 2, 1)
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..errors import ConfigError, ShapeError
from .checks import as_numeric, check_finite

__all__ = ["apportion", "BatchMixer", "MixIterator"]


# --------------------------------------------------------------------------
# Apportionment


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ConfigError(f"batch_size must be an int, got {type(batch_size).__name__} {batch_size!r}")
    if batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive number of rows, got {batch_size}")
    return int(batch_size)


def _check_weights(weights) -> list:
    """Exact fractions of the weights; refuse negative, zero, non-finite or all-zero ones."""
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"weights must be numbers, got {weights!r}") from exc
    if not values:
        raise ConfigError("no weights given; pass one weight per source, e.g. weights=[3, 1]")
    for i, w in enumerate(values):
        if not math.isfinite(w):
            raise ConfigError(f"weight of source {i} is {w}; weights must be finite numbers like 3 or 0.25")
        if w < 0:
            raise ConfigError(f"weight of source {i} is negative ({w}); weights are shares, use values >= 0")
    if sum(values) <= 0:
        raise ConfigError(f"weights {values} sum to zero; give at least one source a positive weight")
    zero = [i for i, w in enumerate(values) if w == 0]
    if zero:
        raise ConfigError(f"source(s) {zero} have weight 0 and would never be drawn from; "
                          f"drop them or give them a positive weight")
    return [Fraction(w) for w in values]  # exact: no float rounding in the apportionment


def _largest_remainder(batch_size: int, fractions: list) -> tuple:
    total = sum(fractions)
    quotas = [batch_size * w / total for w in fractions]
    counts = [math.floor(q) for q in quotas]
    missing = batch_size - sum(counts)
    # largest fractional part first; equal parts go to the earlier source
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:missing]:
        counts[i] += 1
    return tuple(counts)


def apportion(batch_size, weights) -> tuple:
    """Split ``batch_size`` rows into whole counts proportional to ``weights``.

    Largest-remainder rounding: whole parts of the exact shares first, then
    one more row for each of the largest fractional parts (ties: earlier
    source). The counts always sum to ``batch_size``, and each differs from
    its exact share by less than one row.

    Parameters
    ----------
    batch_size : int
        Rows per batch, > 0.
    weights : sequence of float
        One positive, finite weight per source; only their ratios matter.

    Returns
    -------
    tuple of int

    Raises
    ------
    ConfigError
        ``batch_size`` <= 0; a weight that is negative, zero or not finite;
        no weights.

    Examples
    --------
    >>> apportion(10, [0.75, 0.25])   # exact shares 7.5 and 2.5: the tie goes to source 0
    (8, 2)
    >>> apportion(7, [1, 2, 4])
    (1, 2, 4)
    """
    return _largest_remainder(_check_batch_size(batch_size), _check_weights(weights))


def smallest_batch_with_row(weights, source: int) -> int:
    """The smallest batch size whose apportionment gives ``source`` at least one row.

    >>> smallest_batch_with_row([99, 1], 1)
    51
    """
    fractions = _check_weights(weights)
    # a batch of ceil(total / w) rows gives a whole share of >= 1, so the search ends
    upper = math.ceil(sum(fractions) / fractions[source])
    for n in range(1, upper + 1):
        if _largest_remainder(n, fractions)[source] >= 1:
            return n
    return upper  # unreachable: the share at `upper` is at least one row


# --------------------------------------------------------------------------
# Sources


def _is_array_pair(source) -> bool:
    return isinstance(source, (tuple, list)) and len(source) == 2 and not hasattr(source, "__next__")


def _numbers(value, what: str, name: str):
    """``value`` as an array of finite numbers, or an error naming the first bad entry."""
    arr = as_numeric(value, f"{what}: {name}")
    check_finite(arr, f"{what}: {name}")
    return arr


def _as_batch(pair, what: str):
    """Check one (x, y) pair: finite numeric arrays with the same, non-zero-dimensional first axis."""
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise ShapeError(f"{what} must be an (x, y) pair, got {type(pair).__name__}")
    x, y = _numbers(pair[0], what, "x"), _numbers(pair[1], what, "y")
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(f"{what}: x and y must be arrays with a first (row) axis, "
                         f"got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise ShapeError(f"{what}: x has {len(x)} rows but y has {len(y)}; "
                         f"each input row needs exactly one target row")
    return x, y


class _ArraySource:
    """Rows of fixed arrays, drawn in seeded shuffled passes."""

    def __init__(self, pair, index: int, rng):
        self.x, self.y = _as_batch(pair, f"source {index}")
        if len(self.x) == 0:
            raise ConfigError(f"source {index} has no rows; remove it or give it data")
        self.rng = rng
        self.order = np.empty(0, dtype=np.intp)
        self.pos = 0

    @property
    def n_rows(self):
        return len(self.x)

    @property
    def example(self):
        return self.x[:1], self.y[:1]

    def take(self, k: int):
        """The next ``k`` rows of the current pass, starting new passes as needed."""
        picked = []
        while k > 0:
            if self.pos == len(self.order):
                self.order, self.pos = self.rng.permutation(self.n_rows), 0
            chunk = self.order[self.pos:self.pos + k]
            picked.append(chunk)
            self.pos += len(chunk)
            k -= len(chunk)
        rows = np.concatenate(picked) if picked else np.empty(0, dtype=np.intp)
        return self.x[rows], self.y[rows]


class _IteratorSource:
    """Rows of an iterator of (x, y) batches, buffered and taken in arrival order."""

    n_rows = None

    def __init__(self, iterator, index: int):
        self.iterator, self.index = iterator, index
        self.xs, self.ys, self.buffered = [], [], 0
        self.example = None  # the first batch's first row: the shape and dtype all rows must have
        # peek at the first batch now, so shape errors surface before training starts
        if not self._pull():
            raise ConfigError(f"source {index} (an iterator) yielded no rows; "
                              f"pass an iterator that yields (x, y) batches")

    def _pull(self) -> bool:
        """Buffer the next non-empty batch; False when the iterator is exhausted."""
        for batch in self.iterator:
            x, y = _as_batch(batch, f"source {self.index}, a batch from its iterator")
            if self.example is None:
                self.example = x[:1], y[:1]
            self._check_like_first(x, y)
            if len(x):
                self.xs.append(x)
                self.ys.append(y)
                self.buffered += len(x)
                return True
        return False

    def _check_like_first(self, x, y):
        # np.concatenate would upcast or fail obscurely; a later batch must match the first
        x0, y0 = self.example
        if x.shape[1:] != x0.shape[1:] or y.shape[1:] != y0.shape[1:] \
                or x.dtype != x0.dtype or y.dtype != y0.dtype:
            raise ShapeError(
                f"source {self.index}: a batch from its iterator changed shape or dtype: rows "
                f"are x {x.shape[1:]} {x.dtype}, y {y.shape[1:]} {y.dtype}; its first batch "
                f"had x {x0.shape[1:]} {x0.dtype}, y {y0.shape[1:]} {y0.dtype}")

    def take(self, k: int):
        """The next ``k`` rows; None if the iterator ran out first."""
        while self.buffered < k:
            if not self._pull():
                return None
        x, y = np.concatenate(self.xs), np.concatenate(self.ys)
        self.xs, self.ys, self.buffered = [x[k:]], [y[k:]], len(x) - k
        return x[:k], y[:k]


def _check_compatible(sources) -> None:
    """Every source must give rows of the same trailing shape and dtype as source 0."""
    x0, y0 = sources[0].example
    for i, source in enumerate(sources[1:], start=1):
        x, y = source.example
        for name, a, b in (("x", x0, x), ("y", y0, y)):
            if a.shape[1:] != b.shape[1:]:
                raise ShapeError(f"source {i} has {name} rows of shape {b.shape[1:]} but source 0 "
                                 f"has {a.shape[1:]}; rows of every source must have the same shape")
            if a.dtype != b.dtype:
                raise ShapeError(f"source {i} has {name} of dtype {b.dtype} but source 0 has "
                                 f"{a.dtype}; cast them to one dtype, e.g. {name}.astype('{a.dtype}')")


# --------------------------------------------------------------------------
# The mixer


class BatchMixer:
    """Batches that mix several ``(x, y)`` sources at exact per-batch shares.

    An infinite iterator (like a Keras generator): every ``next()`` returns
    ``(x_batch, y_batch)`` with ``batch_size`` rows, ``counts[i]`` of them
    from source ``i`` (see :func:`apportion`). With ``shuffle_rows=False``
    the rows come in source order: the first ``counts[0]`` from source 0 and
    so on. Iteration ends only if an iterator source runs dry.

    Parameters
    ----------
    sources : sequence
        Each an ``(x, y)`` pair of arrays (same number of rows) or an
        iterator of ``(x, y)`` batches. The first source is the main one.
    weights : sequence of float, optional
        One positive weight per source (default: equal). ``[3, 1]`` gives
        three quarters of each batch to source 0.
    batch_size : int
        Rows per mixed batch.
    seed : int, optional
        Seeds the row order of array sources and the in-batch shuffle; the
        same seed gives the same batches.
    shuffle_rows : bool
        Shuffle the rows within each batch, so sources are interleaved.
    steps_per_epoch : int, optional
        Batches per epoch. Default: enough batches to show every row of the
        main source once, ``ceil(rows / counts[0])``; required when the main
        source is an iterator (its length is unknown).

    Raises
    ------
    ConfigError
        No sources, an empty source, bad weights, a source whose share
        rounds to zero rows, ``batch_size`` or ``steps_per_epoch`` <= 0.
    ShapeError
        x and y of a source with different row counts, NaN or inf in them, or
        sources whose rows differ in trailing shape or dtype.
    DTypeError
        A source holding something other than numbers (bools, objects, strings).

    Examples
    --------
    >>> import numpy as np
    >>> a = (np.zeros((10, 3)), np.zeros(10, dtype=int))
    >>> b = (np.ones((5, 3)), np.ones(5, dtype=int))
    >>> mixer = BatchMixer([a, b], weights=[0.75, 0.25], batch_size=8, seed=1)
    >>> [int(y.sum()) for _, y in mixer.epoch()]   # 2 of every 8 rows come from b
    [2, 2]
    """

    def __init__(self, sources, weights=None, batch_size=32, seed=None, shuffle_rows=False,
                 steps_per_epoch=None):
        sources = list(sources) if sources is not None else []
        if not sources:
            raise ConfigError("no sources to mix; pass a list of (x, y) pairs or iterators of batches")
        self.batch_size = _check_batch_size(batch_size)
        self.weights = tuple(float(w) for w in _check_weights([1] * len(sources) if weights is None else weights))
        if len(self.weights) != len(sources):
            raise ConfigError(f"{len(sources)} sources but {len(self.weights)} weights; "
                              f"give one weight per source")
        self.counts = apportion(self.batch_size, self.weights)
        self._refuse_empty_shares()
        seeds = np.random.SeedSequence(seed).spawn(len(sources) + 1)
        self._sources = [self._make_source(s, i, np.random.default_rng(seeds[i]))
                         for i, s in enumerate(sources)]
        _check_compatible(self._sources)
        self.steps_per_epoch = self._steps(steps_per_epoch)
        self.shuffle_rows = bool(shuffle_rows)
        self._rng = np.random.default_rng(seeds[-1])  # in-batch shuffles only

    def _refuse_empty_shares(self):
        for i, count in enumerate(self.counts):
            if count == 0:
                smallest = smallest_batch_with_row(self.weights, i)
                raise ConfigError(
                    f"with batch_size={self.batch_size}, source {i}'s weight "
                    f"{self.weights[i]:g} of {sum(self.weights):g} rounds to 0 rows per batch "
                    f"(counts {self.counts}); use batch_size >= {smallest} or a larger weight")

    @staticmethod
    def _make_source(source, index, rng):
        if _is_array_pair(source):
            return _ArraySource(source, index, rng)
        if hasattr(source, "__next__"):
            return _IteratorSource(source, index)
        raise ConfigError(f"source {index} is a {type(source).__name__}; pass an (x, y) pair of "
                          f"arrays or an iterator of (x, y) batches (wrap a list with iter())")

    def _steps(self, steps_per_epoch):
        if steps_per_epoch is not None:
            if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) \
                    or steps_per_epoch <= 0:
                raise ConfigError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
            return int(steps_per_epoch)
        main_rows = self._sources[0].n_rows
        if main_rows is None:
            raise ConfigError("the main source (source 0) is an iterator, so its length is unknown; "
                              "pass steps_per_epoch")
        return math.ceil(main_rows / self.counts[0])

    def __iter__(self):
        return self

    def __next__(self):
        parts = [source.take(k) for source, k in zip(self._sources, self.counts)]
        if any(p is None for p in parts):
            raise StopIteration  # an iterator source ran dry
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        if self.shuffle_rows:
            order = self._rng.permutation(len(x))
            x, y = x[order], y[order]
        return x, y

    def __len__(self):
        return self.steps_per_epoch

    def array_sources(self):
        """The ``(x, y)`` arrays of the sources given as arrays (iterator sources are left
        out): every row a batch can draw from them, for a model to check before training."""
        return [(s.x, s.y) for s in self._sources if isinstance(s, _ArraySource)]

    def epoch(self):
        """Yield the next ``steps_per_epoch`` batches (fewer if an iterator runs dry)."""
        for _ in range(self.steps_per_epoch):
            try:
                yield next(self)
            except StopIteration:
                return

    def __repr__(self):
        return (f"BatchMixer({len(self._sources)} sources, weights={self.weights}, "
                f"batch_size={self.batch_size}, counts={self.counts}, "
                f"steps_per_epoch={self.steps_per_epoch})")


#: The lesson's name for a mixing batch iterator.
MixIterator = BatchMixer
