"""The lesson's raw GRU in PyTensor, in its two forms (lesson section 11).

The same story as :mod:`symrnn.lesson.rnn` (declared inputs, shared weights,
``scan`` of a step, summed cross-entropy, SGD updates, compiled functions), only
the step is the lesson's GRU cell, written here:

- ``form="separate"``: reset, update and candidate each own an input weight
  ``W_x?`` (V, H), a hidden weight ``W_h?`` (H, H) and a bias ``b_?``;
- ``form="combined"``: one ``W_?`` of shape (H + V, H) per gate over ``[h, x]``.

Weights start like the lesson's non-recurrent ones: normal with scale
sqrt(2 / rows), zero biases (so the two forms start from different numbers; use
:func:`separate_to_combined` to make them equal).
``lessons/11_raw_gru.py`` builds both forms cell by cell from these cells and
weight helpers; the tests check that its graphs are :class:`LessonGRU`'s.

>>> import numpy as np
>>> gru = LessonGRU(vocab_size=5, n_hidden=4, form="combined", seed=0, backend="py")
>>> [p.name for p in gru.params]
['W_r', 'b_r', 'W_u', 'b_u', 'W_c', 'b_c', 'W_y', 'b_y']
>>> gru.predict_proba(np.eye(5)[[1, 2, 3]]).shape
(3, 5)
"""
import numpy as np
import pytensor.tensor as pt

from ..errors import ConfigError, ShapeError
from ..graph.cells import activation
from ..graph.loops import loop
from ..graph.params import init_array, shared
from .rnn import RawLessonModel, weights_and_bias

SEPARATE_GATE_NAMES = ("W_xr", "W_hr", "b_r", "W_xu", "W_hu", "b_u", "W_xc", "W_hc", "b_c")
COMBINED_GATE_NAMES = ("W_r", "b_r", "W_u", "b_u", "W_c", "b_c")
OUTPUT_NAMES = ("W_y", "b_y")


def _gate(x_t, h_tm1, W_x, W_h, b):
    """The lesson's gate: ``sigmoid(x . W_x + b + h . W_h)``."""
    return pt.sigmoid(pt.dot(x_t, W_x) + b + pt.dot(h_tm1, W_h))


def _blend(u, h_tm1, h_new):
    """``u * h + (1 - u) * h_new``: u near 1 keeps the old state."""
    return u * h_tm1 + (1 - u) * h_new


def gru_separate_cell(x_t, h_tm1, W_xr, W_hr, b_r, W_xu, W_hu, b_u, W_xc, W_hc, b_c,
                      act="tanh"):
    """The lesson GRU's new hidden state, separate weights per gate.

    The candidate is the gate formula with the reset-gated state ``r * h`` and
    activation ``act`` (the lesson's notes do not name it; ``"sigmoid"`` makes it
    literally the gate function applied to ``r * h``).
    """
    r = _gate(x_t, h_tm1, W_xr, W_hr, b_r)
    u = _gate(x_t, h_tm1, W_xu, W_hu, b_u)
    h_new = activation(act)(pt.dot(x_t, W_xc) + b_c + pt.dot(r * h_tm1, W_hc))
    return _blend(u, h_tm1, h_new)


def gru_combined_cell(x_t, h_tm1, W_r, b_r, W_u, b_u, W_c, b_c, act="tanh"):
    """The lesson GRU's new hidden state, one matrix per gate over ``[h, x]``.

    Each ``W_?`` has shape ``(H + V, H)``: its first H rows meet ``h``, the
    rest meet ``x`` (see :func:`separate_to_combined`).
    """
    hx = pt.concatenate([h_tm1, x_t], axis=-1)
    r = pt.sigmoid(pt.dot(hx, W_r) + b_r)
    u = pt.sigmoid(pt.dot(hx, W_u) + b_u)
    h_new = activation(act)(pt.dot(pt.concatenate([r * h_tm1, x_t], axis=-1), W_c) + b_c)
    return _blend(u, h_tm1, h_new)


def gru_separate_step(x_t, h_tm1, W_xr, W_hr, b_r, W_xu, W_hu, b_u, W_xc, W_hc, b_c,
                      W_y, b_y, act="tanh"):
    """Lesson-style step, separate weights: ``(h_t, logits_t)``."""
    h_t = gru_separate_cell(x_t, h_tm1, W_xr, W_hr, b_r, W_xu, W_hu, b_u, W_xc, W_hc, b_c, act)
    return h_t, pt.dot(h_t, W_y) + b_y


def gru_combined_step(x_t, h_tm1, W_r, b_r, W_u, b_u, W_c, b_c, W_y, b_y, act="tanh"):
    """Lesson-style step, combined weights: ``(h_t, logits_t)``."""
    h_t = gru_combined_cell(x_t, h_tm1, W_r, b_r, W_u, b_u, W_c, b_c, act)
    return h_t, pt.dot(h_t, W_y) + b_y


