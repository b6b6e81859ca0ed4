"""Many-to-one: read a whole character window, answer one label.

The character models so far answer at every step (many-to-many). A
classifier reads the whole sequence and answers once at the end, like a
sentiment model reading a review. Here the "reviews" are 40-character
windows of the corpus, each from one of four sources made from the same
text:

0. the text as it is;
1. every word spelled backwards;
2. the window's characters shuffled (same letters, no order);
3. every vowel doubled.

Sources 0-2 use exactly the same characters in the same amounts, so the
model can only tell them apart by their order: a job for the recurrence.
The model is the stacked form from the other seeds: Embedding -> Dropout
-> LSTM(return_sequences) -> LSTM -> Dense(K, softmax).

Run it as a script (from the repository root)::

    python lessons/15_many_to_one.py --quick
    python lessons/15_many_to_one.py --corpus nietzsche \\
        --encoding latin-1 --epochs 3
"""

# %% [markdown]
# # A sequence classifier
#
# Two changes turn a character model into a classifier: the last LSTM
# returns only its final state (no `return_sequences`), and the output layer
# has one unit per class instead of one per character. The first LSTM still
# returns its whole sequence, because the second one needs a sequence to
# read.

# %%
import re
import time

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.data import Vocab
from symrnn.graph.optimizers import Adam
from symrnn.layers import LSTM, Dense, Dropout, Embedding, Sequential

SOURCES = ("plain", "words reversed", "characters shuffled", "vowels doubled")
WINDOW = 40
BATCH_SIZE = 64

# %% [markdown]
# ## Four sources from one text
#
# Each source is a transformation of the corpus; a sample is a random
# 40-character window of one of them, labelled with the source's number.


# %%
def transform(text, source):
    if source == 1:
        return re.sub(r"\w+", lambda m: m.group(0)[::-1], text)
    if source == 3:
        return re.sub(r"([aeiou])", r"\1\1", text)
    return text            # 0 as is; 2 is shuffled window by window below


def labelled_windows(text, per_source, rng):
    xs, labels = [], []
    for source in range(len(SOURCES)):
        version = transform(text, source)
        starts = rng.integers(0, len(version) - WINDOW, per_source)
        for s in starts:
            window = list(version[s:s + WINDOW])
            if source == 2:
                rng.shuffle(window)
            xs.append("".join(window))
        labels += [source] * per_source
    order = rng.permutation(len(xs))
    return [xs[i] for i in order], np.array(labels)[order]


# %% [markdown]
# ## The model
#
# With `--show-seed-model` the script also prints the summary of the seed's
# configuration, Embedding(5000, 64) -> Dropout -> LSTM(64) -> LSTM(64) ->
# Dense(6): 320,000 / 33,024 / 33,024 / 390 parameters.


# %%
def build_model(vocab_size, n_classes, embed, units, dtype, seed, input_length=WINDOW):
    return Sequential([
        Embedding(vocab_size, embed, input_length=input_length, dtype=dtype, seed=seed),
        Dropout(0.2, seed=seed + 1),
        LSTM(units, return_sequences=True, seed=seed + 2),
        LSTM(units, seed=seed + 3),
        Dense(n_classes, activation="softmax", seed=seed + 4),
    ])


# %% [markdown]
# ## Training and accuracy on unseen windows
#
# The last fifth of the text is kept for testing, so test windows come from
# text the model never saw.


# %%
def accuracy(model, x, labels):
    probs = model.predict(x, batch_size=256)
    return float((probs.argmax(axis=-1) == labels).mean())


# %%
def main(argv=None):
    args, text, _ = lesson_setup(
        __doc__, argv, flags={"epochs": 3, "units": 64, "dtype": "float32"},
        extra_args={
            "--per-source": dict(type=int, default=4_000, help="training windows per source"),
            "--embed": dict(type=int, default=32, help="embedding width"),
            "--show-seed-model": dict(action="store_true",
                                      help="also print the summary of the seed's 5000-word model")},
        quick={"backend": "py", "epochs": 1, "per_source": 40, "units": 8, "embed": 8,
               "show_seed_model": True})
    rng = np.random.default_rng(args.seed)
    cut = int(len(text) * 0.8)
    train_text, test_text = text[:cut], text[cut:]
    x_train, y_train = labelled_windows(train_text, args.per_source, rng)
    x_test, y_test = labelled_windows(test_text, max(args.per_source // 4, 10), rng)
    vocab = Vocab.from_text(transform(text, 3) + transform(text, 1))
    x_train = np.stack([vocab.encode(w) for w in x_train])
    x_test = np.stack([vocab.encode(w) for w in x_test])
    print(f"{len(SOURCES)} sources {SOURCES}; {len(x_train):,} training and {len(x_test):,} "
          f"test windows of {WINDOW}; vocabulary {vocab.size}")
    with float_scope(args.dtype):  # keeps a float32 graph float32
        if args.show_seed_model:
            build_model(5000, 6, 64, 64, args.dtype, args.seed, input_length=None).summary()
        model = build_model(vocab.size, len(SOURCES), args.embed, args.units, args.dtype, args.seed)
        model.summary()
        model.compile(Adam(lr=2e-3), "sparse_categorical_crossentropy", backend=args.backend)
        for epoch in range(args.epochs):
            start = time.perf_counter()
            history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=1,
                                seed=args.seed + epoch, verbose=0)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {history.history['loss'][0]:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        acc = accuracy(model, x_test, y_test)
    print(f"test accuracy {acc:.3f} (chance {1 / len(SOURCES):.2f})")
    return model, acc


# %%
if __name__ == "__main__":
    main()
