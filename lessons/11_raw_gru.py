"""Lesson 6, section 11: a GRU written as a raw PyTensor graph, in two forms.

Builds the lesson's gated recurrent unit twice, once with separate input and
hidden weights for every gate and once with one weight matrix per gate over the
concatenation of the hidden state and the input, and trains each the lesson's
way: one 8-character one-hot window per call (batch 1), h0 zeros, plain SGD
with lr 0.1 multiplied by 0.95 every 1,000 sequences, printing the mean summed
error per 1,000 sequences, then a few argmax predictions.

Run it as a script (from the repository root)::

    PYTHONPATH=. python lessons/11_raw_gru.py --quick
    PYTHONPATH=. python lessons/11_raw_gru.py --corpus ../shared/data/nietzsche.txt --encoding latin-1

``--form separate`` or ``--form combined`` trains only one; ``--limit N`` stops
after N sequences. The lesson ended near 16.7-17.7 per 8 characters.
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

import numpy as np

from symrnn.app.lessonkit import lesson_parser, load_lesson_corpus, parse_lesson_args
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.lesson.gru import LessonGRU
from symrnn.lesson.rnn import train_lesson

SEQ_LEN = 8          # characters per training sequence
N_HIDDEN = 256
LR, LR_DECAY, DECAY_EVERY = 0.1, 0.95, 1000  # the lesson's schedule
QUICK_SEQUENCES, QUICK_REPORT, QUICK_HIDDEN = 300, 100, 32
N_SHOWN = 5          # predictions printed after training

# %% [markdown]
# ## The data: one-hot windows of 8 characters
#
# Exactly as in section 8: non-overlapping windows, targets shifted by one.


# %%
def training_windows(args):
    text, vocab = load_lesson_corpus(args)
    x, y = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    print(f"{len(text):,} characters, vocabulary {vocab.size}, {len(x):,} windows of {SEQ_LEN}")
    return x, y, vocab


# %% [markdown]
# ## Training one form
#
# `LessonGRU` holds the declared inputs, the shared weights, the scan of the
# step, the summed cross-entropy and the SGD updates; its compiled training
# function takes `(h0, inp, outp, lr)` like the lesson's. Compilation happens
# on first use, so one call with lr 0 (no change to the weights) is timed
# separately from training.


# %%
def train_form(form, x, y, vocab, args):
    gru = LessonGRU(vocab.size, args.hidden, form=form, act=args.act, seed=args.seed,
                    backend=args.backend)
    n_params = sum(p.get_value(borrow=True).size for p in gru.params)
    print(f"\n== {form} weights: {n_params:,} parameters ({[p.name for p in gru.params]})")
    start = time.perf_counter()
    gru.train_step(np.eye(vocab.size)[x[0]], np.eye(vocab.size)[y[0]], lr=0.0)
    # ^ lr 0 leaves every weight as it was, but builds the function (Numba compiles
    #   on the first call), so the training time below is training only
    print(f"compiled in {time.perf_counter() - start:.1f} s (backend {args.backend or 'default'})")
    start = time.perf_counter()
    means = train_lesson(gru, x, y, lr=LR, report_every=args.report_every,
                         lr_decay=LR_DECAY, decay_every=DECAY_EVERY)
    seconds = time.perf_counter() - start
    print(f"trained {len(x):,} sequences in {seconds:.1f} s "
          f"({len(x) * SEQ_LEN / seconds:,.0f} chars/s); last mean error {means[-1]:.3f}")
    return gru


# %% [markdown]
# ## What it predicts
#
# After each character the model names the most likely next one (argmax).


# %%
def show_predictions(gru, x, vocab):
    eye = np.eye(vocab.size, dtype=gru.dtype)
    for row in np.linspace(0, len(x) - 1, N_SHOWN).astype(int):
        guess = gru.predict_ids(eye[x[row]])
        print(f"  {vocab.decode(x[row])!r:>14} -> {vocab.decode(guess)!r}")


# %%
def lesson_args(argv=None):
    parser = lesson_parser(__doc__)
    parser.add_argument("--form", choices=("separate", "combined", "both"), default="both")
    parser.add_argument("--act", default="tanh", help="candidate activation (default tanh)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N sequences")
    parser.add_argument("--report-every", type=int, default=DECAY_EVERY)
    parser.add_argument("--hidden", type=int, default=N_HIDDEN, help="hidden units (default 256)")
    args = parse_lesson_args(parser, argv)
    if args.quick:
        args.backend = args.backend or "py"  # builds in a second; numba compiles for ~a minute
        args.limit = args.limit or QUICK_SEQUENCES
        args.report_every = QUICK_REPORT
        args.hidden = QUICK_HIDDEN  # the py backend runs scan gradients in python: keep it small
    return args


def main(argv=None):
    args = lesson_args(argv)
    x, y, vocab = training_windows(args)
    x, y = x[:args.limit], y[:args.limit]
    forms = ("separate", "combined") if args.form == "both" else (args.form,)
    for form in forms:
        gru = train_form(form, x, y, vocab, args)
        show_predictions(gru, x, vocab)


# %%
if __name__ == "__main__":
    main()
