"""Lesson 6, section 1: predict the 4th character from 3, with the functional API.

Three characters go in as three separate inputs; each is looked up in its own
embedding. One Dense layer (``dense_in``) is shared by all three inputs, and a
second one (``dense_hidden``) carries what has been read so far from one
character to the next, where it is added to the new character's contribution.
That add-and-carry pattern is a recurrent network written out by hand.

Run it from the repository root::

    python lessons/01_three_char_model.py --quick
    python lessons/01_three_char_model.py --corpus nietzsche --encoding latin-1

With the Nietzsche text there are 200,297 three-character windows; the
original predicted 'l' after "phi", 'e' after " th" and 'd' after " an".
"""

# %% [markdown]
# # Three inputs, shared layers, a sum
#
# The state after reading characters 1..k is
#
#     h_1 = dense_in(e_1)
#     h_k = dense_in(e_k) + dense_hidden(h_{k-1})      for k = 2, 3
#
# and the prediction is `dense_out(h_3)`. Using the *same* `dense_in` object
# for every character means the three calls share one weight matrix: the
# model learns one way to read a character, whatever its position.

# %%
import numpy as np

from symrnn.app.lessonkit import (
    first_rows,
    fit_epochs,
    lesson_setup,
)
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.graph.optimizers import Adam
from symrnn.layers import Dense, Embedding, Flatten, Input, Model, merge

CS, N_FAC, N_HIDDEN, EPOCHS, BATCH = 3, 42, 256, 4, 64
PROBES = ("phi", " th", " an")

# %% [markdown]
# ## Data: three columns of ids and the next id
#
# Windows start every 3 characters. Column `k` of the windows is input `k`;
# the target is the character after the window.


# %%
def three_char_data(ids):
    x, y = windows(ids, CS, drop_last=LESSON_DROP_LAST)
    return [x[:, k:k + 1] for k in range(CS)], y[:, -1]


# %% [markdown]
# ## The graph
#
# Each input is one integer id: `Input((1,), dtype="int32")`. Its embedding
# returns shape (batch, 1, 42), and `Flatten` drops the length-1 axis. The
# embeddings carry the float32 dtype; the Dense layers take theirs from
# their input.


# %%
def char_input(k, vocab_size, seed, dtype):
    ids = Input((1,), dtype="int32", name=f"char_{k + 1}")
    vector = Flatten()(Embedding(vocab_size, N_FAC, dtype=dtype, seed=seed + k)(ids))
    return ids, vector


def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    inputs, vectors = zip(*(char_input(k, vocab_size, seed, dtype) for k in range(CS)))
    dense_in = Dense(n_hidden, activation="relu", name="dense_in", seed=seed + 10)
    dense_hidden = Dense(n_hidden, activation="tanh", name="dense_hidden", seed=seed + 11)
    dense_out = Dense(vocab_size, activation="softmax", name="dense_out", seed=seed + 12)
    hidden = dense_in(vectors[0])
    for vector in vectors[1:]:
        hidden = merge([dense_in(vector), dense_hidden(hidden)], mode="sum")
    return Model(list(inputs), dense_out(hidden))


# %% [markdown]
# ## What comes after "phi"?


# %%
def predict_next(model, vocab, prefix):
    columns = [np.array([[i]], dtype=np.int32) for i in vocab.encode(prefix)]
    return vocab.decode([int(model.predict(columns).argmax())])


def show_predictions(model, vocab):
    for prefix in PROBES:
        if all(c in vocab.chars for c in prefix):
            print(f"  {prefix!r} -> {predict_next(model, vocab, prefix)!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    xs, y = first_rows(args.limit, *three_char_data(vocab.encode(text)))
    print(f"{len(y):,} samples of {CS} ids, vocabulary {vocab.size}")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.summary()
    model.compile(Adam(), "sparse_categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, xs, y, args.epochs, batch_size=BATCH, seed=args.seed)
    show_predictions(model, vocab)
    return logs


# %%
if __name__ == "__main__":
    main()
