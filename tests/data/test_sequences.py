"""pad_sequences: Keras' semantics, option by option, against hand-written arrays; then errors."""
import numpy as np
import pytest

from symrnn.data import pad_sequences
from symrnn.errors import ConfigError, DTypeError, ShapeError

SEQS = [[1, 2, 3, 4], [5, 6], [], [7]]

# (maxlen, padding, truncating) -> the array Keras returns, written out by hand
EXPECTED = {
    (None, "pre", "pre"): [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 0], [0, 0, 0, 7]],
    (None, "post", "pre"): [[1, 2, 3, 4], [5, 6, 0, 0], [0, 0, 0, 0], [7, 0, 0, 0]],
    (None, "pre", "post"): [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 0], [0, 0, 0, 7]],
    (None, "post", "post"): [[1, 2, 3, 4], [5, 6, 0, 0], [0, 0, 0, 0], [7, 0, 0, 0]],
    (3, "pre", "pre"): [[2, 3, 4], [0, 5, 6], [0, 0, 0], [0, 0, 7]],
    (3, "pre", "post"): [[1, 2, 3], [0, 5, 6], [0, 0, 0], [0, 0, 7]],
    (3, "post", "pre"): [[2, 3, 4], [5, 6, 0], [0, 0, 0], [7, 0, 0]],
    (3, "post", "post"): [[1, 2, 3], [5, 6, 0], [0, 0, 0], [7, 0, 0]],
    (2, "pre", "pre"): [[3, 4], [5, 6], [0, 0], [0, 7]],
    (2, "post", "post"): [[1, 2], [5, 6], [0, 0], [7, 0]],
    (6, "pre", "pre"): [[0, 0, 1, 2, 3, 4], [0, 0, 0, 0, 5, 6], [0] * 6, [0, 0, 0, 0, 0, 7]],
    (6, "post", "post"): [[1, 2, 3, 4, 0, 0], [5, 6, 0, 0, 0, 0], [0] * 6, [7, 0, 0, 0, 0, 0]],
    (1, "pre", "pre"): [[4], [6], [0], [7]],
    (1, "post", "post"): [[1], [5], [0], [7]],
}


@pytest.mark.parametrize("maxlen, padding, truncating", sorted(EXPECTED, key=str))
def test_each_option_combination_matches_keras(maxlen, padding, truncating):
    out = pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.array(EXPECTED[maxlen, padding, truncating]))


def test_value_dtype_and_inputs_of_other_kinds():
    out = pad_sequences([np.array([1, 2]), (3,), range(4, 7)], maxlen=3, value=-1, dtype="int64")
    np.testing.assert_array_equal(out, [[-1, 1, 2], [-1, -1, 3], [4, 5, 6]])
    assert out.dtype == np.int64
    floats = pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", padding="post", value=0.25)
    np.testing.assert_array_equal(floats, np.array([[0.5, 1.5], [2.5, 0.25]], dtype="float32"))
    assert floats.dtype == np.float32
    # the rows of a 2-D array are sequences; whole floats cast to ids
    np.testing.assert_array_equal(pad_sequences(np.array([[1.0, 2.0], [3.0, 4.0]]), maxlen=3),
                                  [[0, 1, 2], [0, 3, 4]])
    # a generator of sequences is read once
    np.testing.assert_array_equal(pad_sequences(([i] * i for i in (1, 2))), [[0, 1], [2, 2]])


def test_steps_may_be_vectors():
    seqs = [[[1, 2], [3, 4], [5, 6]], [], [[7, 8]]]
    out = pad_sequences(seqs, maxlen=2, padding="post", truncating="pre", dtype="float64")
    expected = np.array([[[3, 4], [5, 6]], [[0, 0], [0, 0]], [[7, 8], [0, 0]]], dtype="float64")
    assert out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out, expected)


