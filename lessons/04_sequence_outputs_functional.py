"""Lesson 6, section 4: an output after every character, functional API.

The models so far made one prediction per window, after its last character.
Here the unrolled model of section 2 makes a prediction after *each* of the
8 characters, so every window yields 8 training targets (the window shifted
by one). To let the first character be treated like the others, the state
starts from an extra input of zeros passed through ``dense_in``.

Run it from the repository root::

    python lessons/04_sequence_outputs_functional.py --quick
    python lessons/04_sequence_outputs_functional.py --corpus nietzsche --encoding latin-1

The model has 8 outputs and one loss per output, reported separately. In the
original's first epoch they fell from 2.71 (after the first character, which
has nothing to go on) to 2.44 (after the eighth).
"""

# %% [markdown]
# # Eight outputs, eight losses
#
# With the zeros input `z`:
#
#     h_0 = dense_in(z)
#     h_k = dense_in(e_k) + dense_hidden(h_{k-1})
#     out_k = dense_out(h_k)                          k = 1..8
#
# Every step now has the same form, which is exactly what a recurrent layer
# computes; section 5 uses one. The training loss is the sum of the 8
# cross-entropies, and the per-output losses show how much each extra
# character of context helps.

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
# 8 input columns, 8 target columns (each the input column's next character),
# plus a zeros array of width 42 (the embedding size, so `dense_in` can read it).


# %%
def sequence_data(ids, dtype="float32"):
    x, y = windows(ids, CS, drop_last=LESSON_DROP_LAST)
    zeros = np.zeros((len(x), N_FAC), dtype=dtype)
    return [zeros] + [x[:, k:k + 1] for k in range(CS)], [y[:, k] for k in range(CS)]


# %%
def build_model(vocab_size, n_hidden, seed, dtype="float32"):
    zeros = Input((N_FAC,), dtype=dtype, name="zeros")
    char_inputs, vectors = [], []
    for k in range(CS):
        ids = Input((1,), dtype="int32", name=f"char_{k + 1}")
        char_inputs.append(ids)
        vectors.append(Flatten()(Embedding(vocab_size, N_FAC, dtype=dtype, seed=seed + k)(ids)))
    dense_in = Dense(n_hidden, activation="relu", name="dense_in", seed=seed + 20)
    dense_hidden = Dense(n_hidden, activation="relu", init="identity", name="dense_hidden")
    dense_out = Dense(vocab_size, activation="softmax", name="dense_out", seed=seed + 21)
    hidden, outputs = dense_in(zeros), []
    for vector in vectors:
        hidden = merge([dense_in(vector), dense_hidden(hidden)], mode="sum")
        outputs.append(dense_out(hidden))
    return Model([zeros] + char_inputs, outputs)


# %% [markdown]
# ## Predictions at every position


# %%
def show_predictions(model, vocab, text):
    for snippet in example_snippets(text, CS):
        ids = vocab.encode(snippet)
        xs = [np.zeros((1, N_FAC), dtype="float32")] + [np.array([[i]], dtype=np.int32) for i in ids]
        guesses = [int(p[0].argmax()) for p in model.predict(xs)]
        print(f"  {snippet!r} -> {vocab.decode(guesses)!r}")


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": EPOCHS, "hidden": N_HIDDEN, "limit": None},
        quick={"epochs": 1, "hidden": 32, "limit": 300})
    xs, ys = first_rows(args.limit, *sequence_data(vocab.encode(text)))
    print(f"{len(ys[0]):,} windows: {len(xs)} inputs (zeros + {CS} chars), {len(ys)} targets")
    model = build_model(vocab.size, args.hidden, args.seed)
    model.compile(Adam(), "sparse_categorical_crossentropy", backend=args.backend)
    logs = fit_epochs(model, xs, ys, args.epochs, batch_size=BATCH, seed=args.seed)
    print("per-output losses, last epoch:",
          ", ".join(f"{v:.3f}" for k, v in logs[-1].items() if k != "loss"))
    show_predictions(model, vocab, text)
    return logs


# %%
if __name__ == "__main__":
    main()
