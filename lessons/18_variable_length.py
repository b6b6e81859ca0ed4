"""Sentences of every length in one batch: padding, a zero mask, and a check that it is invisible.

A classifier reads one sentence and says which of two texts it comes from:

0. the lesson's corpus (by default the help topics embedded in Python, the
   language reference in prose; ``--corpus`` picks another text, e.g.
   ``--corpus nietzsche``);
1. the docstrings of 26 standard-library modules, read from the
   Python that runs the script (API documentation: "Return the ...").

Sentences run from 3 to 40 words. Each becomes a list of word ids,
``pad_sequences`` pads them all to 40 with the id 0, and
``Embedding(mask_zero=True)`` marks every 0 as padding, so the GRU skips
those steps and the loss and accuracy count real sentences only. The model
ends in one sigmoid unit (two sources) trained with binary cross-entropy;
ModelCheckpoint and EarlyStopping watch the validation sentences, and
``model.evaluate`` gives the held-out accuracy. Last, the proof that the
padding is invisible: the test sentences padded in front (``'pre'``) and
behind (``'post'``) get the same predictions, while the same weights without
the mask give different ones.

Run it as a script (from the repository root)::

    python lessons/18_variable_length.py --quick
    python lessons/18_variable_length.py
    python lessons/18_variable_length.py --corpus nietzsche --encoding latin-1
"""

# %% [markdown]
# # Variable-length sequences
#
# Lesson 15 classified windows of exactly 40 characters. Sentences do not
# come in one length. A batch is still one array, so the short ones are
# filled up with a padding id, and the model must be told not to read it:
# otherwise a sentence's prediction would depend on how much padding it got
# and on which side.

# %%
import importlib
import inspect
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.data import pad_sequences
from symrnn.data.reviews import rank_words, tokenize_review
from symrnn.graph.optimizers import Adam
from symrnn.layers import GRU, Dense, EarlyStopping, Embedding, ModelCheckpoint, Sequential

SOURCES = ("the corpus", "standard-library docstrings")
MIN_WORDS, MAXLEN = 3, 40
PAD, OOV = 0, 1            # id 0 is padding (masked); 1 stands for a word out of the vocabulary
BATCH_SIZE = 64
DEFAULT_OUT = Path(tempfile.gettempdir()) / "symrnn-lessons" / "18_variable_length"
BEST_MODEL = "best_model.npz"
DOC_MODULES = ("argparse", "calendar", "collections", "csv", "datetime", "decimal", "difflib",
               "email.message", "fractions", "functools", "heapq", "inspect", "json", "logging",
               "pathlib", "pickle", "random", "shutil", "statistics", "string", "tarfile",
               "textwrap", "threading", "unittest", "urllib.parse", "zipfile")

# %% [markdown]
# ## A second text from the Python installation
#
# The docstrings of the modules above: each module's own, then those of its
# public classes, their methods and its functions, in name order. They ship
# with every Python (unless it runs with `-OO`, which strips them).


# %%
def standard_library_docstrings(modules=DOC_MODULES):
    docs = []
    for name in modules:
        module = importlib.import_module(name)
        members = [module] + [getattr(module, a) for a in sorted(vars(module))
                              if not a.startswith("_")]
        for obj in members:
            if obj is not module and (getattr(obj, "__module__", None) != name
                                      or not (inspect.isclass(obj) or inspect.isfunction(obj))):
                continue
            docs.append(obj.__doc__)
            if inspect.isclass(obj):
                docs += [f.__doc__ for a, f in sorted(vars(obj).items())
                         if not a.startswith("_") and inspect.isfunction(f)]
    text = "\n\n".join(inspect.cleandoc(d) for d in docs if d)
    if not text:
        raise SystemExit("this Python has no docstrings (run without -OO)")
    return text


# %% [markdown]
# ## Sentences and word ids
#
# A sentence ends at `.`, `!` or `?` before a space, or at a blank line.
# Its words are what the review loader of lesson 16 keeps (lowercase
# letters, digits and inner apostrophes). Sentences that occur twice are
# kept once, so none can sit in both the training and the test split. The
# vocabulary is ranked on the training sentences: id 2 for the most
# frequent word, 3 for the next, and so on, with 0 for padding and 1 for
# any word outside the `--words` most frequent.


# %%
def sentences(text):
    pieces = re.split(r"(?<=[.!?])\s+|\n\s*\n", text)
    words = (tokenize_review(p) for p in pieces)
    return [w for w in words if MIN_WORDS <= len(w) <= MAXLEN]


def labelled_splits(texts, per_source, rng):
    """Train/validation/test (70/10/20) lists of (words, label), the same count per source."""
    found = [sorted({tuple(s) for s in sentences(t)}) for t in texts]
    n = min(per_source, *(len(f) for f in found))
    rows = []
    for label, sents in enumerate(found):
        rows += [(list(sents[i]), label) for i in rng.permutation(len(sents))[:n]]
    rows = [rows[i] for i in rng.permutation(len(rows))]
    a, b = int(len(rows) * 0.7), int(len(rows) * 0.8)
    return {"train": rows[:a], "val": rows[a:b], "test": rows[b:]}, n


def encoder(train_rows, n_words):
    ranks = rank_words(words for words, _ in train_rows)
    ids = {w: r + 1 for w, r in ranks.items() if r <= n_words}

    def encode(rows, padding="pre"):
        seqs = [[ids.get(w, OOV) for w in words] for words, _ in rows]
        return (pad_sequences(seqs, maxlen=MAXLEN, padding=padding, value=PAD),
                np.array([label for _, label in rows]))
    return encode, len(ids) + 2


