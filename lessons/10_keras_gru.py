"""Lesson 6, section 10: the one-hot sequence model with a GRU instead of a SimpleRNN.

The same task as the one-hot sequence model of section 6: 8-character
windows in, the next character after every position out. Only the
recurrent layer changes: GRU(256, return_sequences, relu, identity
recurrent init) followed by TimeDistributed(Dense softmax), trained with
Adam, batch 64, for 8 epochs. The lesson printed 2.40, 1.98, 1.87, 1.81,
1.77, 1.73, 1.71, ...

Run it as a script (from the repository root)::

    python lessons/10_keras_gru.py --quick
    python lessons/10_keras_gru.py --corpus nietzsche \\
        --encoding latin-1 --epochs 8
"""

# %% [markdown]
# # A gated unit in the sequence model
#
# The GRU's update gate lets each hidden unit decide, character by
# character, whether to keep its value or take the new candidate. With a
# ReLU candidate and an identity start for the recurrent weights it begins
# life close to the IRNN of the earlier sections, and the gates are what it
# adds.

# %%
import time

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.data import LESSON_DROP_LAST, one_hot, windows
from symrnn.graph.optimizers import Adam
from symrnn.layers import GRU, Dense, Sequential, TimeDistributed

SEQ_LEN, N_HIDDEN, BATCH_SIZE = 8, 256, 64

# %% [markdown]
# ## One-hot windows
#
# Inputs are one-hot vectors (no Embedding), shape (75,110, 8, 86) on the
# Nietzsche text. The targets stay as ids: sparse categorical cross-entropy
# on ids is the same number as categorical cross-entropy on one-hot
# targets, without another 200 MB array.


# %%
def onehot_windows(text, vocab, dtype):
    ids, targets = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    x = one_hot(ids, vocab.size, dtype=dtype)
    print(f"{len(text):,} characters, vocabulary {vocab.size}; inputs {x.shape}, targets "
          f"{targets.shape}")
    return x, targets


# %% [markdown]
# ## The model


# %%
def build_model(vocab_size, args):
    model = Sequential([
        GRU(args.hidden, return_sequences=True, activation="relu", inner_init="identity",
            input_shape=(SEQ_LEN, vocab_size), dtype=args.dtype, seed=args.seed),
        TimeDistributed(Dense(vocab_size, activation="softmax", seed=args.seed)),
    ])
    model.compile(Adam(lr=1e-3), "sparse_categorical_crossentropy", backend=args.backend)
    model.summary()
    return model


# %% [markdown]
# ## Training
#
# One `fit` call per epoch, so each epoch's loss and time print as soon as
# it ends.


# %%
def train(model, x, y, args):
    losses = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, seed=args.seed + epoch,
                            verbose=0)
        losses.append(history.history["loss"][0])
        print(f"epoch {epoch + 1}/{args.epochs}: loss {losses[-1]:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return losses


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"epochs": 8, "hidden": N_HIDDEN, "dtype": "float32"},
        quick={"backend": "py", "epochs": 1, "hidden": 16}, quick_chars=4_000)
    x, y = onehot_windows(text, vocab, args.dtype)
    start = time.perf_counter()
    with float_scope(args.dtype):  # keeps a float32 graph float32
        model = build_model(vocab.size, args)
        losses = train(model, x, y, args)
    print(f"losses per epoch: {', '.join(f'{v:.3f}' for v in losses)} "
          f"(lesson: 2.40, 1.98, 1.87, 1.81, 1.77, 1.73, 1.71); total "
          f"{time.perf_counter() - start:.0f} s including compilation")
    return model, losses


# %%
if __name__ == "__main__":
    main()
