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

Training reports accuracy beside the loss (``compile(metrics=['accuracy'])``)
and uses three Keras callbacks: ModelCheckpoint keeps the best epoch's model,
EarlyStopping ends training when the validation loss stops improving, and
CSVLogger writes one row per epoch. Their files go to ``--out`` (default: a
folder in the system's temporary directory; the script prints where).

Run it as a script (from the repository root)::

    python lessons/15_many_to_one.py --quick
    python lessons/15_many_to_one.py --corpus nietzsche --encoding latin-1
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
import tempfile
import time
from pathlib import Path

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.data import Vocab
from symrnn.graph.optimizers import Adam
from symrnn.layers import (
    LSTM,
    CSVLogger,
    Dense,
    Dropout,
    EarlyStopping,
    Embedding,
    ModelCheckpoint,
    Sequential,
)

SOURCES = ("plain", "words reversed", "characters shuffled", "vowels doubled")
WINDOW = 40
BATCH_SIZE = 64
# outside the repository: checkpoints and logs are run output, not source
DEFAULT_OUT = Path(tempfile.gettempdir()) / "symrnn-lessons" / "15_many_to_one"
BEST_MODEL, EPOCH_LOG = "best_model.npz", "epochs.csv"

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
# ## Three slices of the text
#
# The first 70% of the text gives the training windows, the next 10% the
# validation windows that the callbacks watch, and the last 20% the test
# windows, looked at once at the end. Choosing the epoch on the validation
# windows and reporting on different ones keeps the test figure honest:
# text the model never trained on, and never used to pick its weights.


# %%
def encoded_splits(text, per_source, seed):
    """``{"train"|"val"|"test": (ids [N, WINDOW], labels [N])}`` and the vocabulary."""
    rng = np.random.default_rng(seed)
    val_start, test_start = int(len(text) * 0.7), int(len(text) * 0.8)
    slices = {"train": (text[:val_start], per_source),
              "val": (text[val_start:test_start], max(per_source // 8, 10)),
              "test": (text[test_start:], max(per_source // 4, 10))}
    vocab = Vocab.from_text(transform(text, 3) + transform(text, 1))
    splits = {}
    for name, (part, per) in slices.items():
        windows, labels = labelled_windows(part, per, rng)
        splits[name] = (np.stack([vocab.encode(w) for w in windows]), labels)
    return splits, vocab


# %% [markdown]
# ## Accuracy as a metric
#
# `compile(..., metrics=["accuracy"])` adds the share of windows whose most
# likely class is the right one to the compiled graph, next to the loss. It
# costs one argmax per batch, not a second pass over the data: `fit` logs it
# every epoch (`accuracy`, and `val_accuracy` on the validation windows) into
# the History it returns, and `evaluate` returns `[loss, accuracy]`.


# %% [markdown]
# ## Callbacks: keep the best, stop in time, write it down
#
# `fit(callbacks=[...])` calls each callback at the end of every epoch with
# that epoch's logged values.
#
# - `ModelCheckpoint(path, save_best_only=True)` saves the whole model
#   (architecture and weights) whenever the validation loss is the lowest so
#   far, so the file always holds the best epoch, whatever came after it.
# - `EarlyStopping(patience=2, restore_best_weights=True)` ends training once
#   the validation loss has failed to improve for two epochs in a row, and
#   then puts the best epoch's weights back. It only acts when it stops
#   training: a run that uses all its epochs keeps its last weights, so the
#   test below loads the checkpoint instead of trusting the last epoch.
# - `CSVLogger(path)` writes one row per epoch (loss, accuracy and their
#   validation values) to a CSV file you can plot or compare across runs.


# %%
def training_callbacks(out_dir, patience):
    """The three callbacks, writing into ``out_dir`` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [ModelCheckpoint(out_dir / BEST_MODEL, monitor="val_loss", save_best_only=True,
                            verbose=1),
            EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                          verbose=1),
            CSVLogger(out_dir / EPOCH_LOG)]


# %% [markdown]
# ## Training, then one look at the test windows
#
# `verbose=2` prints one line per epoch. After training, the best epoch's
# weights come back from the checkpoint, and `evaluate` reports the loss and
# accuracy on the test windows.


# %%
def main(argv=None):
    args, text, _ = lesson_setup(
        __doc__, argv, flags={"epochs": 20, "units": 64, "dtype": "float32"},
        extra_args={
            "--per-source": dict(type=int, default=4_000, help="training windows per source"),
            "--embed": dict(type=int, default=32, help="embedding width"),
            "--patience": dict(type=int, default=2,
                               help="epochs without a lower validation loss before stopping"),
            "--out": dict(type=Path, default=DEFAULT_OUT,
                          help="folder for the best model's checkpoint and the epoch log"),
            "--show-seed-model": dict(action="store_true",
                                      help="also print the summary of the seed's 5000-word model")},
        quick={"backend": "py", "epochs": 1, "per_source": 40, "units": 8, "embed": 8,
               "show_seed_model": True})
    splits, vocab = encoded_splits(text, args.per_source, args.seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        splits["train"], splits["val"], splits["test"])
    print(f"{len(SOURCES)} sources {SOURCES}; {len(x_train):,} training, {len(x_val):,} "
          f"validation and {len(x_test):,} test windows of {WINDOW}; vocabulary {vocab.size}")
    callbacks = training_callbacks(args.out, args.patience)
    with float_scope(args.dtype):  # keeps a float32 graph float32
        if args.show_seed_model:
            build_model(5000, 6, 64, 64, args.dtype, args.seed, input_length=None).summary()
        model = build_model(vocab.size, len(SOURCES), args.embed, args.units, args.dtype, args.seed)
        model.summary()
        model.compile(Adam(lr=2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"],
                      backend=args.backend)
        start = time.perf_counter()
        history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=args.epochs,
                            validation_data=(x_val, y_val), callbacks=callbacks,
                            seed=args.seed, verbose=2)
        best = int(np.argmin(history.history["val_loss"]))
        print(f"{len(history.epoch)} epochs in {time.perf_counter() - start:.0f} s; best "
              f"val_loss {history.history['val_loss'][best]:.4f} at epoch {best + 1} "
              f"(val_accuracy {history.history['val_accuracy'][best]:.3f})")
        model.load_weights(args.out / BEST_MODEL)
        test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=256)
    print(f"held-out accuracy {test_acc:.3f} (loss {test_loss:.4f}; model.evaluate on "
          f"{len(x_test):,} test windows; chance {1 / len(SOURCES):.2f})")
    print(f"wrote the best model to {args.out / BEST_MODEL} and the epoch log to "
          f"{args.out / EPOCH_LOG}")
    return model, test_acc


# %%
if __name__ == "__main__":
    main()