# %% [markdown]
# ## The model
#
# `Embedding(mask_zero=True)` sends a (batch, time) mask of `ids != 0` along
# with its output. The GRU carries its state unchanged through a masked
# step, so its last output is the state after the sentence's last real word,
# wherever the padding sits. One sigmoid unit gives the probability of the
# second source.


# %%
def build_model(vocab_size, embed, units, seed, mask_zero=True):
    return Sequential([
        Embedding(vocab_size, embed, mask_zero=mask_zero, seed=seed),
        GRU(units, seed=seed + 1),
        Dense(1, activation="sigmoid", seed=seed + 2),
    ])


# %% [markdown]
# ## Padding is invisible
#
# The same test sentences, padded in front and behind, go through the
# trained model; with the mask the two sets of predictions agree to
# rounding. A copy of the model with the same weights but no mask reads the
# zeros as words, and its predictions change with the side of the padding.


# %%
def padding_check(model, encode, test_rows, vocab_size, args):
    x_pre, _ = encode(test_rows, "pre")
    x_post, _ = encode(test_rows, "post")
    masked = np.abs(model.predict(x_pre, batch_size=256) - model.predict(x_post, batch_size=256))
    blind = build_model(vocab_size, args.embed, args.units, args.seed, mask_zero=False)
    blind.set_weights(model.get_weights())
    blind.compile(Adam(), "binary_crossentropy", backend=args.backend)
    unmasked = np.abs(blind.predict(x_pre, batch_size=256) - blind.predict(x_post, batch_size=256))
    print(f"padding 'pre' vs 'post', {len(test_rows):,} test sentences: max |difference| of the "
          f"predicted probabilities {masked.max():.2e} with the mask, {unmasked.max():.3f} "
          f"without it (same weights)")
    return float(masked.max()), float(unmasked.max())


def accuracy_by_length(model, x, y):
    lengths = (x != PAD).sum(axis=1)
    right = (model.predict(x, batch_size=256)[:, 0] > 0.5) == (y == 1)
    for low, high in ((MIN_WORDS, 8), (9, 16), (17, MAXLEN)):
        pick = (lengths >= low) & (lengths <= high)
        if pick.any():
            print(f"  {low:2d}-{high:2d} words: accuracy {right[pick].mean():.3f} "
                  f"({pick.sum():,} sentences)")


# %%
def main(argv=None):
    args, text, _ = lesson_setup(
        __doc__, argv, flags={"epochs": 20, "units": 64, "dtype": "float32"},
        extra_args={
            "--per-source": dict(type=int, default=3_000,
                                 help="sentences from each source (at most as many as the "
                                      "smaller source has)"),
            "--words": dict(type=int, default=5_000, help="vocabulary: the most frequent words"),
            "--embed": dict(type=int, default=32, help="embedding width"),
            "--patience": dict(type=int, default=2,
                               help="epochs without a lower validation loss before stopping"),
            "--out": dict(type=Path, default=DEFAULT_OUT, help="folder for the best checkpoint")},
        quick={"backend": "py", "epochs": 1, "per_source": 60, "units": 8, "embed": 8,
               "words": 300})
    rng = np.random.default_rng(args.seed)
    docs = standard_library_docstrings()
    if args.quick:
        docs = docs[:len(text)]
    splits, n = labelled_splits([text, docs], args.per_source, rng)
    encode, vocab_size = encoder(splits["train"], args.words)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        encode(splits[k]) for k in ("train", "val", "test"))
    lengths = (x_train != PAD).sum(axis=1)
    print(f"{n:,} sentences from each of {SOURCES}; {len(x_train):,} training, {len(x_val):,} "
          f"validation, {len(x_test):,} test; {lengths.min()} to {lengths.max()} words (mean "
          f"{lengths.mean():.1f}), padded to {MAXLEN}; vocabulary {vocab_size:,} ids")
    args.out.mkdir(parents=True, exist_ok=True)
    callbacks = [ModelCheckpoint(args.out / BEST_MODEL, monitor="val_loss", save_best_only=True),
                 EarlyStopping(monitor="val_loss", patience=args.patience,
                               restore_best_weights=True, verbose=1)]
    start = time.perf_counter()
    with float_scope(args.dtype):   # keeps a float32 graph float32
        model = build_model(vocab_size, args.embed, args.units, args.seed)
        model.compile(Adam(lr=2e-3), "binary_crossentropy", metrics=["accuracy"],
                      backend=args.backend)
        history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=args.epochs,
                            validation_data=(x_val, y_val), callbacks=callbacks,
                            seed=args.seed, verbose=2)
        best = int(np.argmin(history.history["val_loss"]))
        print(f"{len(history.epoch)} epochs in {time.perf_counter() - start:.0f} s; best "
              f"val_loss {history.history['val_loss'][best]:.4f} at epoch {best + 1}")
        model.load_weights(args.out / BEST_MODEL)
        test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=256)
        print(f"held-out accuracy {test_acc:.3f} (loss {test_loss:.4f}; model.evaluate on "
              f"{len(x_test):,} test sentences; chance 0.50)")
        accuracy_by_length(model, x_test, y_test)
        differences = padding_check(model, encode, splits["test"], vocab_size, args)
    print(f"wrote the best model to {args.out / BEST_MODEL}")
    return test_acc, differences


# %%
if __name__ == "__main__":
    main()
