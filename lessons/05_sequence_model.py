"""Lesson 6, section 5: a Sequential model that predicts after every character.

Section 3's SimpleRNN only answered once, after the 8th character, so 7 of
every 8 hidden states went unused for training. Asking the layer for its
whole sequence of hidden states (``return_sequences=True``) and putting the
same softmax layer on each of them (``TimeDistributed``) turns every window
into 8 training examples at the price of one.

Run it from the repository root::

    python lessons/05_sequence_model.py --quick
    python lessons/05_sequence_model.py --corpus nietzsche --encoding latin-1

On the Nietzsche text the original printed, over 8 epochs (Adam, batch 64),
2.43, 2.00, 1.89, 1.83, 1.79, 1.76, 1.74, ... (mean per character).
"""

# %% [markdown]
# # Eight targets per window
#
# The input is still 8 ids. The target is now the window shifted by one
# character: position `t` must guess character `t + 1`. The targets stay
# integer ids (sparse), so no one-hot array of shape (N, 8, vocab) is built.

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
from symrnn.layers import Dense, Embedding, Sequential, SimpleRNN, TimeDistributed

SEQ_LEN, N_FAC, N_HIDDEN, EPOCHS, BATCH = 8, 42, 256, 8, 64

# %% [markdown]
# ## The model
#
# Only two things change from section 3: the RNN returns its hidden state at
# every step, shape (batch, 8, hidden), and the output layer is wrapped in
# `TimeDistributed`, which applies one Dense (one set of weights) to each of
# the 8 steps.


# %%
def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    return Sequential([
        Embedding(vocab_size, N_FAC, input_length=SEQ_LEN, dtype=dtype, seed=seed),
        SimpleRNN(n_hidden, activation="relu", inner_init="identity", return_sequences=True,
                  seed=seed + 1),
        TimeDistributed(Dense(vocab_size, activation="softmax", seed=seed + 2)),
    ])


# %% [markdown]
# ## Reading the predictions
#
# Each position of a snippet gets its own guess, so printing the argmax per
# position shows how the model's idea of the next character sharpens as it
# reads more of the window.


# %%
def show_predictions(model, vocab, text):
    for snippet in example_snippets(text, SEQ_LEN):
        probs = model.predict(np.array([vocab.encode(snippet)], dtype=np.int32))[0]
        print(f"  {snippet!r} -> {vocab.decode(probs.argmax(axis=-1))!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    ids = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    x, y = first_rows(args.limit, *ids)
    print(f"inputs {x.shape}, sparse targets {y.shape}, vocabulary {vocab.size}")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.summary()
    model.compile(Adam(), "sparse_categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, x, y, args.epochs, batch_size=BATCH, seed=args.seed)
    show_predictions(model, vocab, text)
    return logs


# %%
if __name__ == "__main__":
    main()
