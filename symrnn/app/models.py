"""Models as the trainer sees them: parameters, state, a train step, an evaluation.

An *adapter* wraps one model family behind the small surface that
:class:`symrnn.app.trainer.Trainer` and the checkpoints need:

``params``        PyTensor shared variables (the weights)
``state_vars``    every other shared variable a bit-exact resume needs
                  (optimizer accumulators, step counters, RNG variables)
``config``        JSON-able dict that rebuilds the same model (``from_config``)
``vocab``         the :class:`symrnn.data.Vocab`
``train_batch(x, y) -> loss``   one update on id windows ``[B, T]``; mean loss per char
``evaluate(x, y) -> loss``      mean loss per char, no update
``predict_proba(x) -> probs``   ``[B, T, V]`` next-character distributions

:class:`LessonAdapter` is the lesson's simple RNN made batched: integer ids,
a row lookup ``W_x[ids]`` instead of a one-hot product, the input projection
for all steps hoisted out of the loop, and only ``h_t = relu(xW_t + h_tm1 W_h)``
inside it. With ``batch_size=1``, ``optimizer="sgd"`` and ``loss="sum"`` one
step is the lesson's update.

>>> from symrnn.data import Vocab
>>> model = LessonAdapter(Vocab.from_text("abcab"), hidden=3, dtype="float64", backend="py")
>>> x = np.array([[1, 2, 3]], dtype="int32"); y = np.array([[2, 3, 1]], dtype="int32")
>>> model.predict_proba(x).shape  # [B, T, V]
(1, 3, 4)
>>> loss = model.train_batch(x, y)  # mean cross-entropy per char, before the update
>>> bool(0 < loss < 10)
True
"""
from collections import OrderedDict
from functools import cached_property

import numpy as np
import pytensor
import pytensor.tensor as pt

from .. import errors
from ..errors import ConfigError, ShapeError
from ..graph import losses, updates
from ..graph.cells import activation, simple_step
from ..graph.params import init_array, shared
from ..graph.recurrent import loop
from ..graph.training import compile_function, training_updates

OPTIMIZERS = {
    "sgd": updates.sgd, "momentum": updates.momentum, "adam": updates.adam,
    "rmsprop": updates.rmsprop, "adagrad": updates.adagrad,
}
LOSS_AGGREGATIONS = ("mean", "sum")  # mean per char; sum over a window's chars (the lesson's error)
DTYPES = ("float32", "float64")
EVAL_CHUNK = 512  # windows per evaluation call: bounded memory on any corpus


def same_dtype(step_updates):
    """Cast every update to its variable's dtype.

    Python-float constants in the update rules (``beta_1 = 0.9``) are float64
    under the default floatX, which turns a float32 model's accumulator
    updates into float64 expressions that ``pytensor.function`` refuses.
    """
    return OrderedDict((v, pt.cast(e, v.dtype)) for v, e in step_updates.items())


def check_name(kind, name, valid):
    """Raise a ConfigError listing the valid names unless ``name`` is one of them."""
    if name not in valid:
        raise ConfigError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}")
    return name


def check_positive(**values):
    """Every value must be a finite number > 0 (``None`` skips the check)."""
    errors.check_positive(values)


