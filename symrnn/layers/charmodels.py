"""Character models as ``symrnn train`` builds them: one builder for the CLI, the bench and you.

Every model maps a window of character ids ``[B, T]`` to next-character
probabilities ``[B, T, V]``, built from the layer classes only:

- ``"lesson"``: the lesson's raw RNN as layers: ``OneHot(V) -> SimpleRNN(H,
  relu, W_x normal, W_h identity) -> TimeDistributed(Dense(V, softmax, normal))``
  (the lesson's initialisers; its ``b_x + b_h`` is the layer's one bias);
- ``"simplernn"``: ``Embedding(V, 42) -> SimpleRNN(H, relu, orthogonal W_h) x layers``;
- ``"gru"`` / ``"lstm"``: ``Embedding(V, 42) -> GRU/LSTM(H) x layers``.

Defaults chosen by measurement (``symrnn bench --learning`` on Nietzsche against
the same model in PyTorch with PyTorch's defaults; the README's "Learning speed"
has the table): the embedding starts from N(0, 1) (``embed_init``, PyTorch's
default) rather than Keras' U(-0.05, 0.05); the simple RNN's recurrent weights
from an orthogonal matrix (``inner_init``; the lesson's identity start learns
slowly on windows of 50); gated models use the lesson's Keras 1 gates
(``keras1_gates=True``: ``hard_sigmoid``, zero forget-gate bias), which ended
lower than logistic gates with a forget-gate bias of 1 (``keras1_gates=False``)
for both the LSTM and the GRU. The layer classes themselves keep Keras 1
defaults, so the lesson's own code runs as written.

Layer names are fixed (``embedding``, ``rnn_0``, ..., ``output``), so weight
and checkpoint keys do not depend on how many models a process built.

>>> model = char_model(vocab_size=5, model="gru", hidden=4, seq_len=3, dtype="float64")
>>> [layer.name for layer in model.stack]
['embedding', 'rnn_0', 'timedistributed']
>>> model.stack[1].inner_activation
'hard_sigmoid'
"""
import numpy as np

from ..errors import ConfigError
from ..graph import losses
from ..graph.optimizers import SGD, Adagrad, Adam, RMSprop
from .core import Dense, Embedding, OneHot, TimeDistributed
from .models import Sequential
from .recurrent import GRU, LSTM, SimpleRNN

MODELS = ("lesson", "simplernn", "gru", "lstm")
OPTIMIZERS = {"sgd": SGD, "momentum": lambda **kw: SGD(momentum=0.9, **kw), "adam": Adam,
              "rmsprop": RMSprop, "adagrad": Adagrad}
LOSS_AGGREGATIONS = ("mean", "sum")   # per char; or summed over a window (the lesson's error)
DEFAULT_ACT = {"lesson": "relu", "simplernn": "relu", "gru": "tanh", "lstm": "tanh"}
EMBED = 42   # the lesson's n_fac
#: The character models' embedding init, N(0, 1) as PyTorch's: on Nietzsche it learns far
#: faster than Keras' U(-0.05, 0.05), which the Keras-like ``Embedding`` keeps unless told
#: (measured with ``symrnn bench --learning``; the README's "Learning speed" has the table).
EMBED_INIT = "standard_normal"
#: The one home of the character models' defaults (the CLI, its checkpoints and the bench read them).
CHAR_DEFAULTS = dict(model="lesson", hidden=256, layers=1, optimizer="adam", lr=0.002, clipnorm=None,
                     loss="mean", act=None, dtype="float32", seed=42, embed=EMBED, keras1_gates=True,
                     embed_init=EMBED_INIT, inner_init=None)


def check_name(kind, name, valid):
    """``name`` if it is one of ``valid``, else a ConfigError listing them."""
    if name not in valid:
        raise ConfigError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}")
    return name


#: The recurrent weights' init where ``inner_init`` is None: the lesson's identity (IRNN)
#: for its own model, Keras' orthogonal for the others (measured: see the module docstring).
DEFAULT_INNER_INIT = {"lesson": "identity", "simplernn": "orthogonal", "gru": "orthogonal",
                      "lstm": "orthogonal"}


