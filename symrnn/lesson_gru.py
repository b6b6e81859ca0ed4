"""The lesson's raw GRU in PyTensor, in its two forms (facts section 11).

The same story as :mod:`symrnn.lesson_rnn` (declared inputs, shared weights,
``scan`` of a step, summed cross-entropy, SGD updates, compiled functions), only
the step is a GRU from :mod:`symrnn.gated`:

- ``form="separate"``: reset, update and candidate each own an input weight
  ``W_x?`` (V, H), a hidden weight ``W_h?`` (H, H) and a bias ``b_?``;
- ``form="combined"``: one ``W_?`` of shape (H + V, H) per gate over ``[h, x]``.

Weights start like the lesson's non-recurrent ones: normal with scale
sqrt(2 / rows), zero biases (so the two forms start from different numbers; use
:func:`symrnn.gated.separate_to_combined` to make them equal).

>>> import numpy as np
>>> gru = LessonGRU(vocab_size=5, n_hidden=4, form="combined", seed=0, backend="py")
>>> [p.name for p in gru.params]
['W_r', 'b_r', 'W_u', 'b_u', 'W_c', 'b_c', 'W_y', 'b_y']
>>> gru.predict_proba(np.eye(5)[[1, 2, 3]]).shape
(3, 5)
"""
from .cells import activation
from .errors import ConfigError
from .gated import (COMBINED_GATE_NAMES, OUTPUT_NAMES, SEPARATE_GATE_NAMES,
                    gru_combined_step, gru_separate_step)
from .lesson_rnn import RawLessonModel
from .params import init_array, shared
from .recurrent import loop

FORMS = {"separate": (SEPARATE_GATE_NAMES + OUTPUT_NAMES, gru_separate_step),
         "combined": (COMBINED_GATE_NAMES + OUTPUT_NAMES, gru_combined_step)}


def param_names(form):
    """Parameter names of a form, in its step's argument order."""
    return FORMS[check_form(form)][0]


def check_form(form):
    if form not in FORMS:
        raise ConfigError(f"unknown GRU form {form!r}; use 'separate' or 'combined'")
    return form


def _shape(name, vocab_size, n_hidden):
    """Shape of a weight from its name: W_x? (V,H), W_h? (H,H), W_? (H+V,H), W_y (H,V)."""
    if name == "W_y":
        return (n_hidden, vocab_size)
    if name == "b_y":
        return (vocab_size,)
    if name.startswith("b_"):
        return (n_hidden,)
    rows = {"W_x": vocab_size, "W_h": n_hidden}.get(name[:3], n_hidden + vocab_size)
    return (rows, n_hidden)


def gru_lesson_params(vocab_size, n_hidden, rng, form="separate", dtype="float32"):
    """Shared variables for a form, in step order: normal(sqrt(2/rows)) weights, zero biases."""
    return [shared(init_array("zeros" if n.startswith("b_") else "normal",
                              _shape(n, vocab_size, n_hidden), rng, dtype), n)
            for n in param_names(form)]


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
