"""Lesson 6, section 2: eight characters, the recurrence unrolled in a python loop.

Section 1 wrote its three steps out one by one. With eight characters the
same steps go in a loop: each character's embedding passes through the
shared ``dense_in``, the running state passes through the shared
``dense_hidden``, and the two are summed. The loop only builds the graph;
training sees one fixed graph with 8 inputs and the weights used 8 times.

Run it from the repository root::

    python lessons/02_eight_char_unrolled.py --quick
    python lessons/02_eight_char_unrolled.py --corpus nietzsche --encoding latin-1

On the Nietzsche text (75,110 windows, Adam, batch 64, 12 epochs) the
original printed 2.54, 2.26, 2.16, 2.09, 2.04, 1.99, 1.95, ... and ended
near 1.8.
"""

# %% [markdown]
# # The loop that becomes a recurrent layer
#
# Two changes from the 3-character model besides the length: `dense_hidden`
# is a relu layer, and its weight matrix starts as the identity, so at the
# start the state is carried forward unchanged and each new character only
# adds to it. This keeps the signal from fading or blowing up across 8
# repeated multiplications early in training.

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
from symrnn.layers import Dense, Embedding, Flatten, Input, Model, merge

CS, N_FAC, N_HIDDEN, EPOCHS, BATCH = 8, 42, 256, 12, 64

# %% [markdown]
# ## Data
#
# Non-overlapping 8-character windows; input `k` is column `k`, the target is
# the character after the window.


# %%
def eight_char_data(ids):
    x, y = windows(ids, CS, drop_last=LESSON_DROP_LAST)
    return [x[:, k:k + 1] for k in range(CS)], y[:, -1]


# %% [markdown]
# ## Building the unrolled graph
#
# Every character gets its own input and embedding; the three Dense layers
# are created once, before the loop, and called inside it. The summary lists
# `dense_in` and `dense_hidden` once each, with 8 and 7 inbound calls.


# %%
def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    inputs, vectors = [], []
    for k in range(CS):
        ids = Input((1,), dtype="int32", name=f"char_{k + 1}")
        embed = Embedding(vocab_size, N_FAC, dtype=dtype, seed=seed + k)
        inputs.append(ids)
        vectors.append(Flatten()(embed(ids)))
    dense_in = Dense(n_hidden, activation="relu", name="dense_in", seed=seed + 20)
    dense_hidden = Dense(n_hidden, activation="relu", init="identity", name="dense_hidden")
    dense_out = Dense(vocab_size, activation="softmax", name="dense_out", seed=seed + 21)
    hidden = dense_in(vectors[0])
    for vector in vectors[1:]:
        hidden = merge([dense_in(vector), dense_hidden(hidden)], mode="sum")
    return Model(inputs, dense_out(hidden))


# %%
def show_predictions(model, vocab, text):
    """The next character after a few 8-character snippets of the text."""
    for snippet in example_snippets(text, CS):
        columns = [np.array([[i]], dtype=np.int32) for i in vocab.encode(snippet)]
        guess = int(model.predict(columns).argmax())
        print(f"  {snippet!r} -> {vocab.decode([guess])!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    xs, y = first_rows(args.limit, *eight_char_data(vocab.encode(text)))
    print(f"{len(y):,} samples of {CS} ids, vocabulary {vocab.size}")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.compile(Adam(), "sparse_categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, xs, y, args.epochs, batch_size=BATCH, seed=args.seed)
    show_predictions(model, vocab, text)
    return logs


# %%
if __name__ == "__main__":
    main()