class LessonAdapter:
    """Batched simple RNN over character ids (the lesson's model, any batch size).

    Parameters
    ----------
    vocab : symrnn.data.Vocab
    hidden : int
        Hidden units.
    optimizer : str
        One of :data:`OPTIMIZERS`.
    lr : float
        Learning rate; held in a shared variable, so it can change without recompiling.
    clipnorm : float or None
        Rescale the gradients when their global norm exceeds this.
    loss : {"mean", "sum"}
        What the update minimises: the mean cross-entropy per character, or
        its sum over a window's characters averaged over the batch (the lesson).
    """

    name = "lesson"

    def __init__(self, vocab, hidden=256, optimizer="adam", lr=0.002, clipnorm=None, loss="mean",
                 act="relu", dtype="float32", seed=42, backend=None):
        check_name("optimizer", optimizer, tuple(OPTIMIZERS))
        check_name("loss", loss, LOSS_AGGREGATIONS)
        check_name("dtype", dtype, DTYPES)
        activation(act)
        check_positive(hidden=hidden, learning_rate=lr, clipnorm=clipnorm)
        self.vocab, self.backend, self.dtype = vocab, backend, dtype
        self.config = dict(model=self.name, hidden=int(hidden), optimizer=optimizer, lr=float(lr),
                           clipnorm=None if clipnorm is None else float(clipnorm), loss=loss,
                           act=act, dtype=dtype, seed=int(seed))
        self.params = self._init_params(vocab.size, int(hidden), np.random.default_rng(seed))
        self.lr = pytensor.shared(np.asarray(lr, dtype=dtype), name="lr")
        self.grad_norm = pytensor.shared(np.asarray(0.0, dtype=dtype), name="grad_norm")
        self.x, self.y = pt.imatrix("x"), pt.imatrix("y")  # [B, T] ids
        self.logits = self._logits(self.x)                  # [T, B, V]
        self.char_losses = losses.sparse_categorical_crossentropy_from_logits(self.logits, self.y.T)
        self._optimizer_updates = OrderedDict()
        self.state_vars = self._build_train_graph()

    @classmethod
    def from_config(cls, vocab, config, backend=None):
        kwargs = {k: v for k, v in config.items() if k != "model"}
        return cls(vocab, backend=backend, **kwargs)

    def _init_params(self, vocab_size, hidden, rng):
        specs = (("W_x", "normal", (vocab_size, hidden)), ("b_x", "zeros", (hidden,)),
                 ("W_h", "identity", (hidden, hidden)),
                 ("W_y", "normal", (hidden, vocab_size)), ("b_y", "zeros", (vocab_size,)))
        return [shared(init_array(init, shape, rng, self.dtype), name) for name, init, shape in specs]

    def _logits(self, x):
        W_x, b_x, W_h, W_y, b_y = self.params
        xw = W_x[x.T] + b_x                                   # [T, B, H]: row lookup, hoisted
        h0 = pt.zeros((x.shape[0], W_h.shape[0]), dtype=self.dtype)
        step = lambda xw_t, h_tm1, W: simple_step(xw_t, h_tm1, W, act=activation(self.config["act"]))
        [hs] = loop(step, [xw], [h0], [W_h])                  # only the recurrence is in scan
        return pt.dot(hs, W_y) + b_y

    def _objective(self):
        if self.config["loss"] == "sum":
            return self.char_losses.sum(axis=0).mean()  # summed over T, averaged over B
        return losses.mean(self.char_losses)

    def _build_train_graph(self):
        rule = OPTIMIZERS[self.config["optimizer"]]

        def capturing_rule(grads, params):
            step_updates = same_dtype(rule(grads, params, lr=self.lr))
            self._optimizer_updates.update(step_updates)
            step_updates[self.grad_norm] = updates.global_norm(grads)  # cheap NaN/inf witness
            return step_updates

        self._rule = capturing_rule
        # The rule runs when the function is compiled; build the update dict now
        # (symbolically, without compiling) so the accumulators exist for checkpoints.
        self._train_updates = training_updates(self._objective(), self.params, capturing_rule,
                                               clipnorm=self.config["clipnorm"])
        return [v for v in self._train_updates if v not in self.params and v is not self.grad_norm]

    @cached_property
    def _train_fn(self):
        return compile_function([self.x, self.y], losses.mean(self.char_losses),
                                updates=self._train_updates, backend=self.backend)

    @cached_property
    def _eval_fn(self):
        return compile_function([self.x, self.y], losses.mean(self.char_losses), backend=self.backend)

    @cached_property
    def _predict_fn(self):
        probs = pt.special.softmax(self.logits, axis=-1).dimshuffle(1, 0, 2)
        return compile_function([self.x], probs, backend=self.backend)

    def compile(self, evaluation=True):
        """Build the training function, and the evaluation one unless ``evaluation=False``,
        now rather than on first use; returns the functions built."""
        return (self._train_fn, self._eval_fn) if evaluation else (self._train_fn,)

    def check_ids(self, ids, name):
        """Ids as an int32 ``[B, T]`` array, or a ShapeError saying what is wrong."""
        arr = np.asarray(ids)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ShapeError(f"{name} must hold integer character ids, got dtype {arr.dtype}; "
                             "encode text with vocab.encode")
        if arr.ndim != 2 or 0 in arr.shape:
            raise ShapeError(f"{name} must be a non-empty 2-D array [batch, seq_len], got shape {arr.shape}")
        if arr.min() < 0 or arr.max() >= self.vocab.size:
            raise ShapeError(f"{name} holds ids outside [0, {self.vocab.size}); "
                             "were they encoded with another vocabulary?")
        return arr.astype(np.int32, copy=False)

    def check_pair(self, x, y):
        x, y = self.check_ids(x, "x"), self.check_ids(y, "y")
        if x.shape != y.shape:
            raise ShapeError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
        return x, y

    def train_batch(self, x, y):
        """One update on ``[B, T]`` id windows; returns the mean loss per char before it."""
        x, y = self.check_pair(x, y)  # before compiling anything
        return float(self._train_fn(x, y))

    def evaluate(self, x, y):
        """Mean cross-entropy per character (nats) over all windows, in chunks."""
        x, y = self.check_pair(x, y)  # before compiling anything
        total = sum(float(self._eval_fn(x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK])) * len(x[i:i + EVAL_CHUNK])
                    for i in range(0, len(x), EVAL_CHUNK))
        return total / len(x)

    def predict_proba(self, x):
        """``[B, T, V]`` next-character probabilities after each input position."""
        x = self.check_ids(x, "x")
        return self._predict_fn(x)

    def set_lr(self, lr):
        check_positive(learning_rate=lr)
        self.lr.set_value(np.asarray(lr, dtype=self.dtype))
        self.config["lr"] = float(lr)

    def last_grad_norm(self):
        return float(self.grad_norm.get_value())


