"""Saving and loading arrays + metadata without executing code, atomically.

A file is an ``.npz`` archive of named arrays plus one entry ``__meta__``
holding UTF-8 JSON (as a uint8 array). Loading uses ``allow_pickle=False``, so
a file that smuggles a pickled object is refused instead of run. Writing goes
to a temporary file in the same directory, is fsynced, then ``os.replace``d
over the target: a crash at any moment leaves either the old file or the new
one, never half of one.

>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> save_arrays(path, {"W": np.eye(2)}, {"step": 3})
>>> arrays, meta = load_arrays(path)
>>> arrays["W"].tolist(), meta["step"]
([[1.0, 0.0], [0.0, 1.0]], 3)
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from .errors import CheckpointError

META_KEY = "__meta__"
ZIP_MAGIC = b"PK\x03\x04"  # every npz archive starts with a zip local-file header
PICKLE_MAGIC = b"\x80"      # pickle protocols 2+ start with PROTO (0x80): named as pickles below


def _encode_meta(meta):
    return np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def save_arrays(path, arrays, meta=None):
    """Atomically write ``arrays`` (name -> ndarray) and JSON-able ``meta`` to ``path``."""
    path = os.fspath(path)
    if META_KEY in arrays:
        raise CheckpointError(f"array name {META_KEY!r} is reserved for metadata")
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in payload.items():
        if value.dtype == object:
            raise CheckpointError(f"array {name!r} has dtype object, which would need pickle; "
                                  "convert it to a numeric array first")
    payload[META_KEY] = _encode_meta(meta or {})
    _write_atomically(path, lambda f: np.savez(f, **payload), ".npz")


def save_text(path, text):
    r"""Atomically replace the text file at ``path`` with ``text`` (UTF-8), as
    :func:`save_arrays` does: a crash leaves the old file or the new one.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> save_text(path, "epoch,loss\n0,1.5\n")
    >>> open(path).read().splitlines()
    ['epoch,loss', '0,1.5']
    """
    data = str(text).encode("utf-8")
    _write_atomically(os.fspath(path), lambda f: f.write(data), ".txt")


def save_bytes(path, write, suffix=""):
    """Atomically replace the file at ``path`` with what ``write(binary_file)`` writes
    (e.g. ``figure.savefig``), as :func:`save_arrays` does."""
    _write_atomically(os.fspath(path), write, suffix)


def _write_atomically(path, write, suffix):
    """``write(file)`` into a temporary file beside ``path``, fsync, then rename over it."""
    directory = os.path.dirname(os.path.abspath(path))
    _check_writable(directory)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path):
    """Raise a CheckpointError now if a file could not be written at ``path`` (its
    directory is missing or read-only): callers check before hours of training."""
    _check_writable(os.path.dirname(os.path.abspath(os.fspath(path))))


def _check_writable(directory):
    if not os.path.isdir(directory):
        raise CheckpointError(f"directory {directory!r} does not exist; create it or choose another path")
    if not os.access(directory, os.W_OK):
        raise CheckpointError(f"directory {directory!r} is not writable; choose another run directory")


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open directories; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_arrays(path):
    """Read a file written by :func:`save_arrays`; returns ``(arrays, meta)``.

    Raises :class:`CheckpointError` naming the file and the problem when it is
    missing, truncated, not an npz archive, contains pickled objects, or has
    no readable metadata.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path!r}; check the path or train a model first")
    with open(path, "rb") as f:
        head = f.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC and not head.startswith(PICKLE_MAGIC):
        raise CheckpointError(f"{path!r} is truncated or not a symrnn checkpoint (not an npz archive); "
                              "use an earlier checkpoint or retrain")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as err:  # numpy's message for object arrays under allow_pickle=False
        raise CheckpointError(f"{path!r} contains pickled objects, which symrnn never loads "
                              f"(they could run code): {err}") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
        raise CheckpointError(f"{path!r} is truncated or not a symrnn checkpoint ({err}); "
                              "use an earlier checkpoint or retrain") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"{path!r} has no symrnn metadata; it was not written by symrnn")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path!r} has corrupt metadata ({err}); use an earlier checkpoint") from None
    return arrays, meta


def check_shapes(expected, arrays, path="<arrays>"):
    """Raise if ``arrays`` does not hold exactly the names and shapes of ``expected``."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{path}: parameter names do not match this model "
                              f"(missing {missing}, unexpected {extra}); was it saved from another model?")
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != tuple(shape):
            raise CheckpointError(f"{path}: {name} has shape {tuple(arrays[name].shape)}, "
                                  f"this model needs {tuple(shape)}; build the model with the saved configuration")
