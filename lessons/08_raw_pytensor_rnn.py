"""Lesson 6, section 8: the character RNN written directly as a PyTensor graph.

No layers, no framework. The cells follow the lesson's notebook in its order:
declare the symbolic inputs, create six shared weights, define one step, run
it over the characters with ``pytensor.scan``, sum the cross-entropy,
differentiate it with ``pytensor.grad``, turn the gradients into an updates
dictionary, compile a training function with ``pytensor.function(...,
updates=...)`` and call it once per 8-character sequence (plain SGD, batch
size 1). A second compiled function makes the predictions.

The small pieces the library shares (the weight initialisers, the step, the
summed error) come from ``symrnn.lesson.rnn`` and ``symrnn.graph.cells``, so
this is the graph of ``symrnn.lesson.rnn.LessonRNN``; the test suite checks
that both give the same error and gradients.

Run it from the repository root::

    python lessons/08_raw_pytensor_rnn.py --quick
    python lessons/08_raw_pytensor_rnn.py --corpus nietzsche --encoding latin-1

On the Nietzsche text (one pass, 75,110 sequences) the original printed a
mean error per 1,000 sequences of 25.2, 21.5, 20.9, 19.9, 18.8, ... and about
15.9-16.1 at the end (summed over 8 characters, so about 2 nats per
character), and after "then? Is" it predicted "he   Tn ".
"""

# %% [markdown]
# # A recurrent network with nothing but a compiled graph
#
# The Keras models of the earlier sections hid three things: where the
# weights live, how the loop over time is expressed, and how gradients turn
# into weight changes. Here each is written out.

# %%
import time
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytensor
import pytensor.tensor as pt

from symrnn.app.lessonkit import example_snippets, first_rows, lesson_setup
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.graph.backend import get_mode
from symrnn.graph.cells import lesson_step, relu
from symrnn.lesson.rnn import identity_and_bias, summed_error, weights_and_bias

SEQ_LEN = 8          # characters per sequence: one call of the training function
N_HIDDEN = 256
LR = 0.01            # plain SGD with a constant learning rate
DTYPE = "float32"    # the lesson's float type

# %% [markdown]
# ## The data: 8-character windows
#
# Non-overlapping windows of 8 character ids; the target of each window is
# the same 8 positions shifted by one character. The graph reads one-hot
# rows, so a window becomes an [8, vocab] matrix just before its call.


# %%
def training_windows(text, vocab, limit=None):
    """Input and target ids, shape [windows, 8] each (the first ``limit`` windows)."""
    x, y = first_rows(limit, *windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST))
    print(f"{len(text):,} characters, vocabulary {vocab.size}; {len(x):,} windows of {SEQ_LEN}")
    return x, y


# %% [markdown]
# ## Declared variables
#
# A graph describes a computation on values that do not exist yet. These
# four symbols stand for what every call of the training function will be
# given: the one-hot characters read, the one-hot characters that follow
# them, the hidden state before the first character, and the learning rate
# (an input, so the training loop could change it between calls).


# %%
def declare_variables(dtype=DTYPE):
    inp = pt.matrix("inp", dtype=dtype)    # [8, vocab]: the characters read, one-hot
    outp = pt.matrix("outp", dtype=dtype)  # [8, vocab]: the character after each of them
    h0 = pt.vector("h0", dtype=dtype)      # [hidden]: the state before the first character
    lr = pt.scalar("lr", dtype=dtype)
    return inp, outp, h0, lr


# %% [markdown]
# ## Shared weights
#
# Weights live in *shared variables*: values PyTensor keeps from one call to
# the next, which the updates overwrite. As in the lesson, the recurrent
# weight `W_h` starts as the identity (`identity_and_bias`, the lesson's
# `id_and_bias`); the input and output weights are drawn normal with scale
# sqrt(2 / rows) (`weights_and_bias`, the lesson's `wgts_and_bias`); every
# bias starts at zero. The list is in the step's argument order.