def test_empty_cases():
    assert pad_sequences([[], []]).shape == (2, 0)                  # longest is 0
    np.testing.assert_array_equal(pad_sequences([[], []], maxlen=2), np.zeros((2, 2)))
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    assert pad_sequences([]).shape == (0, 0)      # Keras: max() of no lengths fails
    assert pad_sequences([[1, 2], [3]], maxlen=0).shape == (2, 0)  # Keras: broadcast error


def test_strings_pad_with_dtype_object_as_in_keras():
    out = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "b"], ["<pad>", "c"]]


def test_the_input_is_not_changed():
    seqs = [np.array([1, 2, 3]), [4]]
    pad_sequences(seqs, maxlen=2)
    np.testing.assert_array_equal(seqs[0], [1, 2, 3])
    assert seqs[1] == [4]


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": "middle"}, "padding must be 'pre'"),
    ({"truncating": "both"}, "truncating must be 'pre'"),
    ({"padding": None}, "padding must be"),
    ({"maxlen": -1}, "maxlen must be >= 0"),
    ({"maxlen": 2.5}, "maxlen must be a whole number"),
    ({"maxlen": True}, "maxlen must be a whole number"),
    ({"dtype": "not-a-dtype"}, "is not a numpy dtype"),
])
def test_bad_options_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        pad_sequences([[1, 2]], **kwargs)


@pytest.mark.parametrize("sequences, message", [
    ([[1, 2], 3], r"sequences\[1\] is int"),
    ([[1, 2], "abc"], r"sequences\[1\] is a string"),
    ([[1], {"a": 1}], r"sequences\[1\] is dict"),
    ([[1], None], r"sequences\[1\] is NoneType"),
    ([np.array([1]), np.array(5)], r"sequences\[1\] is a single value"),
    (5, "sequences must be a list of sequences"),
    ("abc", "sequences must be a list of sequences"),
])
def test_items_that_are_not_sequences_are_dtype_errors(sequences, message):
    with pytest.raises(DTypeError, match=message):
        pad_sequences(sequences)


def test_steps_of_different_shapes_are_shape_errors():
    with pytest.raises(ShapeError, match=r"sequences\[1\] has steps of shape \(3,\) but "
                                         r"sequences\[0\] has steps of shape \(2,\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]], dtype="float32")
    with pytest.raises(ShapeError, match=r"sequences\[1\] has steps of shape \(2,\) but "
                                         r"sequences\[0\] has steps of shape \(\)"):
        pad_sequences([[1, 2], [[1, 2]]])
    with pytest.raises(ShapeError, match=r"sequences\[0\] cannot be read as one array"):
        pad_sequences([[[1, 2], [3]]])


@pytest.mark.parametrize("sequences, kwargs, message", [
    ([[1, 2.5]], {}, r"2\.5 at index \(1,\) does not fit dtype int32"),
    ([[1, 2 ** 40]], {}, r"at index \(1,\) does not fit dtype int32"),
    ([[1, float("nan")]], {}, r"nan at index \(1,\) does not fit dtype int32"),
    ([["a", "b"]], {}, "where int32 numbers are expected; pass numbers, or dtype=object"),
    ([[1, 2]], {"value": 0.5}, "value 0.5 does not fit dtype int32"),
    ([[1, 2]], {"value": "x"}, "pass dtype=object to pad strings"),
    ([[1, 2]], {"value": [0, 0]}, "value must be one number"),
    ([[1, 2]], {"value": 300, "dtype": "uint8"}, "value 300 does not fit dtype uint8"),
])
def test_lossy_casts_are_dtype_errors(sequences, kwargs, message):
    with pytest.raises(DTypeError, match=message):
        pad_sequences(sequences, **kwargs)


def test_only_the_kept_steps_must_fit():
    # a fractional value in the cut part is never cast, so it is not refused
    np.testing.assert_array_equal(pad_sequences([[0.5, 1, 2]], maxlen=2), [[1, 2]])
