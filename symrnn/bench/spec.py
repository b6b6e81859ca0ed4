"""The benchmarked models: what ``symrnn train --model NAME`` builds, and their weights by role.

:func:`train_config` is the config dict the bench hands to
:func:`symrnn.layers.charmodels.compiled_char_model`, the builder the CLI's
models use, with plain SGD (the update PyTorch and numpy repeat by hand).
:func:`twin_weights` reads a built model's weights into a dict keyed by role,
the dict the numpy and PyTorch twins start from:

=======  ======================  ====================================
role     layer weight            shape
=======  ======================  ====================================
``E``    ``embedding.W``         ``[V, embed]`` (absent for ``lesson``)
``W_x``  ``rnn_0.W_x``           ``[embed or V, gates * H]``
``W_h``  ``rnn_0.W_h``           ``[H, gates * H]``
``b``    ``rnn_0.b``             ``[gates * H]``
``W_y``  ``output.W``            ``[H, V]``
``b_y``  ``output.b``            ``[V]``
=======  ======================  ====================================

Gates are in Keras order, GRU ``(z, r, h)`` and LSTM ``(i, f, c, o)``.

>>> model = compiled_model(5, "gru", hidden=4, seq_len=3, dtype="float64", backend="py")
>>> {role: w.shape for role, w in twin_weights(model).items()}
{'E': (5, 42), 'W_x': (42, 12), 'W_h': (4, 12), 'b': (12,), 'W_y': (4, 5), 'b_y': (5,)}
>>> CELL["lesson"], GATES["lstm"]
('simple', 4)
"""
import numpy as np

from ..errors import ConfigError
from ..graph.cellrecords import CELLS
from ..layers.charmodels import EMBED, MODELS, compiled_char_model

#: The models ``symrnn bench`` runs by default: one per cell.
DEFAULT_MODELS = ("simplernn", "gru", "lstm")
#: ``--cell`` names (the old bench's flag) for ``--model`` names.
CELL_ALIASES = {"simple": "simplernn", "gru": "gru", "lstm": "lstm"}
CELL = {"lesson": "simple", "simplernn": "simple", "gru": "gru", "lstm": "lstm"}
GATES = {name: record.n_gates for name, record in CELLS.items()}
#: The simple RNNs' activation as the CLI builds them (gated cells: tanh, sigmoid gates).
SIMPLE_ACT = "relu"
# Every timed round repeats steps on one fixed batch: a tiny rate keeps the weights finite
# over thousands of steps (diverged weights would time inf/NaN arithmetic). Same work at any rate.
LR = 1e-6
ROLES = {"embedding.W": "E", "rnn_0.W_x": "W_x", "rnn_0.W_h": "W_h", "rnn_0.b": "b",
         "output.W": "W_y", "output.b": "b_y"}


def check_model(name):
    """``name`` if it is one of the CLI's models, else a ConfigError listing them."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    return name


def gates(model):
    """Gate blocks of ``model``'s cell: its weight widths are ``gates * H``."""
    return GATES[CELL[check_model(model)]]


def uses_embedding(model):
    """The layer models embed ids; the lesson model feeds one-hot rows to its RNN."""
    return check_model(model) != "lesson"


def train_config(model, hidden, seq_len, dtype="float32", lr=LR, embed=EMBED, seed=42):
    """The config of ``symrnn train --model MODEL --optimizer sgd --sigmoid-gates`` at these
    sizes (the CLI's defaults otherwise: mean cross-entropy per character).

    Logistic gates, not the CLI's default ``hard_sigmoid`` ones: PyTorch's ``nn.GRU`` and
    ``nn.LSTM`` compute those, and so do the numpy twins the first losses are checked
    against. The kernels are the same code either way, the gate function aside (a
    ``hard_sigmoid`` costs less than a logistic one)."""
    return {"model": check_model(model), "hidden": int(hidden), "optimizer": "sgd", "lr": float(lr),
            "dtype": dtype, "seq_len": int(seq_len), "embed": int(embed), "seed": int(seed),
            "keras1_gates": False}


def compiled_model(vocab_size, model, hidden, seq_len, dtype="float32", backend=None, **config):
    """The compiled ``Sequential`` that ``symrnn train`` would train (see :func:`train_config`)."""
    return compiled_char_model(vocab_size, train_config(model, hidden, seq_len, dtype, **config),
                               backend=backend)


def twin_weights(model):
    """A copy of ``model``'s weights keyed by role (see the module docstring)."""
    found = {p.name: p for p in model.trainable_params}
    if not set(found) <= set(ROLES):
        raise ConfigError(f"not a one-layer character model: weights {sorted(found)}")
    return {ROLES[name]: np.array(p.get_value()) for name, p in found.items()}


def set_twin_weights(model, weights):
    """Put role-keyed ``weights`` into ``model`` (e.g. a twin's after a step)."""
    for p in model.trainable_params:
        p.set_value(np.asarray(weights[ROLES[p.name]], dtype=p.dtype))