# %%
def create_weights(vocab_size, n_hidden, rng, dtype=DTYPE):
    W_h, b_h = identity_and_bias(n_hidden, "h", dtype)
    W_x, b_x = weights_and_bias(vocab_size, n_hidden, rng, "x", dtype)
    W_y, b_y = weights_and_bias(n_hidden, vocab_size, rng, "y", dtype)
    return [W_h, b_h, W_x, b_x, W_y, b_y]


# %% [markdown]
# ## One step
#
# What happens at one character, given the state after the one before:
#
#     h_t = relu(x_t . W_x + b_x + h_tm1 . W_h + b_h)
#     z_t = h_t . W_y + b_y                    softmax(z_t) is the prediction
#
# `lesson_step` (in `symrnn.graph.cells`) holds these two lines for the
# whole library. It returns the logits `z_t`, not their softmax: the loss
# takes a log-softmax of the logits, which stays finite where
# `log(softmax(z))` would reach log 0.


# %%
def step(x_t, h_tm1, W_h, b_h, W_x, b_x, W_y, b_y):
    return lesson_step(x_t, h_tm1, W_h, b_h, W_x, b_x, W_y, b_y, act=relu)


# %% [markdown]
# ## `scan`: the step over every character
#
# `pytensor.scan` calls `step` once per row of `inp`, passing the row
# (`sequences`), the state the previous call returned (`outputs_info`: `h0`
# starts it, and `None` marks the logits as an output that is not fed back)
# and then the weights (`non_sequences`). `strict=True` makes scan refuse a
# step that reaches for a variable it was not handed. It returns every
# step's outputs stacked: `hs` [8, hidden] and `zs` [8, vocab].


# %%
def scan_characters(inp, h0, params):
    hs, zs = pytensor.scan(step, sequences=inp, outputs_info=[h0, None], non_sequences=params,
                           strict=True, return_updates=False)
    return hs, zs


# %% [markdown]
# ## Error, gradients, updates
#
# The error is the cross-entropy of each step's prediction against `outp`,
# summed over the 8 characters. `pytensor.grad` differentiates it with
# respect to every weight, through the scan: backpropagation through time,
# derived rather than written. The updates dictionary tells the compiled
# function how each shared variable changes after a call: `w <- w - g * lr`.


# %%
def upd_dict(params, grads, lr):
    return OrderedDict((w, w - g * lr) for w, g in zip(params, grads))


def error_and_updates(zs, outp, params, lr):
    error = summed_error(zs, outp)          # cross-entropy summed over the sequence
    grads = pytensor.grad(error, params)    # d error / d w, one per weight
    return error, grads, upd_dict(params, grads, lr)


# %% [markdown]
# ## The whole graph
#
# The cells above, called in order. Nothing has been computed yet: `error`
# is a symbolic expression of `inp`, `outp`, `h0` and the weights. The
# printout shows the scan node that makes `zs`, the weights among its
# inputs, and under "Inner graphs" the step it repeats (`Maximum` is the
# relu).


# %%
def build_graph(vocab_size, n_hidden, rng, dtype=DTYPE):
    inp, outp, h0, lr = declare_variables(dtype)
    params = create_weights(vocab_size, n_hidden, rng, dtype)
    hs, zs = scan_characters(inp, h0, params)
    error, grads, updates = error_and_updates(zs, outp, params, lr)
    y = pt.special.softmax(zs, axis=-1)    # the predictions: one distribution per character
    return SimpleNamespace(inp=inp, outp=outp, h0=h0, lr=lr, params=params, hs=hs, zs=zs,
                           y=y, error=error, grads=grads, updates=updates)


def describe(graph):
    print("declared:", ", ".join(f"{v.name} {v.type}" for v in
                                 (graph.inp, graph.outp, graph.h0, graph.lr)))
    for w in graph.params:
        print(f"  shared {w.name:4s} {str(w.get_value(borrow=True).shape):12s} {w.dtype}")
    print(f"updates: {len(graph.updates)} entries, w <- w - g * lr for each weight")
    pytensor.printing.debugprint(graph.zs, depth=2)


