"""Character models as the application sees them: a compiled model, its settings, evaluation.

:class:`CharModel` wraps the compiled ``Sequential`` that
:func:`symrnn.layers.charmodels.compiled_char_model` builds (one graph per
model: the same builder serves the CLI and the benchmark). Training goes
through that model's ``fit`` (:mod:`symrnn.app.run`); around it:

``model``         the compiled ``symrnn.layers`` model
``config``        JSON-able dict that rebuilds the same model (:func:`build_model`)
``vocab``         the :class:`symrnn.data.Vocab`
``evaluate(x, y) -> loss``      mean cross-entropy per char, no update
``predict_proba(x) -> probs``   ``[B, T, V]`` next-character distributions

>>> from symrnn.data import Vocab
>>> model = build_model(Vocab.from_text("abcab"), {"model": "lesson", "hidden": 3, "dtype": "float64",
...                     "seq_len": 3}, backend="py")
>>> x = np.array([[1, 2, 3]], dtype="int32"); y = np.array([[2, 3, 1]], dtype="int32")
>>> model.predict_proba(x).shape  # [B, T, V]
(1, 3, 4)
>>> bool(0 < model.evaluate(x, y) < 10)  # mean cross-entropy per char
True
"""
import numpy as np

from .. import errors
from ..errors import CheckpointError, ShapeError
from ..graph.cells import activation
from ..graph.jax import parallel
from ..graph.params import initialiser
from ..layers import fitting
from ..layers.charmodels import (
    CHAR_DEFAULTS,
    LOSS_AGGREGATIONS,
    MODELS,
    OPTIMIZERS,
    check_name,
    compiled_char_model,
)

DTYPES = ("float32", "float64")
EVAL_CHUNK = 512  # windows per evaluation call: bounded memory on any corpus
# Model settings a config may hold, with their defaults (older checkpoints lack the newer keys;
# a gated model saved before sigmoid gates became the default keeps the Keras 1 gates it had).
CONFIG_DEFAULTS = {**CHAR_DEFAULTS, "seq_len": None}
LEGACY_GATED_DEFAULTS = {"keras1_gates": True}
# Runs saved before the inits were settings started from Keras' U(-0.05, 0.05) embedding
# and, for simplernn, the identity recurrence (the others' were what they are now).
LEGACY_EMBED_INIT = "uniform"
LEGACY_INNER_INIT = {"simplernn": "identity"}


def check_config(config):
    """The config with defaults filled in, after checking every setting (nothing is built)."""
    unknown = sorted(set(config) - set(CONFIG_DEFAULTS))
    if unknown:
        raise errors.ConfigError(f"unknown model settings {unknown}; valid: {sorted(CONFIG_DEFAULTS)}")
    c = {**CONFIG_DEFAULTS, **config}
    check_name("model", c["model"], MODELS)
    check_name("optimizer", c["optimizer"], tuple(OPTIMIZERS))
    check_name("loss", c["loss"], LOSS_AGGREGATIONS)
    check_name("dtype", c["dtype"], DTYPES)
    for init in (c["embed_init"], c["inner_init"]):
        if init is not None:
            initialiser(init)
    if c["act"] is not None:
        activation(c["act"])
    errors.check_positive(dict(hidden=c["hidden"], layers=c["layers"], learning_rate=c["lr"],
                   clipnorm=c["clipnorm"], seq_len=c["seq_len"]))
    return c


class CharModel:
    """A compiled character model from :mod:`symrnn.layers.charmodels`, for the application."""

    def __init__(self, vocab, config, backend=None, devices=None):
        self.vocab, self.backend = vocab, backend
        self.devices = parallel.check_devices(devices, backend)   # batches split across them
        self.config = check_config(config)
        self.dtype, self.name = self.config["dtype"], self.config["model"]
        self.model = compiled_char_model(vocab.size, self.config, backend=backend)
        self.model.vocab = vocab
        self.params = self.model.params

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

    def evaluate(self, x, y):
        """Mean cross-entropy per character (nats) over all windows, in chunks."""
        x, y = self.check_pair(x, y)
        fn, total = fitting.eval_fn(self.model), 0.0
        for i in range(0, len(x), EVAL_CHUNK):
            rows = slice(i, i + EVAL_CHUNK)
            total += float(fn(x[rows], y[rows].astype(np.int64))[0]) * len(x[rows])
        return self._per_char(total / len(x), x.shape[1])

    def _per_char(self, loss, seq_len):
        # the lesson's summed loss is a window's sum; evaluations report nats per char
        return loss / self.chars_per_loss(seq_len)

    def chars_per_loss(self, seq_len):
        """Characters one unit of the training loss stands for: the window (the lesson's
        summed loss) or one character (the mean)."""
        return seq_len if self.config["loss"] == "sum" else 1

    def predict_proba(self, x):
        [probs] = fitting.predict_fn(self.model)(self.check_ids(x, "x"))
        return probs

    def set_lr(self, lr):
        errors.check_positive(dict(learning_rate=lr))
        self.model.optimizer.lr = lr
        self.config["lr"] = float(lr)


def build_model(vocab, config, backend=None, devices=None):
    """The :class:`CharModel` a config describes (``config["model"]``)."""
    return CharModel(vocab, config, backend=backend, devices=devices)


def saved_config(config, checkpoint_version):
    """A checkpoint's model config in today's terms, or a CheckpointError for one that cannot load.

    Version 1 checkpoints of ``--model lesson`` hold the weights of a graph that no
    longer exists (the lesson model is built from layers now); gated models saved
    then used Keras 1 gates, which their config did not record.
    """
    config = dict(config)
    if checkpoint_version < 2 and config.get("model") == "lesson":
        raise CheckpointError(
            "this checkpoint holds an old --model lesson graph (checkpoint format 1), which symrnn "
            "no longer builds: the lesson model is now made of layers with other weight names; "
            "retrain it with: symrnn train --model lesson")
    if checkpoint_version < 2 and config.get("model") in ("gru", "lstm"):
        config = {**LEGACY_GATED_DEFAULTS, **config}
    config.setdefault("embed_init", LEGACY_EMBED_INIT)
    config.setdefault("inner_init", LEGACY_INNER_INIT.get(config.get("model")))
    return config
