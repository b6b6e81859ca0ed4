"""Lesson 6, section 3: the 8-character model again, now as one SimpleRNN layer.

Section 2 wrote the recurrence out by hand: one shared input layer, one
shared hidden layer, a python loop over the 8 characters. A recurrent layer
packs exactly that loop into a single layer, so the whole model becomes a
three-layer ``Sequential``: Embedding -> SimpleRNN -> Dense(softmax).

Run it from the repository root::

    python lessons/03_simple_rnn.py --quick
    python lessons/03_simple_rnn.py --corpus nietzsche --encoding latin-1

With the Nietzsche text (vocabulary 86) ``summary()`` shows 3,612 / 76,544 /
22,102 parameters and the original's loss fell 2.79, 2.30, 2.08, 1.94, 1.84,
1.76, 1.70 over the first seven of its 8 epochs (Adam, batch 64).
"""

# %% [markdown]
# # One recurrent layer instead of a hand-written loop
#
# What goes in: 8 character ids. What comes out: a distribution over the
# character that follows them. In between, `SimpleRNN` keeps one hidden vector
# per sample and, for each of the 8 steps, mixes the new character's embedding
# into it: `h = relu(x_t . W_x + b + h . W_h)`. `W_h` starts as the identity,
# which is the same trick section 2 used for its shared hidden layer.

# %%
import numpy as np

from symrnn.app.lessonkit import (
    example_snippets,
    first_rows,
    fit_epochs,
    lesson_setup,
)
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.graph.optimizers import Adam
from symrnn.layers import Dense, Embedding, Sequential, SimpleRNN

SEQ_LEN, N_FAC, N_HIDDEN, EPOCHS, BATCH = 8, 42, 256, 8, 64

# %% [markdown]
# ## Data: 8 ids in, the 9th out
#
# `windows` cuts the text into non-overlapping 8-character windows. This model
# only predicts after the last character, so the target is the final column of
# the shifted windows.


# %%
def last_char_targets(ids):
    x, y = windows(ids, SEQ_LEN, drop_last=LESSON_DROP_LAST)
    return x, y[:, -1]


# %% [markdown]
# ## The model
#
# `input_length=8` on the Embedding tells the `Sequential` what shape its
# input has; float32 weights from there on. The parameter counts are easy to
# check by hand: the embedding is `vocab * 42`, the RNN `42*256 + 256*256 + 256`
# and the output layer `256 * vocab + vocab`.


# %%
def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    return Sequential([
        Embedding(vocab_size, N_FAC, input_length=SEQ_LEN, dtype=dtype, seed=seed),
        SimpleRNN(n_hidden, activation="relu", inner_init="identity", seed=seed + 1),
        Dense(vocab_size, activation="softmax", seed=seed + 2),
    ])


# %% [markdown]
# ## Predictions
#
# Feed a few 8-character snippets and print the most likely next character.


# %%
def show_predictions(model, vocab, text):
    snippets = example_snippets(text, SEQ_LEN, phrase="philosop")
    ids = np.array([vocab.encode(s) for s in snippets], dtype=np.int32)
    guesses = model.predict(ids).argmax(axis=-1)
    for snippet, guess in zip(snippets, guesses):
        print(f"  {snippet!r} -> {vocab.decode([int(guess)])!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    x, y = first_rows(args.limit, *last_char_targets(vocab.encode(text)))
    print(f"{len(x):,} windows of {SEQ_LEN} ids, vocabulary {vocab.size}")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.summary()
    model.compile(Adam(), "sparse_categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, x, y, args.epochs, batch_size=BATCH, seed=args.seed)
    show_predictions(model, vocab, text)
    return logs


# %% [markdown]
# ## Keeping the trained model
#
# `model.save("simple_rnn.npz")` writes the architecture, the weights and (if
# `model.vocab` is set) the vocabulary to one file, atomically and without
# pickles; `symrnn.layers.load_model("simple_rnn.npz")` rebuilds it and gives
# bit-identical predictions. For long runs with checkpoints and resume, the
# command line trains the same layers: `symrnn train --model simplernn
# --run-dir runs/simple` (then `symrnn train --resume runs/simple`).


# %%
if __name__ == "__main__":
    main()