class LayersAdapter:
    """A character model built from :mod:`symrnn.layers` (``--model simplernn``; see
    :class:`GatedAdapter` for ``gru`` and ``lstm``).

    ``Embedding(V, embed) -> SimpleRNN(hidden, relu, identity W_h) x layers ->
    TimeDistributed(Dense(V, softmax))``, trained on the mean cross-entropy per
    character through the layer API's own compiled functions. Layer names are
    fixed, so checkpoint keys do not depend on how many models a process built.
    """

    name = "simplernn"

    def __init__(self, vocab, hidden=256, optimizer="adam", lr=0.002, clipnorm=None, loss="mean",
                 act="relu", dtype="float32", seed=42, backend=None, embed=42, layers=1):
        check_name("optimizer", optimizer, tuple(OPTIMIZERS))
        check_name("dtype", dtype, DTYPES)
        if loss != "mean":
            raise ConfigError(f"--model {self.name} trains on the mean loss per character; "
                              f"loss {loss!r} is only for --model lesson (valid names here: mean)")
        activation(act)
        check_positive(hidden=hidden, learning_rate=lr, clipnorm=clipnorm, embed=embed, layers=layers)
        self.vocab, self.backend, self.dtype = vocab, backend, dtype
        self.config = dict(model=self.name, hidden=int(hidden), optimizer=optimizer, lr=float(lr),
                           clipnorm=None if clipnorm is None else float(clipnorm), loss=loss, act=act,
                           dtype=dtype, seed=int(seed), embed=int(embed), layers=int(layers))
        self.model = self._build()
        self.model.compile(optimizer=self._optimizer(), loss="sparse_categorical_crossentropy", backend=backend)
        self.params = self.model.params

    @classmethod
    def from_config(cls, vocab, config, backend=None):
        return cls(vocab, backend=backend, **{k: v for k, v in config.items() if k != "model"})

    def recurrent_layer(self, i):
        from ..layers import SimpleRNN
        return SimpleRNN(self.config["hidden"], activation=self.config["act"], inner_init="identity",
                         return_sequences=True, name=f"rnn_{i}", seed=self.config["seed"] + 1 + i, dtype=self.dtype)

    def _build(self):
        from ..layers import Dense, Embedding, Sequential, TimeDistributed
        c = self.config
        stack = [Embedding(self.vocab.size, c["embed"], name="embedding", seed=c["seed"], dtype=self.dtype)]
        stack += [self.recurrent_layer(i) for i in range(c["layers"])]
        stack.append(TimeDistributed(Dense(self.vocab.size, activation="softmax", name="output",
                                           seed=c["seed"] + 100, dtype=self.dtype), name="timedistributed"))
        return Sequential(stack, name=self.name)

    def _optimizer(self):
        from ..graph.optimizers import SGD, Adagrad, Adam, RMSprop
        c = self.config
        kinds = {"sgd": lambda **k: SGD(**k), "momentum": lambda **k: SGD(momentum=0.9, **k),
                 "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}
        optimizer = kinds[c["optimizer"]](lr=c["lr"], clipnorm=c["clipnorm"])
        rule = optimizer.rule
        optimizer.rule = lambda grads, params, lr: same_dtype(rule(grads, params, lr))  # float32 models
        return optimizer

    @property
    def state_vars(self):
        """Optimizer accumulators and layer RNGs; they exist once the train function is built."""
        from ..layers import fitting
        fitting.train_fn(self.model)  # the optimizer creates its accumulators while building it
        rngs = [layer.rng_var for layer in self.model.layers if hasattr(layer, "rng_var")]
        return list(self.model.optimizer.accumulators) + rngs

    def compile(self, evaluation=True):
        from ..layers import fitting
        train = fitting.train_fn(self.model)
        return (train, fitting.eval_fn(self.model)) if evaluation else (train,)

    check_ids = LessonAdapter.check_ids
    check_pair = LessonAdapter.check_pair

    def train_batch(self, x, y):
        x, y = self.check_pair(x, y)
        from ..layers import fitting
        return float(fitting.train_fn(self.model)(x, y.astype(np.int64))[0])

    def evaluate(self, x, y):
        x, y = self.check_pair(x, y)
        from ..layers import fitting
        fn = fitting.eval_fn(self.model)
        total = sum(float(fn(x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK].astype(np.int64))[0]) * len(x[i:i + EVAL_CHUNK])
                    for i in range(0, len(x), EVAL_CHUNK))
        return total / len(x)

    def predict_proba(self, x):
        from ..layers import fitting
        x = self.check_ids(x, "x")
        [probs] = fitting.predict_fn(self.model)(x)
        return probs

    def set_lr(self, lr):
        check_positive(learning_rate=lr)
        self.model.optimizer.lr = lr
        self.config["lr"] = float(lr)

    def last_grad_norm(self):
        return 0.0  # not an output of the layer API's train function; loss and weights are checked


