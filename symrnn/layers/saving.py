"""Weights and whole models on disk, through :mod:`symrnn.io` (atomic npz + JSON, no pickle).

A weights file maps parameter names (``"dense_1.W"``) to arrays. A model file
adds the architecture as JSON (each layer's class name and ``get_config()``,
plus for functional models the recorded calls) and, if ``model.vocab`` is
set, the vocabulary as a list of characters. Both carry their ``format``
and a format ``version``; a file from a newer version than :data:`VERSION`
is refused by name rather than half-read. Loading checks every name, shape
and value before touching a parameter, so a bad file leaves the model
unchanged. :func:`symrnn.layers.load_model` (in :mod:`.models`, beside the
model classes) rebuilds a whole model from :func:`read_model_file`.

>>> import os, tempfile, numpy as np
>>> from symrnn.layers import Dense, Sequential
>>> model = Sequential([Dense(2, input_shape=(3,), name="d", seed=0)])
>>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> model.save_weights(path)
>>> sorted(read_checked(path, (WEIGHTS_FORMAT, MODEL_FORMAT))[0])
['d.W', 'd.b']
"""
import numpy as np

from ..errors import CheckpointError, DTypeError, ShapeError
from ..io import check_shapes, load_arrays, save_arrays
from .base import LAYER_CLASSES, KTensor

WEIGHTS_FORMAT, MODEL_FORMAT = "symrnn-weights", "symrnn-model"
VERSION = 1   # the newest format version this code writes and reads


def layer_classes():
    """Layer classes a saved model may name (symrnn's own, registered by
    :class:`~symrnn.layers.base.Layer` subclasses); pass ``custom_objects`` for others."""
    return dict(LAYER_CLASSES)


def set_param_values(params, values):
    """Set all ``params`` from ``values`` (same order) after checking every shape,
    dtype and value: a refusal changes no parameter."""
    if len(values) != len(params):
        raise ShapeError(f"the model has {len(params)} weights, got {len(values)}; nothing was changed")
    for p, v in zip(params, values):
        want = p.get_value(borrow=True).shape
        if tuple(getattr(v, "shape", ())) != want:
            raise ShapeError(f"{p.name} needs shape {want}, got {getattr(v, 'shape', None)}; "
                             "nothing was changed")
        kind = np.asarray(v).dtype.kind
        if kind not in "iuf":
            raise DTypeError(f"{p.name} needs numbers, got dtype {np.asarray(v).dtype}; "
                             "nothing was changed")
        if kind == "f" and not np.isfinite(v).all():
            raise ShapeError(f"{p.name} holds NaN or inf; nothing was changed")
    for p, v in zip(params, values):
        p.set_value(np.asarray(v).astype(p.dtype))


def _named_values(model):
    return {p.name: p.get_value() for p in model.params}


def save_weights(model, path):
    save_arrays(path, _named_values(model), {"format": WEIGHTS_FORMAT, "version": VERSION})


def _check_version(meta, path):
    version = meta.get("version", 1)   # files from before versions were written are version 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{str(path)!r} has an unknown format version {version!r}; "
                              f"this symrnn reads format versions 1 to {VERSION} (whole numbers)")
    if version > VERSION:
        raise CheckpointError(f"{str(path)!r} is {meta.get('format')} version {version}, newer "
                              f"than this symrnn supports (version {VERSION}); upgrade symrnn "
                              "to load it")


def read_checked(path, formats):
    """``(arrays, meta)`` of a file whose format is one of ``formats`` and whose version
    this code reads; a CheckpointError naming the file otherwise."""
    arrays, meta = load_arrays(path)
    if meta.get("format") not in formats:
        hint = ("; use model.load_weights for weights files" if MODEL_FORMAT in formats
                and meta.get("format") == WEIGHTS_FORMAT
                else "; pass a file written by model.save_weights or model.save")
        raise CheckpointError(f"{str(path)!r} is not a {' or '.join(formats)} file (format "
                              f"{meta.get('format')!r}){hint}")
    _check_version(meta, path)
    return arrays, meta


def load_into(model, arrays, path):
    """Check names, shapes and values of ``arrays`` against the model, then set them."""
    params = model.params
    check_shapes({p.name: p.get_value(borrow=True).shape for p in params}, arrays, path)
    try:
        set_param_values(params, [arrays[p.name] for p in params])
    except ShapeError as err:
        raise CheckpointError(f"{str(path)!r}: {err}; use an earlier file") from None


def load_weights(model, path):
    """Weights from a weights file or a whole-model file (same names), checked first."""
    arrays, _ = read_checked(path, (WEIGHTS_FORMAT, MODEL_FORMAT))
    load_into(model, arrays, path)


def read_model_file(path):
    """``(arrays, meta)`` of a whole-model file written by :func:`save_model`."""
    return read_checked(path, (MODEL_FORMAT,))


# -- architecture -------------------------------------------------------------
def layer_spec(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def sequential_config(model):
    return {"class_name": "Sequential", "name": model.name,
            "layers": [layer_spec(layer) for layer in model.stack]}


def functional_config(model):
    nodes = model.nodes
    ref = {id(t): [nodes.index(t.node), t.index] for n in nodes for t in n.outputs}
    encode = lambda v: ({"tensor": ref[id(v)]} if isinstance(v, KTensor)
                        else [encode(x) for x in v] if isinstance(v, (list, tuple)) else v)
    return {
        "class_name": "Model", "name": model.name,
        "layers": [layer_spec(layer) for layer in model.layers],
        "nodes": [{"layer": model.layers.index(n.layer), "inputs": [ref[id(t)] for t in n.inputs],
                   "multi_input": n.multi_input,
                   "kwargs": {k: encode(v) for k, v in n.kwargs.items()}} for n in nodes],
        "inputs": [ref[id(t)] for t in model.inputs],
        "outputs": [ref[id(t)] for t in model.outputs],
    }


def layer_from_spec(spec, classes):
    name = spec["class_name"]
    if name not in classes:
        raise CheckpointError(f"unknown layer class {name!r} in the saved model; "
                              "pass custom_objects={'" + name + "': TheClass} to load_model")
    config = dict(spec["config"])
    if isinstance(config.get("layer"), dict):      # a wrapper such as TimeDistributed
        config["layer"] = layer_from_spec(config["layer"], classes)
    return classes[name](**config)


def save_model(model, path):
    meta = {"format": MODEL_FORMAT, "version": VERSION, "architecture": model.get_config(),
            "vocab": model.vocab.to_list() if model.vocab is not None else None}
    save_arrays(path, _named_values(model), meta)