def separate_to_combined(params):
    """Map separate-form weights (dict by name) onto the combined form.

    ``W_? = [[W_h?], [W_x?]]`` stacked by rows (h first, matching ``[h, x]``);
    biases and the output layer carry over unchanged. Works on numpy arrays.

    >>> H, V = 2, 3
    >>> sep = {n: np.zeros((V, H)) if n.startswith("W_x") else np.ones((H, H))
    ...        if n.startswith("W_h") else np.zeros(H) for n in SEPARATE_GATE_NAMES}
    >>> separate_to_combined(sep)["W_c"].shape
    (5, 2)
    """
    missing = [n for n in SEPARATE_GATE_NAMES if n not in params]
    if missing:
        raise ShapeError(f"separate GRU weights lack {', '.join(missing)}; "
                         f"expected the names {', '.join(SEPARATE_GATE_NAMES)}")
    combined = {name: params[name] for name in OUTPUT_NAMES if name in params}
    for g in "ruc":
        W_h, W_x = np.asarray(params[f"W_h{g}"]), np.asarray(params[f"W_x{g}"])
        if W_h.shape[1] != W_x.shape[1] or W_h.shape[0] != W_h.shape[1]:
            raise ShapeError(f"gate {g}: W_h{g} {W_h.shape} must be (H, H) and W_x{g} "
                             f"{W_x.shape} must be (V, H) with the same H")
        combined[f"W_{g}"] = np.concatenate([W_h, W_x], axis=0)
        combined[f"b_{g}"] = params[f"b_{g}"]
    return combined


FORMS = {"separate": (SEPARATE_GATE_NAMES + OUTPUT_NAMES, gru_separate_step),
         "combined": (COMBINED_GATE_NAMES + OUTPUT_NAMES, gru_combined_step)}


def param_names(form):
    """Parameter names of a form, in its step's argument order."""
    return FORMS[check_form(form)][0]


def check_form(form):
    if form not in FORMS:
        raise ConfigError(f"unknown GRU form {form!r}; use 'separate' or 'combined'")
    return form


def separate_gate_weights(vocab_size, n_hidden, rng, gate, dtype="float32"):
    """One gate of the separate form: ``W_x<gate>`` (V, H), ``W_h<gate>`` (H, H), ``b_<gate>``.

    Both weights normal with scale sqrt(2 / rows), the bias zero; ``gate`` is
    ``"r"`` (reset), ``"u"`` (update) or ``"c"`` (candidate).
    """
    W_x = shared(init_array("normal", (vocab_size, n_hidden), rng, dtype), f"W_x{gate}")
    W_h = shared(init_array("normal", (n_hidden, n_hidden), rng, dtype), f"W_h{gate}")
    b = shared(init_array("zeros", (n_hidden,), rng, dtype), f"b_{gate}")
    return W_x, W_h, b


def combined_gate_weights(vocab_size, n_hidden, rng, gate, dtype="float32"):
    """One gate of the combined form: ``W_<gate>`` (H + V, H) over ``[h, x]`` and ``b_<gate>``."""
    return weights_and_bias(n_hidden + vocab_size, n_hidden, rng, gate, dtype)


GATE_WEIGHTS = {"separate": separate_gate_weights, "combined": combined_gate_weights}


def gru_lesson_params(vocab_size, n_hidden, rng, form="separate", dtype="float32"):
    """Shared variables for a form, in step order: reset, update and candidate
    gate weights, then the output layer ``W_y``, ``b_y``; normal(sqrt(2/rows))
    weights, zero biases."""
    gate_weights = GATE_WEIGHTS[check_form(form)]
    gates = [w for gate in "ruc" for w in gate_weights(vocab_size, n_hidden, rng, gate, dtype)]
    return gates + list(weights_and_bias(n_hidden, vocab_size, rng, "y", dtype))


def gru_forward(inp, h0, params, form="separate", act="tanh", unroll=False):
    """Hidden states and logits for every step: the loop over one GRU form's step."""
    form_step = FORMS[check_form(form)][1]
    act = activation(act)
    step = lambda x_t, h_tm1, *p: form_step(x_t, h_tm1, *p, act=act)
    hs, zs = loop(step, [inp], [h0, None], params, unroll=unroll)
    return hs, zs


class LessonGRU(RawLessonModel):
    """The lesson's raw GRU (either form) with its two compiled functions.

    ``act`` is the candidate's activation (the gates are always sigmoid).
    """

    def __init__(self, vocab_size, n_hidden=256, form="separate", act="tanh", dtype="float32",
                 seed=42, unroll=False, seq_len=None, backend=None):
        self.form, self.act = check_form(form), activation(act)
        super().__init__(vocab_size, n_hidden, dtype, seed, unroll, seq_len, backend)

    def make_params(self, rng):
        return gru_lesson_params(self.vocab_size, self.n_hidden, rng, self.form, self.dtype)

    def forward_graph(self, inp, h0, unroll):
        return gru_forward(inp, h0, self.params, self.form, self.act, unroll)
