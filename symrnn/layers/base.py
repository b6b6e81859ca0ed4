"""The layer lifecycle and the symbolic tensors the functional API passes around.

A layer is configured in ``__init__``, creates its parameters in ``build``
the first time it sees an input shape, and turns symbolic inputs into
symbolic outputs in ``call(inputs, training)``. Calling a layer on the
:class:`KTensor` placeholders that :func:`symrnn.layers.Input` returns only
*records* the call; a model replays the record to build its training graph
and, separately, its inference graph (dropout and batchnorm differ).

>>> import numpy as np, pytensor.tensor as pt
>>> from symrnn.layers import Dense
>>> dense = Dense(3, name="d")
>>> y = dense(pt.matrix("x"), input_shape=(None, 2))
>>> [p.name for p in dense.params], dense.count_params()
(['d.W', 'd.b'], 9)
"""
import itertools
from collections import OrderedDict, defaultdict

import numpy as np
import pytensor

from ..errors import ConfigError, ShapeError
from ..graph.params import init_array, shared

_name_counters = defaultdict(itertools.count)  # per class prefix: dense_1, dense_2, ...

#: Layer classes by name, for rebuilding saved models: every public Layer subclass
#: that symrnn.layers defines registers itself here (:meth:`Layer.__init_subclass__`).
LAYER_CLASSES = {}


def unique_name(prefix):
    """``prefix_1``, ``prefix_2``... unique within this process."""
    return f"{prefix}_{next(_name_counters[prefix]) + 1}"


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def float_dtype(dtype):
    """``dtype`` if it is a float type, else PyTensor's floatX (e.g. for int ids)."""
    return dtype if dtype is not None and np.dtype(dtype).kind == "f" else pytensor.config.floatX


class Updates(OrderedDict):
    """Extra updates (batchnorm statistics, RNG states) gathered while a graph is built.

    ``latest(var)`` chains updates when a layer is applied several times in
    one graph: the second application starts from the first one's result.
    """

    def latest(self, var):
        return self.get(var, var)


class KTensor:
    """A symbolic placeholder with a static shape (batch dim ``None``) and its history.

    ``node`` is the :class:`Node` that produced it (``None`` for model inputs);
    ``masked`` says whether a time mask travels with it (:meth:`Layer.compute_mask`).
    """

    def __init__(self, shape, dtype, node=None, index=0, name=None, masked=False):
        self.shape, self.dtype = tuple(shape), str(dtype)
        self.node, self.index, self.name, self.masked = node, index, name, bool(masked)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"KTensor(shape={self.shape}, dtype={self.dtype!r})"


class Node:
    """One recorded call: ``layer(inputs, **kwargs) -> outputs`` (all KTensors)."""

    def __init__(self, layer, inputs, kwargs):
        self.layer, self.inputs, self.kwargs = layer, inputs, kwargs
        self.outputs = []

    def tensor_inputs(self):
        """KTensors this node depends on: its inputs and e.g. an ``initial_state``."""
        extra = [t for v in self.kwargs.values() for t in as_list(v) if isinstance(t, KTensor)]
        return list(self.inputs) + extra


def _is_symbolic_input(x):
    return any(isinstance(t, KTensor) for t in as_list(x))


