"""Batch rules for models with a fixed batch size (stateful recurrent layers).

A stateful layer carries row i of one batch into row i of the next, so the
batch size is part of the graph and the row order must be kept:

- every call uses batches of exactly the fixed size ``B``; a sample count that
  is not a multiple of ``B`` is refused (as Keras does) rather than silently
  dropping or padding rows -- lay the data out with
  :func:`symrnn.data.stateful_layout`, which returns whole batches;
- ``fit`` never shuffles a stateful model: ``shuffle=True`` is turned off with
  a warning (shuffling would feed row i a continuation of some other row).
"""
import warnings

from ..errors import ConfigError, ShapeError


def fixed_batch_size(model):
    """The batch size fixed by the model's input (``None`` if any size goes)."""
    sizes = {t.shape[0] for t in model.inputs}
    return sizes.pop() if len(sizes) == 1 else None


def is_stateful(model):
    return any(getattr(layer, "stateful", False) for layer in model.layers)


def check_batches(model, n_samples, batch_size, what="samples"):
    """``batch_size`` after checking it against a fixed batch size ``B``."""
    fixed = fixed_batch_size(model)
    if fixed is None:
        return int(batch_size)
    if int(batch_size) != fixed:
        raise ConfigError(f"the model has a fixed batch size of {fixed} (its batch_input_shape); "
                          f"pass batch_size={fixed}, got {batch_size}")
    if n_samples % fixed:
        raise ShapeError(f"{n_samples} {what} is not a multiple of the fixed batch size {fixed}; "
                         f"keep the first {n_samples - n_samples % fixed} (or lay the data out "
                         "with symrnn.data.stateful_layout)")
    return fixed


def check_shuffle(model, shuffle):
    """``shuffle``, turned off (with a warning) for a stateful model."""
    if shuffle and is_stateful(model):
        warnings.warn("the model is stateful: fitting with shuffle=False so that row i of each "
                      "batch continues row i of the previous one; pass shuffle=False to silence "
                      "this", stacklevel=3)
        return False
    return shuffle
