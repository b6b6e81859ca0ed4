"""Sample weights for ``fit``/``evaluate``: Keras' ``sample_weight`` and ``class_weight``.

One weight per sample (``[N]``), or with ``compile(sample_weight_mode='temporal')``
one per step of a sequence output (``[N, T]``), multiplies each item's loss; the
loss is then the weighted sum over the items of non-zero weight divided by their
count (:func:`symrnn.graph.weighting.masked_mean`, Keras 1's weighted objective).
``class_weight={class: weight}`` gives each sample its target class's weight
(per-sample targets only, as in Keras); given both, the two multiply.

Everything is checked before anything runs: shapes against the outputs, finite,
non-negative values, every target class named in ``class_weight``.

>>> import numpy as np
>>> from symrnn.layers import Dense, Sequential
>>> model = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
>>> model.compile("sgd", "sparse_categorical_crossentropy", backend="py")
>>> y = [np.array([0, 2, 2, 1])]
>>> sample_weights(model, y, None, {0: 1.0, 1: 1.0, 2: 0.5})[0].tolist()
[1.0, 0.5, 0.5, 1.0]
>>> sample_weights(model, y, None, {0: 1.0})
Traceback (most recent call last):
...
symrnn.errors.ConfigError: class_weight has no weight for classes [1, 2] of y; give every class ...
"""
import numpy as np

from ..errors import ConfigError, ShapeError
from .validation import ArraySpec, check_array

MODES = (None, "temporal")


def check_mode(model, sample_weight_mode):
    """``sample_weight_mode`` for ``compile``: None or 'temporal' (sequence outputs only)."""
    if sample_weight_mode not in MODES:
        raise ConfigError(f"sample_weight_mode must be None or 'temporal', got "
                          f"{sample_weight_mode!r}")
    if sample_weight_mode == "temporal":
        flat = [name for name, t in zip(model.output_names, model.outputs) if len(t.shape) < 3]
        if flat:
            raise ConfigError(f"sample_weight_mode='temporal' weighs each step of a sequence "
                              f"output (batch, timesteps, units), but outputs {flat} have no "
                              "time axis; use return_sequences=True or drop the mode")
    return sample_weight_mode


def weight_dtype(model, i):
    """The float dtype of output ``i``'s weights: the output's own."""
    dtype = model.outputs[i].dtype
    return dtype if np.dtype(dtype).kind == "f" else "float64"


def weight_shape(model, i):
    """``(None,)``, or ``(None, T)`` in temporal mode."""
    if getattr(model, "sample_weight_mode", None) == "temporal":
        return (None, model.outputs[i].shape[1])
    return (None,)


def _by_output_name(model, table, what):
    unknown = sorted(set(table) - set(model.output_names))
    if unknown:
        raise ConfigError(f"{what} names outputs {unknown} that the model does not have; "
                          f"its outputs: {', '.join(model.output_names)}")
    return [table.get(name) for name in model.output_names]


def _sample_weight_per_output(model, value):
    """One array for every output, a list (one per output), or a dict by output name."""
    count = len(model.outputs)
    if isinstance(value, dict):
        return _by_output_name(model, value, "sample_weight")
    if isinstance(value, (list, tuple)) and count > 1:
        if len(value) != count:
            raise ConfigError(f"{len(value)} sample_weight arrays for {count} outputs; give "
                              "one per output")
        return list(value)
    return [value] * count


def _class_weight_per_output(model, value):
    """One ``{class: weight}`` table for every output, or a dict of them by output name."""
    names = set(model.output_names)
    if isinstance(value, dict) and value and len(names) > 1 and set(value) <= names:
        return _by_output_name(model, value, "class_weight")
    return [value] * len(model.outputs)


def _checked_sample_weight(model, i, weight, rows):
    label = "sample_weight" if len(model.outputs) == 1 else f"sample_weight[{model.output_names[i]}]"
    arr = np.asarray(weight)
    temporal = getattr(model, "sample_weight_mode", None) == "temporal"
    if arr.ndim == 2 and not temporal:
        raise ShapeError(f"{label} has shape {arr.shape}: one weight per step needs "
                         "compile(..., sample_weight_mode='temporal'); else pass one weight per sample")
    checked = check_array(weight, ArraySpec(label, weight_shape(model, i), weight_dtype(model, i)))
    if np.any(checked < 0):
        raise ShapeError(f"{label} has negative entries; weights must be >= 0")
    if len(checked) != rows:
        raise ShapeError(f"{label} has {len(checked)} rows, the data {rows}; give one weight "
                         "per sample")
    return checked


def _class_ids(model, i, y):
    """Each sample's class: the id itself, the argmax of a one-hot row, or a 0/1 target."""
    if model.sparse_targets[i]:
        ids = y
    elif y.ndim == 2 and y.shape[1] > 1:
        ids = y.argmax(axis=1)
    else:
        ids = np.round(y.reshape(len(y)))
    if ids.ndim != 1:
        raise ConfigError("class_weight weighs samples by their target class; it cannot weigh "
                          f"targets of shape {y.shape} (one per step): use sample_weight with "
                          "sample_weight_mode='temporal'")
    return ids.astype(np.int64)


def _class_weights(model, i, table, y):
    if not isinstance(table, dict):
        raise ConfigError(f"class_weight must be a dict {{class id: weight}}, got "
                          f"{type(table).__name__}")
    ids = _class_ids(model, i, y)
    missing = sorted(set(ids.tolist()) - set(int(k) for k in table))
    if missing:
        raise ConfigError(f"class_weight has no weight for classes {missing[:10]} of y; give "
                          "every class a weight (1.0 leaves it as it is)")
    values = {int(k): float(v) for k, v in table.items()}
    if any(not np.isfinite(v) or v < 0 for v in values.values()):
        raise ConfigError(f"class_weight values must be finite numbers >= 0, got {table}")
    return np.array([values[c] for c in ids.tolist()], dtype=weight_dtype(model, i))


def sample_weights(model, y_arrays, sample_weight, class_weight):
    """One checked weight array per output (``y_arrays``: the checked targets), or None
    when neither ``sample_weight`` nor ``class_weight`` is given."""
    if sample_weight is None and class_weight is None:
        return None
    rows = len(y_arrays[0])
    per_sample = _sample_weight_per_output(model, sample_weight)
    per_class = _class_weight_per_output(model, class_weight)
    result = []
    for i, (weight, table, y) in enumerate(zip(per_sample, per_class, y_arrays)):
        w = np.ones(weight_shape_of(model, i, y), dtype=weight_dtype(model, i))
        if weight is not None:
            w = _checked_sample_weight(model, i, weight, rows)
        if table is not None:
            by_class = _class_weights(model, i, table, y)
            w = w * (by_class if w.ndim == 1 else by_class[:, None])
        result.append(np.ascontiguousarray(w))
    return result


def weight_shape_of(model, i, y):
    """The concrete shape of output ``i``'s weights for targets ``y``."""
    if getattr(model, "sample_weight_mode", None) == "temporal":
        return y.shape[:2]
    return y.shape[:1]
