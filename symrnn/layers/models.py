"""Models: ``Input``, the functional ``Model(inputs, outputs)`` and ``Sequential``.

A model holds the record of layer calls between its inputs and outputs and
replays it to build PyTensor graphs: once with ``training=True`` for the
training function, once with ``training=False`` for evaluate/predict.

>>> import numpy as np
>>> from symrnn.layers import Dense, Input, Model
>>> x = Input((3,), dtype="float64")
>>> model = Model(x, Dense(2, activation="softmax")(x))
>>> model.predict(np.ones((4, 3)), backend="py").shape
(4, 2)
"""
import pytensor.tensor as pt

from ..data import Vocab
from ..errors import CheckpointError, ConfigError, ShapeError, SymrnnError
from . import fitting, saving, summary
from .base import KTensor, Layer, Updates, as_list
from .inputs import Input, InputLayer

__all__ = ["Input", "InputLayer", "Model", "Sequential", "load_model", "topo_nodes"]


def topo_nodes(outputs):
    """Every node the outputs depend on, inputs before users."""
    order, seen = [], set()

    def visit(tensor):
        node = tensor.node
        if id(node) in seen:
            return
        seen.add(id(node))
        for t in node.tensor_inputs():
            visit(t)
        order.append(node)

    for t in outputs:
        visit(t)
    return order