class GatedAdapter(LayersAdapter):
    """``--model gru`` / ``lstm``: the layer API's ``GRU`` / ``LSTM`` layers (the
    :mod:`symrnn.graph.gated` cells, Keras 1 gate order, glorot / orthogonal initialisers;
    the LSTM's bias starts at zeros here, as it always has in the CLI)."""

    def __init__(self, vocab, act="tanh", **kwargs):
        super().__init__(vocab, act=act, **kwargs)

    def recurrent_layer(self, i):
        from ..layers import GRU, LSTM
        common = dict(activation=self.config["act"], return_sequences=True, name=f"rnn_{i}",
                      seed=self.config["seed"] + 1 + i, dtype=self.dtype)
        if self.name == "gru":
            return GRU(self.config["hidden"], **common)
        return LSTM(self.config["hidden"], unit_forget_bias=False, **common)   # b starts at zeros


class GRUAdapter(GatedAdapter):
    name = "gru"


class LSTMAdapter(GatedAdapter):
    name = "lstm"


MODELS = {"lesson": LessonAdapter, "simplernn": LayersAdapter, "gru": GRUAdapter, "lstm": LSTMAdapter}


def build_model(vocab, config, backend=None):
    """The adapter a config names (``config["model"]``)."""
    check_name("model", config.get("model"), tuple(MODELS))
    return MODELS[config["model"]].from_config(vocab, config, backend=backend)
