"""Lesson 6, section 11: a GRU written as a raw PyTensor graph, in two forms.

Section 8's recipe again (declared inputs, shared weights, a step run by
``pytensor.scan``, the summed error, ``pytensor.grad``, an updates
dictionary, ``pytensor.function``), now with a gated step, in two forms: one
with separate input and hidden weights for every gate, one with a single
weight matrix per gate over the concatenation of the hidden state and the
input. Each trains the lesson's way: one 8-character one-hot window per call
(batch 1), h0 zeros, plain SGD with lr 0.1 multiplied by 0.95 every 1,000
sequences, printing the mean summed error per 1,000 sequences, then a few
argmax predictions.

The GRU cells and weight helpers come from ``symrnn.lesson.gru``, so both
graphs are ``symrnn.lesson.gru.LessonGRU``'s; the test suite checks that
each form gives the same error and gradients.

Run it from the repository root::

    python lessons/11_raw_gru.py --quick
    python lessons/11_raw_gru.py --corpus nietzsche --encoding latin-1

``--form separate`` or ``--form combined`` trains only one; ``--limit N``
stops after N sequences. The lesson's errors per 8 characters ended near
16.7-17.7.
"""

# %% [markdown]
# # A GRU from raw graph pieces
#
# The simple RNN of section 8 overwrites its hidden state at every character.
# A GRU decides how much to overwrite: an *update gate* `u` blends the old
# state with a candidate, and a *reset gate* `r` decides how much of the old
# state the candidate may look at. Every gate is a small logistic regression
# on the current character and the previous state:
#
#     gate(x, h) = sigmoid(x . W_x + b + h . W_h)
#     r = gate_r(x, h);  u = gate_u(x, h)
#     h_new = tanh(x . W_xc + b_c + (r * h) . W_hc)
#     h = u * h + (1 - u) * h_new
#
# The *combined* form glues `[h, x]` into one vector and stacks `W_h` on top of
# `W_x`, so each gate needs a single matrix. It is the same function: the test
# suite maps one set of weights onto the other and gets identical outputs.

# %%
import time
from collections import OrderedDict
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytensor
import pytensor.tensor as pt

from symrnn.app.lessonkit import first_rows, lesson_setup
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.graph.backend import get_mode
from symrnn.lesson.gru import (
    combined_gate_weights,
    gru_combined_cell,
    gru_separate_cell,
    separate_gate_weights,
)
from symrnn.lesson.rnn import declare_inputs, summed_error, weights_and_bias

SEQ_LEN = 8          # characters per training sequence
N_HIDDEN = 256
LR, LR_DECAY, DECAY_EVERY = 0.1, 0.95, 1000  # the lesson's schedule
DTYPE = "float32"
N_SHOWN = 5          # predictions printed after training

# %% [markdown]
# ## The data: 8-character windows
#
# Exactly as in section 8: non-overlapping windows, targets shifted by one,
# each window made one-hot just before its call.


# %%
def training_windows(text, vocab, limit=None):
    x, y = first_rows(limit, *windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST))
    print(f"{len(text):,} characters, vocabulary {vocab.size}; {len(x):,} windows of {SEQ_LEN}")
    return x, y


# %% [markdown]
# ## Declared variables and shared weights
#
# The four declared variables are section 8's (`declare_inputs` returns
# `inp`, `outp`, `h0` and `lr`). The weights differ by form. Separate: each
# gate `g` in reset `r`, update `u` and candidate `c` owns an input weight
# `W_xg` (vocab, hidden), a hidden weight `W_hg` (hidden, hidden) and a bias
# `b_g`. Combined: each gate owns one `W_g` (hidden + vocab, hidden) and
# `b_g`. Both end with section 8's output layer `W_y`, `b_y`. Weights are
# drawn normal with scale sqrt(2 / rows), biases start at zero; the list is
# in the step's argument order.


# %%
def create_weights(vocab_size, n_hidden, rng, form, dtype=DTYPE):
    gate_weights = separate_gate_weights if form == "separate" else combined_gate_weights
    gates = [w for gate in "ruc" for w in gate_weights(vocab_size, n_hidden, rng, gate, dtype)]
    W_y, b_y = weights_and_bias(n_hidden, vocab_size, rng, "y", dtype)
    return gates + [W_y, b_y]


# %% [markdown]
# ## The two steps
#
# Each step computes the new state with the form's GRU cell (the four lines
# of the formulas above live in `symrnn.lesson.gru`: `gru_separate_cell`
# and `gru_combined_cell`) and reads the logits off it, as section 8's step
# did. `act` is the candidate's activation; the lesson's notes do not name
# it, and tanh is the usual choice.


# %%
def step_separate(x_t, h_tm1, W_xr, W_hr, b_r, W_xu, W_hu, b_u, W_xc, W_hc, b_c, W_y, b_y,
                  act="tanh"):
    h_t = gru_separate_cell(x_t, h_tm1, W_xr, W_hr, b_r, W_xu, W_hu, b_u, W_xc, W_hc, b_c, act)
    return h_t, pt.dot(h_t, W_y) + b_y


