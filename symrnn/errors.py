"""Exceptions with messages that say what went wrong and what to do next.

Every error symrnn raises on purpose is a :class:`SymrnnError`; the subclasses
also derive from the builtin a caller would expect (``ValueError`` for bad
values, ``FileNotFoundError`` for a missing file), so ``except ValueError``
keeps working.
"""
import math


class SymrnnError(Exception):
    """Base class of every error symrnn raises on purpose."""


class CorpusError(SymrnnError, ValueError):
    """A corpus cannot be read, decoded, or is too small for the request."""


class CorpusNotFound(SymrnnError, FileNotFoundError):
    """A corpus path does not exist or cannot be downloaded."""


class VocabError(SymrnnError, ValueError):
    """Text contains characters outside a vocabulary."""


class ShapeError(SymrnnError, ValueError):
    """An array has the wrong shape or unusable values (non-finite numbers, ids out of
    range, no rows)."""


class DTypeError(ShapeError, TypeError):
    """An array has a dtype where numbers are expected (bool, object, strings), or a cast
    to the model's dtype would lose information (ids with fractional parts, int64
    values that do not fit int32). Also a ``TypeError``, as a Keras user expects for
    a wrong type, and a :class:`ShapeError`, as symrnn raised for dtypes before."""


class ConfigError(SymrnnError, ValueError):
    """An option has an invalid value (unknown name, non-positive size...)."""


class CheckpointError(SymrnnError, ValueError):
    """A checkpoint or saved model is missing, truncated, corrupt or mismatched."""


class NonFiniteError(SymrnnError, ArithmeticError):
    """A computation gave NaN or infinite numbers (a diverged state, overflowed sums)."""


class CheckpointWriteError(SymrnnError):
    """A checkpoint could not be written (disk full, I/O error); the previous one is intact."""


def check_positive(values, label=lambda name: name.replace("_", " ")):
    """Raise a ConfigError for the first of ``values`` (a dict) that is not a finite
    number > 0; ``None`` skips a value, ``label`` says how a message names it.

    >>> check_positive({"hidden": 256, "learning_rate": float("inf")})
    Traceback (most recent call last):
    ...
    symrnn.errors.ConfigError: learning rate must be a finite number, got inf
    """
    for name, value in values.items():
        if value is None:
            continue
        if not math.isfinite(value):
            raise ConfigError(f"{label(name)} must be a finite number, got {value}")
        if not value > 0:
            raise ConfigError(f"{label(name)} must be positive, got {value}")
