"""Keras 1's IMDB example: an LSTM reads a movie review and says whether it liked the film.

Keras 1 shipped ``examples/imdb_lstm.py``: reviews from IMDB as lists of word
ids, padded to 80 words, an Embedding with word dropout, an LSTM with input
and recurrent dropout, and one sigmoid unit trained with binary
cross-entropy. The model below is that script as its users typed it; only
the imports differ (``symrnn.layers`` for ``keras.layers``,
``symrnn.data.pad_sequences`` for ``keras.preprocessing.sequence``,
``symrnn.data.load_reviews`` for ``keras.datasets.imdb.load_data``, which
takes Keras 2's ``num_words`` for Keras 1's ``nb_words`` and where the archive
comes from), ``compile`` also names the backend the lesson was asked for, and
the layers and ``fit`` take a ``seed`` (symrnn has no global seed like the
example's ``np.random.seed(1337)``).

The review set is 84 MB and needs a network once. So unless ``--reviews``
says otherwise, the script writes a small stand-in archive in the same
layout, with made-up reviews: runs of words from the corpus with a few
opinion words ("superb", "tedious", ...) dropped in, labelled by which kind
there are more of. It says so when it runs.

Run it as a script (from the repository root)::

    python lessons/16_imdb_lstm.py --quick
    python lessons/16_imdb_lstm.py                    # the stand-in reviews
    python lessons/16_imdb_lstm.py --reviews imdb     # downloads the real set once
    python lessons/16_imdb_lstm.py --reviews path/to/aclImdb_v1.tar.gz
"""

# %% [markdown]
# # Sentiment from word ids
#
# A review is a sequence of words of any length, and its label is one bit:
# positive or negative. An LSTM reads the words one after the other and its
# last state goes through a single sigmoid unit, the probability that the
# review is positive. Binary cross-entropy is the loss for such a
# probability, and accuracy counts the reviews on the right side of 0.5.

# %%
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.data import load_reviews, pad_sequences
from symrnn.data.reviews import REVIEWS_SHA256, review_word_index, tokenize_review
from symrnn.layers import LSTM, Activation, Dense, Embedding, Sequential

# %% [markdown]
# ## The example's settings
#
# Keep the word ids below 20,000 (the 19,996 most frequent words, after the
# ids reserved for padding, the start and out-of-vocabulary words; every
# other word becomes the out-of-vocabulary id), cut every review to its last
# 80 words, and train on batches of 32 reviews.

# %%
max_features = 20000
maxlen = 80  # cut texts after this number of words (among top max_features most common words)
batch_size = 32

# %% [markdown]
# ## A stand-in review set
#
# The loader reads the archive's layout, `aclImdb/{train,test}/{pos,neg}/*.txt`,
# straight from the compressed file, so a stand-in only has to be an archive
# of that shape. Each made-up review is a run of 10 to 100 consecutive words
# of the corpus (training reviews from its first 80%, test reviews from the
# rest) with a handful of opinion words put in at random places: a positive
# review gets one or two more positive words than negative ones, and the other
# way round. Some reviews are longer than 80 words, and cutting them can
# remove the words that decide them, which is why the script also prints what
# a perfect counter of opinion words would score on the words the model sees.

# %%
POSITIVE = ["good", "great", "excellent", "wonderful", "superb", "brilliant", "enjoyable",
            "delightful", "moving", "charming", "funny", "clever", "beautiful", "gripping",
            "touching", "memorable", "stunning", "fresh", "engaging", "masterful"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "tedious", "weak", "poor", "clumsy",
            "dreadful", "forgettable", "lifeless", "silly", "predictable", "bland", "messy",
            "pointless", "painful", "annoying", "stale"]


def made_up_review(filler, label, rng):
    """Words of ``filler`` with opinion words inserted; more of the ``label``'s kind."""
    length = int(rng.integers(10, 101))
    start = int(rng.integers(0, len(filler) - length))
    words = list(filler[start:start + length])
    fewer = int(rng.integers(0, 3))
    more = fewer + int(rng.integers(1, 3))
    n_pos, n_neg = (more, fewer) if label == 1 else (fewer, more)
    for lexicon, count in ((POSITIVE, n_pos), (NEGATIVE, n_neg)):
        for word in rng.choice(lexicon, size=count):
            words.insert(int(rng.integers(0, len(words) + 1)), str(word))
    if rng.random() < 0.3:       # the real files break lines with <br />; the loader drops them
        words.insert(int(rng.integers(1, len(words))), "<br /><br />")
    return " ".join(words).capitalize() + "."


def write_stand_in_archive(path, text, per_class, seed):
    """A review archive in the real layout: ``per_class`` reviews per label and split."""
    opinion = set(POSITIVE) | set(NEGATIVE)
    filler = [w for w in tokenize_review(text) if w not in opinion]
    cut = int(len(filler) * 0.8)
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as archive:
        for split, words in (("train", filler[:cut]), ("test", filler[cut:])):
            for label, folder in ((0, "neg"), (1, "pos")):
                for i in range(per_class):
                    data = made_up_review(words, label, rng).encode("utf-8")
                    info = tarfile.TarInfo(f"aclImdb/{split}/{folder}/{i}_{7 * label + 2}.txt")
                    info.size = len(data)
                    archive.addfile(info, BytesIO(data))
    return path