class Model:
    """A graph of layer calls from ``inputs`` to ``outputs`` (one or several each)."""

    def __init__(self, inputs, outputs, name=None):
        self.name = name or "model"
        self._set_graph(as_list(inputs), as_list(outputs))
        self.optimizer, self.vocab = None, None
        self.history, self.stop_training = None, False   # set by fit (and its callbacks)
        self._functions = {}

    def _set_graph(self, inputs, outputs):
        for t in inputs + outputs:
            if not isinstance(t, KTensor):
                raise ConfigError(f"Model inputs and outputs must come from Input() and layer "
                                  f"calls, got {type(t).__name__}")
        self.inputs, self.outputs = inputs, outputs
        self.nodes = topo_nodes(outputs)
        missing = [n.layer.name for n in self.nodes if isinstance(n.layer, InputLayer)
                   and not any(n.outputs[0] is t for t in inputs)]
        if missing:
            raise ConfigError(f"outputs depend on inputs {missing} that are not in Model(inputs=...)")
        layers = list(dict.fromkeys(n.layer for n in self.nodes))
        self.layers = sorted(layers, key=lambda l: not isinstance(l, InputLayer))  # inputs first
        self._check_param_names()
        self._functions = {}

    def _check_param_names(self):
        names = [p.name for p in self.params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"two parameters share the names {dupes}; give layers unique names")

    # -- parameters -------------------------------------------------------
    def _unique(self, attr):
        found = {}
        for layer in self.layers:
            for p in getattr(layer, attr):
                found.setdefault(id(p), p)
        return list(found.values())

    @property
    def params(self):
        return self._unique("params")

    @property
    def trainable_params(self):
        return self._unique("trainable_params")

    @property
    def non_trainable_params(self):
        trainable = {id(p) for p in self.trainable_params}
        return [p for p in self.params if id(p) not in trainable]

    def count_params(self):
        return sum(int(p.get_value(borrow=True).size) for p in self.params)

    def get_weights(self):
        return [p.get_value() for p in self.params]

    def set_weights(self, weights):
        saving.set_param_values(self.params, list(weights))

    @property
    def output_names(self):
        # One layer applied several times (the lesson's shared dense_out) gives several
        # outputs with one layer name: number them by occurrence so each loss keeps its key.
        names = [t.node.layer.name for t in self.outputs]
        seen, result = {}, []
        for n in names:
            seen[n] = seen.get(n, 0) + 1
            result.append(n if names.count(n) == 1 else f"{n}_{seen[n]}")
        return result

    # -- graphs -----------------------------------------------------------
    def build_graph(self, training):
        """Fresh input variables, the outputs for ``training`` and the extra updates."""
        input_vars, outputs, _, updates = self.build_graph_with_masks(training)
        return input_vars, outputs, updates

    def build_graph_with_masks(self, training):
        """:meth:`build_graph` and each output's time mask ([B, T] bool, or None): the
        masks layers make and pass on (:meth:`Layer.compute_mask`), as the loss reads them."""
        memo, masks, updates = {}, {}, Updates()
        input_vars = []
        for t in self.inputs:
            var = pt.tensor(dtype=t.dtype, shape=t.shape, name=t.name)
            memo[id(t)] = var
            input_vars.append(var)
        for node in self.nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = [memo[id(t)] for t in node.inputs]
            kwargs = {k: _resolve(v, memo) for k, v in node.kwargs.items()}
            in_masks = [masks.get(id(t)) for t in node.inputs]
            mask = in_masks if node.multi_input else in_masks[0]
            if kwargs.get("mask") is not None:      # an explicit mask= (Lasagne's mask_input)
                mask = pt.neq(kwargs["mask"], 0)
            if node.layer.takes_mask:
                kwargs["mask"] = mask
            out = node.layer.apply(args if node.multi_input else args[0], training, updates, **kwargs)
            out_masks = as_list(node.layer.compute_mask(args if node.multi_input else args[0], mask))
            for i, (t, var) in enumerate(zip(node.outputs, as_list(out))):
                memo[id(t)] = var
                masks[id(t)] = out_masks[i] if i < len(out_masks) else None
        outputs = [memo[id(t)] for t in self.outputs]
        return input_vars, outputs, [masks.get(id(t)) for t in self.outputs], updates

    # -- training API (see fitting.py) ---------------------------------------
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None,
                backend=None, sample_weight_mode=None):
        """Choose the optimizer, the loss (one, or one per output), metrics such as
        ``['accuracy']`` (Keras 1: ``'acc'``), the backend, and ``sample_weight_mode=
        'temporal'`` for one weight per step; a bad choice changes nothing."""
        fitting.compile_model(self, optimizer, loss, backend, metrics, sample_weight_mode)

    def fit(self, x, y=None, batch_size=32, epochs=None, shuffle=True, validation_split=0.0,
            validation_data=None, verbose=1, seed=None, steps_per_epoch=None, callbacks=None,
            nb_epoch=None, initial_epoch=0, devices=None, sample_weight=None, class_weight=None):
        """Train for ``epochs`` (default 1; Keras 1's ``nb_epoch`` too) on arrays, or on a
        source of ``(x, y)`` batches with ``y=None``; returns the :class:`History`, also
        kept as ``model.history``. Every array is checked before anything changes.
        ``devices=N`` (jax backend) splits each batch across N JAX devices."""
        return fitting.fit(self, x, y, batch_size, epochs, shuffle, validation_split,
                           validation_data, verbose, seed, steps_per_epoch, callbacks,
                           nb_epoch, initial_epoch, devices, sample_weight, class_weight)

    def evaluate(self, x, y, batch_size=32, verbose=0, sample_weight=None):
        """The loss in inference mode, or ``[loss, ...]`` in ``metrics_names`` order."""
        return fitting.evaluate(self, x, y, batch_size, sample_weight)

    def predict(self, x, batch_size=32, backend=None, verbose=0):
        return fitting.predict(self, x, batch_size, backend)

    def make_train_function(self):
        """Build (and keep) the compiled training step now rather than at the first ``fit``
        (Keras' name); Numba still compiles its machine code at the first call."""
        return fitting.train_fn(self)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One update on one batch; returns its loss (and metrics) from before the update."""
        return fitting.train_on_batch(self, x, y, sample_weight, class_weight)

    def test_on_batch(self, x, y, sample_weight=None):
        """Loss (and metrics) on one batch, in inference mode."""
        return fitting.evaluate_on_batch(self, x, y, sample_weight)

    def predict_on_batch(self, x):
        return fitting.predict_on_batch(self, x)

    def reset_states(self):
        """Zero the carried states of every stateful layer (Keras' ``reset_states``)."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def summary(self, print_fn=print):
        summary.print_summary(self, self.layers, print_fn, connections=True)

    # -- saving (see saving.py) ------------------------------------------------
    def save_weights(self, path):
        saving.save_weights(self, path)

    def load_weights(self, path):
        saving.load_weights(self, path)

    def save(self, path):
        saving.save_model(self, path)

    def get_config(self):
        return saving.functional_config(self)


def _resolve(value, memo):
    if isinstance(value, KTensor):
        return memo[id(value)]
    if isinstance(value, (list, tuple)) and any(isinstance(v, KTensor) for v in value):
        return [memo[id(v)] for v in value]
    return value


class Sequential(Model):
    """A stack of layers, each fed the previous one's output.

    The first layer says its input shape Keras-style: ``input_shape=(8, 86)``,
    ``input_dim=``/``input_length=``, or an Embedding's ``input_length``.
    """

    def __init__(self, layers=None, name=None):
        self.name = name or "sequential"
        self.inputs, self.outputs, self.nodes, self.layers = [], [], [], []
        self.optimizer, self.vocab, self._functions = None, None, {}
        self.history, self.stop_training = None, False
        self._stack = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential.add needs a Layer, got {type(layer).__name__}")
        self._stack.append(layer)
        if not self.outputs:
            if layer.batch_input_shape is None:
                raise ConfigError(f"the first layer ({layer.name}) needs its input shape: "
                                  "pass input_shape=(...), or input_dim=/input_length=")
            x = Input(layer.batch_input_shape[1:], dtype=layer.input_dtype or layer.dtype,
                      batch_size=layer.batch_input_shape[0])
            self.inputs = [x]
            out = layer(x)
        else:
            out = layer(self.outputs[0])
        self._set_graph(self.inputs, [as_list(out)[0]])

    @property
    def stack(self):
        """The layers in order, without the implicit input layer."""
        return list(self._stack)

    def summary(self, print_fn=print):
        summary.print_summary(self, self.stack, print_fn, connections=False)

    def get_config(self):
        return saving.sequential_config(self)


# -- rebuilding a saved model -------------------------------------------------------
def _model_from_config(arch, classes):
    layers = [saving.layer_from_spec(spec, classes) for spec in arch["layers"]]
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


def load_model(path, custom_objects=None):
    """Rebuild a model saved with ``model.save(path)``: architecture, weights, vocabulary.

    The file is refused (a :class:`~symrnn.errors.CheckpointError` naming it)
    if it is missing, corrupt, not a whole-model file, from a newer format
    version, or holds non-finite weights.
    """
    arrays, meta = saving.read_model_file(path)
    classes = {**saving.layer_classes(), **(custom_objects or {})}
    try:
        model = _model_from_config(meta["architecture"], classes)
    except (KeyError, TypeError, IndexError, ConfigError, ShapeError) as err:
        raise CheckpointError(f"{path!r} has an unreadable architecture ({err!r})") from None
    vocab = None
    if meta.get("vocab") is not None:
        try:
            vocab = Vocab.from_list(meta["vocab"])
        except (SymrnnError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path!r} has an unreadable vocabulary ({err})") from None
    saving.load_into(model, arrays, path)
    model.vocab = vocab
    return model
