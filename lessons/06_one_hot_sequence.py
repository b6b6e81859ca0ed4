"""Lesson 6, section 6: the sequence model fed one-hot vectors, no Embedding.

An Embedding row lookup is the same as multiplying a one-hot vector by the
embedding matrix. So the Embedding can go: give the SimpleRNN one-hot
characters directly and let its input weights ``W_x`` (vocab x hidden) play
both parts. The targets become one-hot too and the loss is the plain
categorical cross-entropy.

Run it from the repository root::

    python lessons/06_one_hot_sequence.py --quick
    python lessons/06_one_hot_sequence.py --corpus nietzsche --encoding latin-1

On the Nietzsche text the original printed, over 8 epochs (Adam, batch 64),
2.44, 2.03, 1.92, 1.86, 1.81, 1.78, 1.76, ... (mean per character).
"""

# %% [markdown]
# # Characters as one-hot rows
#
# Inputs and targets are arrays of shape (windows, 8, vocab) with a single 1
# per row. They are 86 times larger than the id arrays, which is why the
# earlier sections preferred ids and an Embedding; for 75,000 windows in
# float32 they still fit comfortably (about 200 MB each).

# %%
from symrnn.app.lessonkit import (
    example_snippets,
    first_rows,
    fit_epochs,
    lesson_setup,
)
from symrnn.data import LESSON_DROP_LAST, one_hot, windows
from symrnn.graph.optimizers import Adam
from symrnn.layers import Dense, Sequential, SimpleRNN, TimeDistributed

SEQ_LEN, N_HIDDEN, EPOCHS, BATCH = 8, 256, 8, 64

# %% [markdown]
# ## The model
#
# The first layer now says its input shape itself: 8 steps of `vocab`
# features. Everything after it is section 5's model.


# %%
def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    return Sequential([
        SimpleRNN(n_hidden, activation="relu", inner_init="identity", return_sequences=True,
                  input_shape=(SEQ_LEN, vocab_size), dtype=dtype, seed=seed),
        TimeDistributed(Dense(vocab_size, activation="softmax", seed=seed + 1)),
    ])


# %%
def show_predictions(model, vocab, text):
    """Argmax of the prediction at every position of a few snippets."""
    for snippet in example_snippets(text, SEQ_LEN):
        probs = model.predict(one_hot([vocab.encode(snippet)], vocab.size))[0]
        print(f"  {snippet!r} -> {vocab.decode(probs.argmax(axis=-1))!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    ids = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    ids_x, ids_y = first_rows(args.limit, *ids)
    x, y = one_hot(ids_x, vocab.size), one_hot(ids_y, vocab.size)
    print(f"one-hot inputs {x.shape}, one-hot targets {y.shape}, {x.dtype}")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.summary()
    model.compile(Adam(), "categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, x, y, args.epochs, batch_size=BATCH, seed=args.seed)
    show_predictions(model, vocab, text)
    return logs


# %%
if __name__ == "__main__":
    main()
