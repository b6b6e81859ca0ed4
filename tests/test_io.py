"""Checkpoint files: round trip, atomic replace, and refusal of bad files."""
import os
import pickle

import numpy as np
import pytest

from symrnn.errors import CheckpointError
from symrnn.io import check_shapes, load_arrays, save_arrays


def test_round_trip_is_bit_identical(tmp_path):
    arrays = {"W": np.random.default_rng(0).normal(size=(3, 4)).astype("float32"), "ids": np.arange(5)}
    save_arrays(tmp_path / "a.npz", arrays, {"step": 7, "vocab": ["\0", "a", "é"]})
    loaded, meta = load_arrays(tmp_path / "a.npz")
    assert meta == {"step": 7, "vocab": ["\0", "a", "é"]}
    for name, value in arrays.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)


def test_replacing_leaves_no_temporary_files(tmp_path):
    for step in range(3):
        save_arrays(tmp_path / "c.npz", {"W": np.full(2, step)}, {"step": step})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert load_arrays(tmp_path / "c.npz")[1]["step"] == 2


def test_a_failed_write_keeps_the_old_file(tmp_path):
    save_arrays(tmp_path / "c.npz", {"W": np.ones(2)}, {"step": 1})
    with pytest.raises(CheckpointError, match="object"):
        save_arrays(tmp_path / "c.npz", {"W": np.array([{"x": 1}], dtype=object)}, {"step": 2})
    assert load_arrays(tmp_path / "c.npz")[1]["step"] == 1
    assert os.listdir(tmp_path) == ["c.npz"]


@pytest.mark.parametrize("cut", [0, 10, 100, -20])
def test_truncated_file_is_refused(tmp_path, cut):
    save_arrays(tmp_path / "c.npz", {"W": np.ones((20, 20))}, {"step": 1})
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "c.npz").write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(CheckpointError, match="truncated"):
        load_arrays(tmp_path / "c.npz")


def test_pickled_objects_are_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", W=np.array([object()], dtype=object), __meta__=np.zeros(2, np.uint8))
    with pytest.raises(CheckpointError, match="pickled"):
        load_arrays(tmp_path / "evil.npz")
    (tmp_path / "raw.npz").write_bytes(pickle.dumps({"W": 1}))  # a bare pickle posing as npz
    with pytest.raises(CheckpointError, match="pickled"):
        load_arrays(tmp_path / "raw.npz")


def test_missing_file_and_missing_metadata(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_arrays(tmp_path / "nope.npz")
    np.savez(tmp_path / "plain.npz", W=np.ones(2))
    with pytest.raises(CheckpointError, match="metadata"):
        load_arrays(tmp_path / "plain.npz")


def test_unwritable_directory_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        save_arrays(tmp_path / "missing" / "c.npz", {"W": np.ones(1)})


def test_check_shapes_names_the_mismatch():
    with pytest.raises(CheckpointError, match=r"W has shape \(2, 3\), this model needs \(3, 2\)"):
        check_shapes({"W": (3, 2)}, {"W": np.ones((2, 3))})
    with pytest.raises(CheckpointError, match="missing \\['b'\\]"):
        check_shapes({"W": (1,), "b": (1,)}, {"W": np.ones(1)})


def test_random_bytes_are_called_not_a_checkpoint_not_pickles(tmp_path):
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).integers(1, 127, 300, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="not an npz archive"):
        load_arrays(tmp_path / "noise.npz")
