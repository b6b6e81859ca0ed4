"""Weights and whole models on disk, through :mod:`symrnn.io` (atomic npz + JSON, no pickle).

A weights file maps parameter names (``"dense_1.W"``) to arrays. A model file
adds the architecture as JSON (each layer's class name and ``get_config()``,
plus for functional models the recorded calls) and, if ``model.vocab`` is
set, the vocabulary as a list of characters. Loading checks every name and
shape before touching a parameter, so a bad file leaves the model unchanged.
"""
from ..errors import CheckpointError, ConfigError, ShapeError
from ..io import check_shapes, load_arrays, save_arrays
from .base import KTensor, as_list

WEIGHTS_FORMAT, MODEL_FORMAT = "symrnn-weights", "symrnn-model"


def layer_classes():
    """Layer classes a saved model may name; pass ``custom_objects`` for others."""
    from . import core, noise, recurrent, wrappers
    from .models import InputLayer
    classes = (core.Dense, core.Activation, core.Flatten, core.Embedding, core.TimeDistributed,
               core.Add, noise.Dropout, noise.BatchNormalization, recurrent.SimpleRNN,
               recurrent.GRU, recurrent.LSTM, wrappers.Bidirectional, InputLayer)
    return {cls.__name__: cls for cls in classes}


def set_param_values(params, values):
    """Set all ``params`` from ``values`` (same order) after checking every shape."""
    if len(values) != len(params):
        raise ShapeError(f"the model has {len(params)} weights, got {len(values)}; nothing was changed")
    for p, v in zip(params, values):
        want = p.get_value(borrow=True).shape
        if tuple(getattr(v, "shape", ())) != want:
            raise ShapeError(f"{p.name} needs shape {want}, got {getattr(v, 'shape', None)}; "
                             "nothing was changed")
    for p, v in zip(params, values):
        p.set_value(v.astype(p.dtype))


def _named_values(model):
    return {p.name: p.get_value() for p in model.params}


def save_weights(model, path):
    save_arrays(path, _named_values(model), {"format": WEIGHTS_FORMAT})


def _load_into(model, arrays, path):
    params = model.params
    check_shapes({p.name: p.get_value(borrow=True).shape for p in params}, arrays, path)
    set_param_values(params, [arrays[p.name] for p in params])


def load_weights(model, path):
    arrays, _ = load_arrays(path)
    _load_into(model, arrays, path)


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


def _layer_from_spec(spec, classes):
    name = spec["class_name"]
    if name not in classes:
        raise CheckpointError(f"unknown layer class {name!r} in the saved model; "
                              "pass custom_objects={'" + name + "': TheClass} to load_model")
    config = dict(spec["config"])
    if isinstance(config.get("layer"), dict):      # a wrapper such as TimeDistributed
        config["layer"] = _layer_from_spec(config["layer"], classes)
    return classes[name](**config)


def _model_from_config(arch, classes):
    from .models import InputLayer, Model, Sequential
    layers = [_layer_from_spec(spec, classes) for spec in arch["layers"]]
    if arch["class_name"] == "Sequential":
        return Sequential(layers, name=arch["name"])
    outputs = []                                    # outputs[node index] = its KTensors
    decode = lambda v: (outputs[v["tensor"][0]][v["tensor"][1]] if isinstance(v, dict) and "tensor" in v
                        else [decode(x) for x in v] if isinstance(v, list) else v)
    for node in arch["nodes"]:
        layer = layers[node["layer"]]
        if isinstance(layer, InputLayer):
            outputs.append(layer.inbound_nodes[0].outputs)
            continue
        args = [outputs[n][i] for n, i in node["inputs"]]
        kwargs = {k: decode(v) for k, v in node["kwargs"].items()}
        outputs.append(as_list(layer(args if node["multi_input"] else args[0], **kwargs)))
    pick = lambda refs: [outputs[n][i] for n, i in refs]
    return Model(pick(arch["inputs"]), pick(arch["outputs"]), name=arch["name"])


def save_model(model, path):
    meta = {"format": MODEL_FORMAT, "architecture": model.get_config(),
            "vocab": model.vocab.to_list() if model.vocab is not None else None}
    save_arrays(path, _named_values(model), meta)


def load_model(path, custom_objects=None):
    """Rebuild a model saved with ``model.save(path)``: architecture, weights, vocabulary."""
    arrays, meta = load_arrays(path)
    if meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path!r} is not a whole-model file (format {meta.get('format')!r}); "
                              "use model.load_weights for weights files")
    classes = {**layer_classes(), **(custom_objects or {})}
    try:
        model = _model_from_config(meta["architecture"], classes)
    except (KeyError, TypeError, IndexError, ConfigError, ShapeError) as err:
        raise CheckpointError(f"{path!r} has an unreadable architecture ({err!r})") from None
    _load_into(model, arrays, path)
    if meta.get("vocab") is not None:
        from ..data import Vocab
        model.vocab = Vocab.from_list(meta["vocab"])
    return model