class Layer:
    """Base class: parameters, naming, build-on-first-call, weights in and out.

    Subclasses implement ``build(input_shape)`` (create parameters with
    :meth:`add_weight`), ``call(inputs, training=False, **kwargs)`` and
    ``compute_output_shape(input_shape)``, and list their constructor
    arguments in ``get_config``.
    """

    input_dtype = None   # dtype of an Input this layer creates in a Sequential (None: float)
    # Masks (Keras' semantics): a time mask [B, T] travels beside a sequence from the layer
    # that makes it (Embedding(mask_zero=True), Masking, a mask input) to the layers that
    # read it (recurrent layers) and to the loss. A layer with supports_masking passes an
    # incoming mask on unchanged; one with takes_mask reads it in call(..., mask=); any
    # other layer refuses a masked input when it is called.
    supports_masking = False
    takes_mask = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # symrnn's own classes only: a user's layer is named by load_model(custom_objects=...)
        if cls.__module__.startswith(__package__ + ".") and not cls.__name__.startswith("_"):
            LAYER_CLASSES[cls.__name__] = cls

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, batch_size=None, seed=None):
        if name is not None and not (isinstance(name, str) and name):
            raise ConfigError(f"a layer's name must be a non-empty string, got {name!r}")
        self.name = name or unique_name(type(self).__name__.lower())
        self.trainable, self.dtype, self.seed = trainable, dtype, seed
        self.rng = np.random.default_rng(seed)  # initial weights (and masks) from here
        self.built, self._params, self._trainable_flags = False, [], []
        self.inbound_nodes = []
        self._updates = None
        if batch_input_shape is not None:
            self.batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self.batch_input_shape = (None,) + tuple(input_shape)
        else:
            self.batch_input_shape = None
        if batch_size is not None:   # Keras' batch_size=: a fixed batch (stateful RNNs need one)
            if self.batch_input_shape is None:
                raise ConfigError(f"{self.name}: batch_size= needs an input shape too "
                                  "(input_shape=..., or batch_input_shape=(batch, ...))")
            self.batch_input_shape = (int(batch_size),) + self.batch_input_shape[1:]

    # -- parameters -------------------------------------------------------
    def add_weight(self, name, shape, init, trainable=True):
        """Create ``"{layer.name}.{name}"`` as a shared variable of the layer's dtype."""
        value = init_array(init, shape, self.rng, dtype=self.dtype)
        var = shared(value, f"{self.name}.{name}")
        self._params.append(var)
        self._trainable_flags.append(trainable)
        return var

    @property
    def params(self):
        return list(self._params)

    @property
    def trainable_params(self):
        return [p for p, t in zip(self._params, self._trainable_flags) if t and self.trainable]

    @property
    def non_trainable_params(self):
        return [p for p in self._params if p not in self.trainable_params]

    def count_params(self):
        return int(sum(np.prod(p.get_value(borrow=True).shape) for p in self._params))

    def get_weights(self):
        return [p.get_value() for p in self._params]

    def set_weights(self, weights):
        """Set every parameter at once; a wrong count or shape changes nothing."""
        weights = list(weights)
        if len(weights) != len(self._params):
            raise ShapeError(f"{self.name} has {len(self._params)} weights "
                             f"({[p.name for p in self._params]}), got {len(weights)}")
        for p, w in zip(self._params, weights):
            want = p.get_value(borrow=True).shape
            if np.shape(w) != want:
                raise ShapeError(f"{p.name} needs shape {want}, got {np.shape(w)}; "
                                 "nothing was changed")
        for p, w in zip(self._params, weights):
            p.set_value(np.asarray(w, dtype=p.dtype))

    # -- lifecycle --------------------------------------------------------
    def build(self, input_shape):
        """Create parameters for ``input_shape`` (batch dim included, may be None)."""

    def call(self, inputs, training=False, **kwargs):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_dtype(self, input_dtype):
        return self.dtype

    # -- masks --------------------------------------------------------------
    def output_masked(self, inputs_masked, kwargs):
        """Whether each output carries a mask, given whether each input does (record time);
        refuses a mask this layer cannot take. Must agree with :meth:`compute_mask`."""
        masked = any(inputs_masked) or kwargs.get("mask") is not None
        if masked and not (self.supports_masking or self.takes_mask):
            raise ConfigError(
                f"{self.name} ({type(self).__name__}) cannot take a masked input: a mask from "
                "Embedding(mask_zero=True), Masking or mask= reaches it. Put it after the "
                "recurrent layer that consumes the mask (return_sequences=False), or drop the mask")
        return masked and self.supports_masking

    def compute_mask(self, inputs, mask):
        """The output's mask (graph time): the input's where it passes masks on, else None.
        ``mask`` is the input's mask ([B, T] bool, or a list for several inputs)."""
        if not self.supports_masking or mask is None:
            return None
        masks = [m for m in as_list(mask) if m is not None]
        if not masks:
            return None
        combined = masks[0]
        for m in masks[1:]:
            combined = combined & m   # several inputs: a step is real where all are (Keras)
        return combined

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "seed": self.seed}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        return config

    def add_update(self, var, new_value):
        """Register ``var <- new_value`` for the training function (inside ``call``)."""
        if self._updates is not None:
            self._updates[var] = new_value

    def latest(self, var):
        """``var`` as already updated earlier in this graph (chained reuse)."""
        return var if self._updates is None else self._updates.latest(var)

    def maybe_build(self, input_shape, input_dtype):
        if not self.built:
            if self.dtype is None:
                self.dtype = float_dtype(input_dtype)
            self.build(input_shape)
            self.built = True

    # -- calling ----------------------------------------------------------
    def __call__(self, inputs, training=False, updates=None, input_shape=None, **kwargs):
        """On KTensors: record the call and return KTensor(s). On PyTensor
        variables: build (from ``input_shape`` or the static type shape) and
        return the symbolic output; extra updates go into ``updates`` (an
        :class:`Updates`) and are also left in ``self.last_updates``."""
        if _is_symbolic_input(inputs):
            return self._record(inputs, kwargs)
        if input_shape is None:
            input_shape = _static_shape(inputs)
        self.maybe_build(input_shape, as_list(inputs)[0].dtype)
        self.last_updates = Updates() if updates is None else updates
        return self.apply(inputs, training, self.last_updates, **kwargs)

    def apply(self, inputs, training, updates, **kwargs):
        """Run ``call`` with ``updates`` collecting this call's extra updates."""
        outer, self._updates = self._updates, updates
        try:
            return self.call(inputs, training=training, **kwargs)
        finally:
            self._updates = outer

    def _record(self, inputs, kwargs):
        tensors = as_list(inputs)
        if not all(isinstance(t, KTensor) for t in tensors):
            raise ConfigError(f"{self.name}: mix of Input tensors and other values; "
                              "call a layer on Input()/layer outputs only")
        shapes = [t.shape for t in tensors] if isinstance(inputs, (list, tuple)) else tensors[0].shape
        self.maybe_build(shapes, tensors[0].dtype)
        node = Node(self, tensors if isinstance(inputs, (list, tuple)) else tensors[:1], kwargs)
        node.multi_input = isinstance(inputs, (list, tuple))
        self.check_mask_argument(kwargs.get("mask"), shapes)
        out_shapes = self.compute_output_shape(shapes)
        out_dtype = self.compute_output_dtype(tensors[0].dtype)
        multi_out = isinstance(out_shapes, list)
        out_shapes = out_shapes if multi_out else [out_shapes]
        masked = as_list(self.output_masked([t.masked for t in node.inputs], kwargs))
        masked += [False] * (len(out_shapes) - len(masked))   # e.g. a recurrent layer's states
        for i, shape in enumerate(out_shapes):
            node.outputs.append(KTensor(shape, out_dtype, node, i, masked=masked[i]))
        self.inbound_nodes.append(node)
        return list(node.outputs) if multi_out else node.outputs[0]

    def check_mask_argument(self, mask, input_shape):
        """Refuse an explicit ``mask=`` that cannot fit the input (record time): it must be a
        model input or layer output of shape (batch, time) matching the input's."""
        if mask is None:
            return
        if not self.takes_mask:
            raise ConfigError(f"{self.name} ({type(self).__name__}) takes no mask= argument; "
                              "recurrent layers (and Bidirectional) do")
        if not isinstance(mask, KTensor):
            raise ConfigError(f"{self.name}: mask= must be a model input (Input((timesteps,))) "
                              f"or a layer output, got {type(mask).__name__}")
        steps = tuple(input_shape[:2]) if not isinstance(input_shape, list) else tuple(input_shape[0][:2])
        fits = len(mask.shape) == 2 and all(a is None or b is None or a == b
                                            for a, b in zip(mask.shape, steps))
        if not fits:
            raise ShapeError(f"{self.name}: the mask has shape {mask.shape} but the input's "
                             f"(batch, time) is {steps}; a mask is (batch, timesteps), 1 for "
                             "real steps and 0 for padding")

    @property
    def output_shape(self):
        """Output shape of the layer's single call ('multiple' when reused)."""
        shapes = {tuple(map(lambda t: t.shape, n.outputs)) for n in self.inbound_nodes}
        if len(shapes) != 1:
            return "multiple"
        outs = shapes.pop()
        return outs[0] if len(outs) == 1 else list(outs)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def _static_shape(inputs):
    if isinstance(inputs, (list, tuple)):
        return [tuple(x.type.shape) for x in inputs]
    return tuple(inputs.type.shape)
