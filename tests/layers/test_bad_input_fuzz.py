"""Fuzzing the array checks (issue 17): random shapes, dtypes and values fed to fit and
predict only ever raise symrnn's own errors, are refused exactly when a rule says the
array is bad, and never change a weight, accumulator or RNG state when refused.

One model is compiled for the module (py backend); Hypothesis varies only the arrays.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from state import changed, snapshot

from symrnn.errors import SymrnnError
from symrnn.graph.optimizers import Adam
from symrnn.layers import Dense, Embedding, Sequential, SimpleRNN, TimeDistributed

V, T = 11, 5
DTYPES = ["int8", "int32", "int64", "uint8", "uint64", "float16", "float32", "float64",
          "bool", "object", "str", "complex128"]
VALUES = [0, 1, 5, 10, 11, 12, -1, -7, 2 ** 31, 2 ** 40, -(2 ** 62), 0.5, 2.25, -0.5, 1e39,
          float("nan"), float("inf"), float("-inf")]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def model():
    model = Sequential([Embedding(V, 3, input_length=T, seed=0),
                        SimpleRNN(4, return_sequences=True, dropout=0.2, seed=1),
                        TimeDistributed(Dense(V, activation="softmax", seed=2))])
    model.compile(Adam(), "sparse_categorical_crossentropy", backend="py")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, V, (4, T)), rng.integers(0, V, (4, T)), verbose=0)  # compiled
    return model


def _near_miss(draw):
    """The right shape and a numeric dtype, valid ids with at most one odd value."""
    rows = draw(st.integers(1, 3))
    shape = (rows, T, 1) if draw(st.integers(0, 4)) == 0 else (rows, T)
    values = draw(st.lists(st.integers(0, V - 1), min_size=rows * T, max_size=rows * T))
    if draw(st.booleans()):
        values[draw(st.integers(0, rows * T - 1))] = draw(st.sampled_from(VALUES))
    return shape, values, draw(st.sampled_from(DTYPES[:8]))


def _anything(draw):
    """Any shape of 0 to 3 dims (sizes 0 to 3 and the model's T), any dtype, any values."""
    shape = tuple(draw(st.sampled_from([0, 1, 2, 3, T])) for _ in range(draw(st.integers(0, 3))))
    picks = st.one_of(st.integers(0, V - 1), st.sampled_from(VALUES))
    size = int(np.prod(shape))
    return shape, draw(st.lists(picks, min_size=size, max_size=size)), draw(st.sampled_from(DTYPES))


@st.composite
def arrays(draw):
    shape, values, dtype = _near_miss(draw) if draw(st.booleans()) else _anything(draw)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")        # numpy's overflow warnings while casting
        raw = np.array(values, dtype=object).reshape(shape)
        try:
            return raw.astype(dtype)
        except (OverflowError, ValueError, TypeError):
            return raw                          # an object array of mixed values


def is_valid_ids(arr, rows=None):
    """The rules for an Embedding input or a sparse target of this model, in plain numpy."""
    if arr.dtype.kind not in "iuf":
        return False
    shape = arr.shape[:-1] if arr.ndim == 3 and arr.shape[-1] == 1 else arr.shape
    if len(shape) != 2 or shape[1] != T or shape[0] == 0 or (rows is not None and shape[0] != rows):
        return False
    values = arr.astype(np.float64)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.floor(values))
                and values.min() >= 0 and values.max() < V)


def good_targets(rows):
    return np.random.default_rng(rows).integers(0, V, (max(rows, 1), T))


def call_and_check(model, call, valid):
    event("valid" if valid else "refused")
    before = snapshot(model)
    try:
        call()
    except SymrnnError:
        assert not valid, "a valid array was refused"
        assert changed(before, snapshot(model)) == []
        return
    except Exception as err:     # noqa: BLE001 - anything but symrnn's errors fails the test
        pytest.fail(f"{type(err).__name__} escaped the checks: {err}")
    assert valid, "an invalid array was accepted"


@FUZZ
@given(x=arrays())
def test_fit_on_fuzzed_inputs(model, x):
    rows = x.shape[0] if x.ndim else 1
    call_and_check(model, lambda: model.fit(x, good_targets(rows), batch_size=2, verbose=0),
                   is_valid_ids(x) and rows >= 1)


@FUZZ
@given(y=arrays())
def test_fit_on_fuzzed_targets(model, y):
    rows = y.shape[0] if y.ndim else 1
    x = good_targets(rows)
    call_and_check(model, lambda: model.fit(x, y, batch_size=2, verbose=0),
                   is_valid_ids(y, rows=len(x)))


@FUZZ
@given(x=arrays())
def test_predict_on_fuzzed_inputs(model, x):
    result = {}
    call_and_check(model, lambda: result.setdefault("p", model.predict(x)), is_valid_ids(x))
    if "p" in result:
        assert result["p"].shape == (len(x), T, V) and np.isfinite(result["p"]).all()