def step_combined(x_t, h_tm1, W_r, b_r, W_u, b_u, W_c, b_c, W_y, b_y, act="tanh"):
    h_t = gru_combined_cell(x_t, h_tm1, W_r, b_r, W_u, b_u, W_c, b_c, act)
    return h_t, pt.dot(h_t, W_y) + b_y


STEPS = {"separate": step_separate, "combined": step_combined}

# %% [markdown]
# ## `scan`, error, gradients, updates
#
# Section 8's cells with the GRU step: scan the step over the rows of `inp`
# from `h0`, sum the cross-entropy over the 8 characters, differentiate it
# with respect to every weight, and write `w <- w - g * lr` for each into
# the updates dictionary.


# %%
def scan_characters(step, inp, h0, params):
    hs, zs = pytensor.scan(step, sequences=inp, outputs_info=[h0, None], non_sequences=params,
                           strict=True, return_updates=False)
    return hs, zs


def upd_dict(params, grads, lr):
    return OrderedDict((w, w - g * lr) for w, g in zip(params, grads))


def build_graph(vocab_size, n_hidden, rng, form="separate", act="tanh", dtype=DTYPE):
    inp, outp, h0, lr = declare_inputs(dtype)
    params = create_weights(vocab_size, n_hidden, rng, form, dtype)
    hs, zs = scan_characters(partial(STEPS[form], act=act), inp, h0, params)
    error = summed_error(zs, outp)
    grads = pytensor.grad(error, params)
    return SimpleNamespace(inp=inp, outp=outp, h0=h0, lr=lr, params=params, hs=hs, zs=zs,
                           y=pt.special.softmax(zs, axis=-1), error=error, grads=grads,
                           updates=upd_dict(params, grads, lr))


# %% [markdown]
# ## Compiling
#
# The same two functions as section 8: `(h0, inp, outp, lr) -> error` that
# also applies the updates, and `(h0, inp) -> softmax at every step`.


# %%
def compile_functions(graph, backend=None):
    mode = get_mode(backend)
    train_fn = pytensor.function([graph.h0, graph.inp, graph.outp, graph.lr], graph.error,
                                 updates=graph.updates, mode=mode)
    predict_fn = pytensor.function([graph.h0, graph.inp], graph.y, mode=mode)
    return train_fn, predict_fn


# %% [markdown]
# ## Training with a decaying learning rate
#
# Batch 1 and h0 zeros, as before. The learning rate is an input of the
# training function, so decaying it is just passing a smaller number: after
# every 1,000 sequences it is multiplied by 0.95.


# %%
def train(train_fn, x, y, vocab_size, n_hidden, report_every=DECAY_EVERY):
    eye = np.eye(vocab_size, dtype=DTYPE)
    h0, lr = np.zeros(n_hidden, dtype=DTYPE), LR
    means, running, start = [], 0.0, time.perf_counter()
    for i in range(len(x)):
        running += float(train_fn(h0, eye[x[i]], eye[y[i]], np.asarray(lr, dtype=DTYPE)))
        if (i + 1) % report_every == 0:
            means.append(running / report_every)
            print(f"{i + 1:>7,} sequences  mean error {means[-1]:.3f}  lr {lr:.4g}", flush=True)
            running = 0.0
        if (i + 1) % DECAY_EVERY == 0:
            lr *= LR_DECAY
    seconds = time.perf_counter() - start
    print(f"{len(x):,} sequences in {seconds:.1f} s ({len(x) * SEQ_LEN / seconds:,.0f} "
          "characters/s, compiling included)")
    return means


# %% [markdown]
# ## What it predicts
#
# After each character the model names the most likely next one (argmax).


# %%
def show_predictions(predict_fn, x, vocab, n_hidden):
    eye, h0 = np.eye(vocab.size, dtype=DTYPE), np.zeros(n_hidden, dtype=DTYPE)
    for row in np.linspace(0, len(x) - 1, N_SHOWN).astype(int):
        guess = predict_fn(h0, eye[x[row]]).argmax(axis=-1)
        print(f"  {vocab.decode(x[row])!r:>14} -> {vocab.decode(guess)!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"hidden": N_HIDDEN, "limit": None, "report_every": DECAY_EVERY},
        extra_args={"--form": dict(choices=("separate", "combined", "both"), default="both",
                                   help="which GRU form to train"),
                    "--act": dict(default="tanh", help="the candidate's activation")},
        # the py backend builds in a second (Numba compiles each form for about a minute)
        # and runs scan's gradient in python, so the quick run stays small
        quick={"backend": "py", "limit": 300, "report_every": 100, "hidden": 32})
    x, y = training_windows(text, vocab, args.limit)
    forms = ("separate", "combined") if args.form == "both" else (args.form,)
    results = {}
    for form in forms:
        graph = build_graph(vocab.size, args.hidden, np.random.default_rng(args.seed), form,
                            args.act)
        n_weights = sum(w.get_value(borrow=True).size for w in graph.params)
        print(f"\n== {form} weights: {n_weights:,} ({', '.join(w.name for w in graph.params)})")
        train_fn, predict_fn = compile_functions(graph, args.backend)
        results[form] = train(train_fn, x, y, vocab.size, args.hidden, args.report_every)
        show_predictions(predict_fn, x, vocab, args.hidden)
    return results


# %%
if __name__ == "__main__":
    main()
