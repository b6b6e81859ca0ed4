"""The batch mixer: exact shares per batch, seeded passes, iterator sources, clear errors."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symrnn.data.mixer import (
    BatchMixer,
    MixIterator,
    apportion,
    smallest_batch_with_row,
)
from symrnn.errors import ConfigError, ShapeError


def tagged(n_rows, tag, width=3):
    """An (x, y) source whose y holds ``tag * 1000 + row`` so every row says where it came from."""
    y = tag * 1000 + np.arange(n_rows)
    x = np.repeat(y[:, None], width, axis=1).astype(np.float64)  # [N, width]
    return x, y


def source_of(y):
    return y // 1000


def reference_apportion(batch_size, weights):
    """Independent largest remainder: hand out whole parts, then one seat per largest remainder."""
    total = sum(Fraction(w) for w in weights)
    shares = [Fraction(batch_size) * Fraction(w) / total for w in weights]
    seats = [int(s) for s in shares]  # shares are >= 0, so int() is floor
    remainders = [(s - int(s), -i) for i, s in enumerate(shares)]
    for _, neg_i in sorted(remainders, reverse=True)[:batch_size - sum(seats)]:
        seats[-neg_i] += 1
    return tuple(seats)


# --------------------------------------------------------------------------
# Apportionment


@pytest.mark.parametrize("batch_size, weights, expected", [
    (64, [3, 1], (48, 16)),
    (10, [0.75, 0.25], (8, 2)),          # 7.5 / 2.5: the tie goes to the earlier source
    (10, [0.25, 0.75], (3, 7)),          # 2.5 / 7.5: still the earlier source
    (10, [1, 1, 1], (4, 3, 3)),
    (7, [1, 2, 4], (1, 2, 4)),
    (5, [0.1, 0.2, 0.7], (1, 1, 3)),     # 0.5, 1.0, 3.5: the two .5 remainders win
    (64, [2, 1], (43, 21)),              # 42.67, 21.33
    (3, [1, 1, 1, 1, 10], None),         # checked against the reference below
])
def test_apportion_known_cases(batch_size, weights, expected):
    got = apportion(batch_size, weights)
    assert got == reference_apportion(batch_size, weights)
    if expected is not None:
        assert got == expected
    assert sum(got) == batch_size


def test_apportion_uses_exact_arithmetic():
    # 0.1 + 0.2 != 0.3 in floats; exact fractions of the floats still give a deterministic answer
    assert apportion(10, [0.1, 0.2, 0.7]) == reference_apportion(10, [0.1, 0.2, 0.7])
    assert apportion(6, [1 / 3, 1 / 3, 1 / 3]) == (2, 2, 2)


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=1e-3, max_value=1e3, allow_nan=False), min_size=1, max_size=6),
    batch_size=st.integers(min_value=1, max_value=500),
)
def test_apportion_property(weights, batch_size):
    counts = apportion(batch_size, weights)
    assert sum(counts) == batch_size
    assert counts == reference_apportion(batch_size, weights)
    total = sum(Fraction(w) for w in weights)
    for c, w in zip(counts, weights):
        assert abs(c - batch_size * Fraction(w) / total) < 1  # within one row of the exact share


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=2, max_size=4),
    batch_size=st.integers(min_value=1, max_value=64),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    shuffle=st.booleans(),
)
def test_mixer_counts_property(weights, batch_size, seed, shuffle):
    counts = reference_apportion(batch_size, weights)
    sources = [tagged(7 + 3 * i, i) for i in range(len(weights))]
    if 0 in counts:
        with pytest.raises(ConfigError, match="rounds to 0 rows"):
            BatchMixer(sources, weights, batch_size, seed=seed)
        return
    mixer = BatchMixer(sources, weights, batch_size, seed=seed, shuffle_rows=shuffle)
    assert mixer.counts == counts
    for _ in range(5):
        x, y = next(mixer)
        assert len(x) == len(y) == batch_size
        assert tuple(np.bincount(source_of(y), minlength=len(weights))) == counts


# --------------------------------------------------------------------------
# Batches


@pytest.mark.parametrize("weights, batch_size", [
    ([3, 1], 64), ([3, 1], 8), ([1, 1, 1], 10), ([0.7, 0.2, 0.1], 20), ([5, 2, 2, 1], 13),
])
def test_every_batch_has_the_apportioned_counts(weights, batch_size):
    sources = [tagged(37 + 11 * i, i) for i in range(len(weights))]
    mixer = BatchMixer(sources, weights, batch_size, seed=3)
    expected = apportion(batch_size, weights)
    for x, y in (next(mixer) for _ in range(25)):
        assert tuple(np.bincount(source_of(y), minlength=len(weights))) == expected
        np.testing.assert_array_equal(x[:, 0], y)  # x rows stay paired with their y rows
        # without shuffle_rows the rows come in source order
        assert np.all(np.diff(source_of(y)) >= 0)


def test_shuffle_rows_interleaves_but_keeps_counts_and_pairs():
    mixer = BatchMixer([tagged(50, 0), tagged(50, 1)], [1, 1], batch_size=20, seed=0,
                       shuffle_rows=True)
    x, y = next(mixer)
    assert tuple(np.bincount(source_of(y))) == (10, 10)
    assert np.any(np.diff(source_of(y)) < 0)  # some source-1 row precedes a source-0 row
    np.testing.assert_array_equal(x[:, 0], y)


def test_each_array_row_is_used_once_per_pass():
    main, other = tagged(30, 0), tagged(7, 1)
    mixer = BatchMixer([main, other], [3, 1], batch_size=8, seed=5)  # counts (6, 2)
    seen = {0: [], 1: []}
    for _ in range(5 * 7):  # 35 batches: 210 rows of main (7 passes), 70 of other (10 passes)
        _, y = next(mixer)
        for tag in (0, 1):
            seen[tag].extend((y[source_of(y) == tag] % 1000).tolist())
    for tag, n_rows in ((0, 30), (1, 7)):
        rows = np.array(seen[tag])
        passes = rows.reshape(-1, n_rows)
        for one_pass in passes:
            assert sorted(one_pass) == list(range(n_rows))  # each row exactly once per pass
        assert len({tuple(p) for p in passes}) > 1  # and each pass is a fresh shuffle


def test_same_seed_same_batches_other_seed_other_batches():
    def batches(seed, shuffle):
        mixer = BatchMixer([tagged(40, 0), tagged(9, 1)], [3, 1], batch_size=12, seed=seed,
                           shuffle_rows=shuffle)
        return [next(mixer)[1] for _ in range(10)]

    for shuffle in (False, True):
        a, b, c = batches(11, shuffle), batches(11, shuffle), batches(12, shuffle)
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
        assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_steps_per_epoch_from_main_source_or_given():
    mixer = BatchMixer([tagged(100, 0), tagged(10, 1)], [3, 1], batch_size=16)  # counts (12, 4)
    assert mixer.steps_per_epoch == len(mixer) == 9  # ceil(100 / 12)
    assert len(list(mixer.epoch())) == 9
    given_steps = BatchMixer([tagged(100, 0), tagged(10, 1)], [3, 1], 16, steps_per_epoch=4)
    assert len(list(given_steps.epoch())) == 4


def test_one_epoch_covers_the_main_source():
    mixer = BatchMixer([tagged(48, 0), tagged(10, 1)], [3, 1], batch_size=16, seed=2)
    main_rows = np.concatenate([y[source_of(y) == 0] for _, y in mixer.epoch()])
    assert sorted(main_rows.tolist()) == list(range(48))  # 4 steps x 12 rows


def test_mixer_is_a_python_iterator_for_fit_style_loops():
    mixer = MixIterator([tagged(10, 0)], batch_size=4, seed=0)
    assert MixIterator is BatchMixer
    assert iter(mixer) is mixer
    x, y = next(iter(mixer))
    assert x.shape == (4, 3) and y.shape == (4,)


# --------------------------------------------------------------------------
# Iterator sources


def batches_of(x, y, size):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


def test_iterator_source_rows_in_arrival_order_across_uneven_batches():
    px, py = tagged(23, 1)
    mixer = BatchMixer([tagged(40, 0), batches_of(px, py, 5)], [3, 1], batch_size=8, seed=0)
    pseudo = [y[source_of(y) == 1] for y in (next(mixer)[1] for _ in range(11))]
    assert all(len(p) == 2 for p in pseudo)
    assert (np.concatenate(pseudo) % 1000).tolist() == list(range(22))
    with pytest.raises(StopIteration):  # 1 row left, 2 needed: the iterator has run dry
        next(mixer)


def test_epoch_stops_early_when_an_iterator_runs_dry():
    px, py = tagged(6, 1)
    mixer = BatchMixer([tagged(100, 0), batches_of(px, py, 4)], [1, 1], batch_size=4)
    assert mixer.steps_per_epoch == 50
    assert len(list(mixer.epoch())) == 3


def test_iterator_as_main_source_needs_steps_per_epoch():
    x, y = tagged(20, 0)
    with pytest.raises(ConfigError, match="pass steps_per_epoch"):
        BatchMixer([batches_of(x, y, 4)], batch_size=4)
    mixer = BatchMixer([batches_of(x, y, 3)], batch_size=4, steps_per_epoch=2)
    assert [b[1].tolist() for b in mixer.epoch()] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_iterator_batch_changing_dtype_midway_is_refused():
    def drifting():
        yield np.zeros((4, 3)), np.zeros(4, dtype=np.int64)
        yield np.zeros((4, 3), dtype=np.float32), np.zeros(4, dtype=np.int64)

    mixer = BatchMixer([tagged(20, 0), drifting()], [1, 1], batch_size=8)
    next(mixer)
    with pytest.raises(ShapeError, match="changed shape or dtype"):
        next(mixer)


# --------------------------------------------------------------------------
# Errors, each with what to do next


def test_error_no_sources():
    for empty in ([], None):
        with pytest.raises(ConfigError, match="no sources to mix"):
            BatchMixer(empty)


def test_error_empty_array_source():
    with pytest.raises(ConfigError, match="source 1 has no rows"):
        BatchMixer([tagged(5, 0), (np.zeros((0, 3)), np.zeros(0, dtype=int))])


def test_error_empty_iterator_source():
    with pytest.raises(ConfigError, match=r"source 1 \(an iterator\) yielded no rows"):
        BatchMixer([tagged(5, 0), iter([])], batch_size=4)


def test_error_mismatched_x_y_lengths():
    with pytest.raises(ShapeError, match="x has 5 rows but y has 4"):
        BatchMixer([(np.zeros((5, 3)), np.zeros(4))])


def test_error_mismatched_lengths_in_an_iterator_batch():
    bad = iter([(np.zeros((5, 3)), np.zeros(4, dtype=np.int64))])
    with pytest.raises(ShapeError, match="x has 5 rows but y has 4"):
        BatchMixer([tagged(5, 0), bad])


@pytest.mark.parametrize("weights, message", [
    ([1, -1], "negative"),
    ([0, 0], "sum to zero"),
    ([1, 0], r"source\(s\) \[1\] have weight 0"),
    ([1, float("nan")], "must be finite"),
    ([1, float("inf")], "must be finite"),
    ([1, "a lot"], "weights must be numbers"),
    ([1, 2, 3], "2 sources but 3 weights"),
])
def test_error_bad_weights(weights, message):
    with pytest.raises(ConfigError, match=message):
        BatchMixer([tagged(5, 0), tagged(5, 1)], weights, batch_size=4)


def test_error_share_rounds_to_zero_names_the_batch_size_that_fixes_it():
    weights = [99, 1]
    with pytest.raises(ConfigError, match=r"rounds to 0 rows.*batch_size >= 51"):
        BatchMixer([tagged(5, 0), tagged(5, 1)], weights, batch_size=32)
    assert smallest_batch_with_row(weights, 1) == 51
    assert apportion(50, weights)[1] == 0 and apportion(51, weights)[1] == 1  # 50.5 rounds up
    BatchMixer([tagged(5, 0), tagged(5, 1)], weights, batch_size=51)  # the suggestion works


@pytest.mark.parametrize("second, message", [
    ((np.zeros((5, 4)), np.zeros(5, dtype=np.int64)), r"x rows of shape \(4,\)"),
    ((np.zeros((5, 3), dtype=np.float32), np.zeros(5, dtype=np.int64)), "x of dtype float32"),
    ((np.zeros((5, 3)), np.zeros(5, dtype=np.int32)), r"y of dtype int32.*astype\('int64'\)"),
    ((np.zeros((5, 3)), np.zeros((5, 2), dtype=np.int64)), r"y rows of shape \(2,\)"),
])
def test_error_sources_that_do_not_match(second, message):
    with pytest.raises(ShapeError, match=message):
        BatchMixer([tagged(5, 0), second], batch_size=4)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_error_bad_batch_size(batch_size):
    with pytest.raises(ConfigError, match="batch_size must be"):
        BatchMixer([tagged(5, 0)], batch_size=batch_size)


@pytest.mark.parametrize("steps", [0, -1, 1.5])
def test_error_bad_steps_per_epoch(steps):
    with pytest.raises(ConfigError, match="steps_per_epoch must be a positive int"):
        BatchMixer([tagged(5, 0)], batch_size=2, steps_per_epoch=steps)


def test_error_source_that_is_neither_pair_nor_iterator():
    with pytest.raises(ConfigError, match="wrap a list with iter"):
        BatchMixer([tagged(5, 0), [tagged(2, 1), tagged(2, 1), tagged(2, 1)]], batch_size=4)


def test_errors_derive_from_value_error():
    with pytest.raises(ValueError):
        apportion(0, [1])


# --------------------------------------------------------------------------
# House rules


def test_mixer_never_imports_pytensor():
    code = "import sys, symrnn.data.mixer; print('pytensor' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