def counting_ceiling(X, y, word_index, index_from=3):
    """Accuracy of counting opinion words in what the model sees (ties: half right)."""
    ids = {sign: [word_index[w] + index_from for w in lexicon if w in word_index]
           for sign, lexicon in ((1, POSITIVE), (-1, NEGATIVE))}
    balance = np.isin(X, ids[1]).sum(axis=1) - np.isin(X, ids[-1]).sum(axis=1)
    right = np.where(balance == 0, 0.5, (balance > 0) == (y == 1))
    return float(right.mean())


# %% [markdown]
# ## Loading and padding, as the example does
#
# `load_reviews` returns lists of word ids of every length. `pad_sequences`
# makes one (reviews, 80) array of them: shorter reviews get zeros in front,
# longer ones lose their first words (both `'pre'` by default, as in Keras).


# %%
def load_data(source, sha256, max_features=max_features):
    print('Loading data...')
    (X_train, y_train), (X_test, y_test) = load_reviews(num_words=max_features, source=source,
                                                        sha256=sha256)
    print(len(X_train), 'train sequences')
    print(len(X_test), 'test sequences')

    print('Pad sequences (samples x time)')
    X_train = pad_sequences(X_train, maxlen=maxlen)
    X_test = pad_sequences(X_test, maxlen=maxlen)
    print('X_train shape:', X_train.shape)
    print('X_test shape:', X_test.shape)
    return (X_train, y_train), (X_test, y_test)


# %% [markdown]
# ## The model, typed as Keras 1 users typed it
#
# `Embedding(..., dropout=0.2)` is Keras 1's word dropout: in training each
# batch blanks a fifth of the vocabulary's rows, every occurrence of those
# words at once. `dropout_W` and `dropout_U` drop the LSTM's inputs and its
# carried state, with one mask per sequence. Keras 1 needed no
# `input_length` here, and neither does symrnn: the Embedding takes
# sequences of any length (`input_length` would only matter for a `Flatten`
# after it).


# %%
def build_model(max_features, backend, seed, size=128):
    print('Build model...')
    model = Sequential()
    model.add(Embedding(max_features, size, dropout=0.2, seed=seed))
    # try using a GRU instead, for fun
    model.add(LSTM(size, dropout_W=0.2, dropout_U=0.2, seed=seed + 1))
    model.add(Dense(1, seed=seed + 2))
    model.add(Activation('sigmoid'))

    # try using different optimizers and different optimizer configs
    model.compile(loss='binary_crossentropy',
                  optimizer='adam',
                  metrics=['accuracy'],
                  backend=backend)
    return model


# %% [markdown]
# ## Training and the test score
#
# The example passes the test reviews as `validation_data`, so every epoch
# also reports the test loss and accuracy; nothing is chosen from them, so
# the last line is still a score on reviews the model never trained on.
# `model.history` keeps each epoch's figures, printed as a table at the end.


# %%
def train(model, data, nb_epoch, seed):
    (X_train, y_train), (X_test, y_test) = data
    print('Train...')
    model.fit(X_train, y_train, batch_size=batch_size, nb_epoch=nb_epoch,
              validation_data=(X_test, y_test), seed=seed)
    score, acc = model.evaluate(X_test, y_test,
                                batch_size=batch_size)
    print('Test score:', score)
    print('Test accuracy:', acc)
    return score, acc


def print_history(history):
    logs = history.history
    print("epoch  loss    accuracy  val_loss  val_accuracy")
    for i, epoch in enumerate(history.epoch):
        print(f"{epoch + 1:5d}  {logs['loss'][i]:.4f}  {logs['accuracy'][i]:.4f}    "
              f"{logs['val_loss'][i]:.4f}    {logs['val_accuracy'][i]:.4f}")


# %%
def main(argv=None):
    args, text, _ = lesson_setup(
        __doc__, argv, flags={"epochs": 15, "units": 128},
        extra_args={
            "--reviews": dict(default=None,
                              help="'imdb' (the real set, downloaded once and checked) or the "
                                   "path of aclImdb_v1.tar.gz; unset: a made-up stand-in"),
            "--stand-in": dict(type=int, default=2_500,
                               help="made-up reviews per label in each split of the stand-in"),
            "--max-features": dict(type=int, default=max_features,
                                   help="vocabulary kept: the most frequent words")},
        quick={"backend": "py", "epochs": 1, "units": 8, "stand_in": 40, "max_features": 500})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.reviews is None:
            source = write_stand_in_archive(Path(tmp) / "stand_in.tar.gz", text, args.stand_in,
                                            args.seed)
            print(f"No --reviews given: a STAND-IN review set, made up from the corpus "
                  f"({args.stand_in:,} reviews per label and split; opinion words decide the "
                  f"label). --reviews imdb trains on the real IMDB reviews.")
            data = load_data(source, None, args.max_features)
            ceiling = counting_ceiling(*data[1], review_word_index(source, sha256=None))
            print(f"counting opinion words in the last {maxlen} words scores {ceiling:.4f} "
                  f"on the stand-in's test reviews")
        else:
            data = load_data(args.reviews, REVIEWS_SHA256, args.max_features)
    with float_scope("float32"):   # float32 weights, Keras 1's default floatx
        model = build_model(args.max_features, args.backend, args.seed, size=args.units)
        score, acc = train(model, data, args.epochs, args.seed)
    print_history(model.history)
    which = "stand-in" if args.reviews is None else "IMDB"
    print(f"{which} test accuracy {acc:.4f} (loss {score:.4f}) after {args.epochs} epochs; "
          f"{(time.perf_counter() - start) / 60:.1f} minutes")
    return score, acc


# %%
if __name__ == "__main__":
    main()
