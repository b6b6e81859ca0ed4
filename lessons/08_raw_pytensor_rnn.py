"""Lesson 6, section 8: the character RNN written directly as a PyTensor graph.

No layers, no framework: declared symbolic inputs, six shared weights, a step
function looped over the characters by ``scan``, the summed cross-entropy,
symbolic gradients, an updates dictionary and one compiled function that
trains on one 8-character sequence per call (plain SGD, batch size 1).
The model itself lives in ``symrnn/lesson_rnn.py``; read it alongside.

Run it from the repository root::

    python lessons/08_raw_pytensor_rnn.py --quick
    python lessons/08_raw_pytensor_rnn.py --corpus ../shared/data/nietzsche.txt --encoding latin-1

On the Nietzsche text (one pass, 75,110 sequences) the original printed a
mean error per 1,000 sequences falling from about 25 to about 16 (summed over
8 characters, so about 2 nats per character).
"""

# %% [markdown]
# # A recurrent network with nothing but a compiled graph
#
# The Keras models of the earlier sections hid three things: where the
# weights live, how the loop over time is expressed, and how gradients turn
# into weight changes. Here each is written out.

# %%
import time

import numpy as np
import pytensor

from symrnn.app.lessonkit import (
    example_snippets,
    lesson_parser,
    load_lesson_corpus,
    parse_lesson_args,
)
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.lesson.rnn import LessonRNN, train_lesson

SEQ_LEN, N_HIDDEN, LR = 8, 256, 0.01

# %% [markdown]
# ## The graph
#
# `LessonRNN` declares `inp` and `outp` (one-hot rows, one per character),
# `h0` and `lr`; creates `W_h` (identity), `W_x` and `W_y` (normal with scale
# sqrt(2/rows)) and three zero biases as shared variables; and runs
# `lesson_step` over the rows of `inp` with `scan`. Below we print the pieces
# so you can see that they are ordinary symbolic variables.


# %%
def describe(rnn):
    """Print the declared inputs, the weights and the size of the update dict."""
    print("inputs:", [str(v) for v in (rnn.inp, rnn.outp, rnn.h0, rnn.lr)])
    for p in rnn.params:
        print(f"  {p.name:4s} {str(p.get_value().shape):12s} {p.dtype}")
    print(f"updates: {len(rnn.updates)} entries, e.g. {rnn.params[0].name} <- "
          f"{rnn.params[0].name} - lr * grad")
    print("error graph (scan shown as one node):")
    pytensor.printing.debugprint(rnn.error, depth=4)


# %% [markdown]
# ## Training: one sequence per call
#
# The compiled training function takes `(h0, inp, outp, lr)`, returns the
# error before the step and applies every update. `h0` is zeros for every
# sequence: each window is treated as independent.


# %%
def train(rnn, x, y, report_every):
    start = time.perf_counter()
    means = train_lesson(rnn, x, y, lr=LR, report_every=report_every)
    seconds = time.perf_counter() - start
    chars = len(x) * SEQ_LEN
    print(f"{len(x):,} sequences in {seconds:.1f} s ({chars / seconds:,.0f} characters/s, "
          "compile included)")
    return means


# %% [markdown]
# ## Predictions
#
# A second compiled function maps `(h0, inp)` to the softmax output at every
# step; the argmax of each row is the model's guess for the next character.


# %%
def show_predictions(rnn, vocab, text):
    """Predict the character after each position of a few 8-character snippets."""
    for snippet in example_snippets(text, SEQ_LEN):
        guess = vocab.decode(rnn.predict_ids(np.eye(vocab.size)[vocab.encode(snippet)]))
        print(f"  {snippet!r} -> {guess!r}")


# %%
def main(argv=None):
    args = parse_lesson_args(lesson_parser(__doc__), argv)
    text, vocab = load_lesson_corpus(args)
    x, y = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    n_hidden = 64 if args.quick else N_HIDDEN  # --quick: a small, fast-to-run slice
    if args.quick:
        x, y = x[:300], y[:300]
    rnn = LessonRNN(vocab.size, n_hidden, seed=args.seed, backend=args.backend)
    describe(rnn)
    means = train(rnn, x, y, report_every=100 if args.quick else 1_000)
    show_predictions(rnn, vocab, text)
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