def _recurrent(model, i, hidden, act, keras1_gates, seed, dtype, inner_init):
    common = dict(activation=act, return_sequences=True, name=f"rnn_{i}", seed=seed + 1 + i,
                  dtype=dtype, inner_init=inner_init or DEFAULT_INNER_INIT[model])
    if model in ("lesson", "simplernn"):
        init = "normal" if model == "lesson" else "glorot_uniform"
        return SimpleRNN(hidden, init=init, **common)
    gates = "hard_sigmoid" if keras1_gates else "sigmoid"
    if model == "gru":
        return GRU(hidden, inner_activation=gates, **common)
    return LSTM(hidden, inner_activation=gates, unit_forget_bias=not keras1_gates, **common)


def char_model(vocab_size, model="simplernn", hidden=CHAR_DEFAULTS["hidden"], layers=1, act=None,
               dtype=CHAR_DEFAULTS["dtype"], seed=CHAR_DEFAULTS["seed"], seq_len=None, embed=EMBED,
               keras1_gates=CHAR_DEFAULTS["keras1_gates"], embed_init=EMBED_INIT, inner_init=None):
    """The ``Sequential`` character model ``model`` names (see the module docstring).

    ``seq_len`` fixes the window length in the model's input shape (``None``:
    any length). ``act`` defaults to relu for the simple RNNs, tanh for gated cells.
    ``embed_init`` initialises the embedding (not used by the one-hot lesson model),
    ``inner_init`` the recurrent weights (None: :data:`DEFAULT_INNER_INIT`).
    """
    check_name("model", model, MODELS)
    if model == "lesson" and layers != 1:
        raise ConfigError("the lesson model has one recurrent layer; --layers is for "
                          "--model simplernn, gru and lstm")
    act = act or DEFAULT_ACT[model]
    if model == "lesson":
        first = OneHot(vocab_size, input_length=seq_len, name="onehot", dtype=dtype)
    else:
        first = Embedding(vocab_size, embed, input_length=seq_len, init=embed_init,
                          name="embedding", seed=seed, dtype=dtype)
    stack = [first] + [_recurrent(model, i, hidden, act, keras1_gates, seed, dtype, inner_init)
                       for i in range(layers)]
    init = "normal" if model == "lesson" else "glorot_uniform"
    output = Dense(vocab_size, activation="softmax", init=init, name="output", seed=seed + 100,
                   dtype=dtype)
    return Sequential(stack + [TimeDistributed(output, name="timedistributed")], name=model)


def char_optimizer(name="adam", lr=0.002, clipnorm=None):
    """The optimizer object ``symrnn train --optimizer name`` uses."""
    return OPTIMIZERS[check_name("optimizer", name, tuple(OPTIMIZERS))](lr=lr, clipnorm=clipnorm)


def char_loss(aggregation="mean", seq_len=None):
    """Sparse cross-entropy per character (``"mean"``), or ``"sum"``: summed over a
    window's ``seq_len`` characters and averaged over the batch (the lesson's error)."""
    check_name("loss", aggregation, LOSS_AGGREGATIONS)
    if aggregation == "mean":
        return "sparse_categorical_crossentropy"
    if seq_len is None:
        raise ConfigError("loss 'sum' adds up a window's characters, so it needs seq_len")
    scale = np.float64(seq_len)

    def summed_per_window(probs, ids):   # the model averages items: x T gives the sum over T
        return losses.sparse_categorical_crossentropy(probs, ids) * scale.astype(probs.dtype)
    summed_per_window.sparse = True   # integer targets, like the sparse cross-entropy
    return summed_per_window


def compiled_char_model(vocab_size, config, backend=None):
    """``char_model`` compiled as ``symrnn train`` compiles it, from its config dict
    (keys: model, hidden, layers, act, dtype, seed, seq_len, embed, optimizer, lr,
    clipnorm, loss, keras1_gates, embed_init, inner_init; missing keys take the defaults above)."""
    c = dict(config)
    model = char_model(vocab_size, c.get("model", "simplernn"), c.get("hidden", 256),
                       c.get("layers", 1), c.get("act"), c.get("dtype", "float32"),
                       c.get("seed", 42), c.get("seq_len"), c.get("embed", EMBED),
                       c.get("keras1_gates", CHAR_DEFAULTS["keras1_gates"]),
                       c.get("embed_init", EMBED_INIT),
                       c.get("inner_init"))
    model.compile(char_optimizer(c.get("optimizer", "adam"), c.get("lr", 0.002), c.get("clipnorm")),
                  char_loss(c.get("loss", "mean"), c.get("seq_len")), backend=backend)
    return model