# %% [markdown]
# ## Compiling: `pytensor.function`
#
# `pytensor.function(inputs, output, updates=...)` turns the graph into a
# callable. The training function takes `(h0, inp, outp, lr)`, returns the
# error *before* the step and applies every update; the prediction function
# maps `(h0, inp)` to the softmax at every step. `get_mode` picks the
# backend (Numba unless `--backend` says otherwise; it compiles on the first
# call).


# %%
def compile_functions(graph, backend=None):
    mode = get_mode(backend)
    train_fn = pytensor.function([graph.h0, graph.inp, graph.outp, graph.lr], graph.error,
                                 updates=graph.updates, mode=mode)
    predict_fn = pytensor.function([graph.h0, graph.inp], graph.y, mode=mode)
    return train_fn, predict_fn


# %% [markdown]
# ## Training: one sequence per call
#
# Stochastic gradient descent with a batch of one: every call trains on one
# window, starting from `h0` = zeros (each window is treated as
# independent). `eye[ids]` picks one row of the identity matrix per
# character: the one-hot matrix. The mean error of every 1,000 calls is
# printed.


# %%
def train(train_fn, x, y, vocab_size, n_hidden, lr=LR, report_every=1_000):
    eye = np.eye(vocab_size, dtype=DTYPE)
    h0, lr = np.zeros(n_hidden, dtype=DTYPE), np.asarray(lr, dtype=DTYPE)
    means, running, start = [], 0.0, time.perf_counter()
    for i in range(len(x)):
        running += float(train_fn(h0, eye[x[i]], eye[y[i]], lr))
        if (i + 1) % report_every == 0:
            means.append(running / report_every)
            print(f"{i + 1:>7,} sequences  mean error {means[-1]:.3f}", flush=True)
            running = 0.0
    seconds = time.perf_counter() - start
    print(f"{len(x):,} sequences in {seconds:.1f} s ({len(x) * SEQ_LEN / seconds:,.0f} "
          "characters/s, compiling included)")
    return means


# %% [markdown]
# ## Predictions
#
# The argmax of each row of the prediction function's output is the model's
# guess for the character after each position of a snippet.


# %%
def show_predictions(predict_fn, vocab, text, n_hidden):
    eye, h0 = np.eye(vocab.size, dtype=DTYPE), np.zeros(n_hidden, dtype=DTYPE)
    for snippet in example_snippets(text, SEQ_LEN):
        probs = predict_fn(h0, eye[vocab.encode(snippet)])
        print(f"  {snippet!r} -> {vocab.decode(probs.argmax(axis=-1))!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"hidden": N_HIDDEN, "limit": None, "lr": LR, "report_every": 1_000},
        quick={"hidden": 64, "limit": 300, "report_every": 100})
    x, y = training_windows(text, vocab, args.limit)
    graph = build_graph(vocab.size, args.hidden, np.random.default_rng(args.seed))
    describe(graph)
    train_fn, predict_fn = compile_functions(graph, args.backend)
    means = train(train_fn, x, y, vocab.size, args.hidden, args.lr, args.report_every)
    show_predictions(predict_fn, vocab, text, args.hidden)
    return means


# %% [markdown]
# ## The same training from the command line, with a safety net
#
# A full pass takes minutes; a longer run deserves checkpoints. `symrnn train`
# trains this model family with the lesson's settings (batch 1, plain SGD, the
# error summed over the 8 characters) and saves a checkpoint atomically every
# few hundred steps. Ctrl-C saves one too, and `--resume` continues bit for
# bit; a NaN stops training and keeps the last finite weights:
#
#     symrnn train --corpus nietzsche --encoding latin-1 --sequences 0 \
#         --batch-size 1 --optimizer sgd --loss sum --lr 0.01 --run-dir runs/lesson8
#     symrnn train --resume runs/lesson8          # after a Ctrl-C
#     symrnn generate runs/lesson8 --prime "The " --chars 300
#     symrnn graph --out graphs                   # this graph, scan and unrolled, as text and images


# %%
if __name__ == "__main__":
    main()
