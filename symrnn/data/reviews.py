r"""Movie reviews labelled by sentiment, as Keras' ``imdb.load_data`` hands them out.

The data is Stanford's Large Movie Review Dataset (Maas et al., 2011): 25,000
training and 25,000 test reviews from IMDB, half positive and half negative,
published as one archive, ``aclImdb_v1.tar.gz`` (84,125,825 bytes). Inside it
each review is a text file ``aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt``.

:func:`load_reviews` downloads the archive once into the corpus cache
(:func:`symrnn.data.default_cache_dir`, where ``--corpus nietzsche`` goes too),
checks its sha256, reads the review files straight from the compressed tar
stream (nothing is extracted to disk) and returns what Keras' IMDB loader
returns: ``(x_train, y_train), (x_test, y_test)``, each review a list of word
ids, each label 0 (negative) or 1 (positive). Offline, pass a copy of the
archive as ``source=``.

How a review becomes ids:

1. :func:`tokenize_review` lowercases it, turns the ``<br />`` line breaks
   the files contain into spaces, and keeps the words: runs of letters and
   digits, with apostrophes inside a word kept (``don't``); every other
   character separates words and is dropped.
2. Words are ranked by how often they occur in the *training* reviews, the
   most frequent first (rank 1); ties go in alphabetical order.
   :func:`review_word_index` returns that ranking.
3. Rank ``r`` becomes id ``r + index_from``; each review starts with
   ``start_char``. Ids 0 (padding), 1 (start) and 2 (out of vocabulary) are
   free by default because ``index_from`` is 3.
4. As in Keras, ``maxlen`` drops every review whose id list (start included)
   is not shorter than ``maxlen``, and then ids outside
   ``[skip_top, num_words)`` become ``oov_char`` (or are dropped when
   ``oov_char`` is None). Test words never seen in training have no rank and
   count as out of the vocabulary.

Unlike Keras, ``num_words=None`` keeps every word (Keras turns the one id
equal to the largest into ``oov_char``).

>>> tokenize_review("A <br />great film.<br /><br />Don't miss it, 10/10!")
['a', 'great', 'film', "don't", 'miss', 'it', '10', '10']
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import ConfigError, CorpusError, CorpusNotFound
from .download import fetch_checked, sha256_of_file

REVIEWS_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# The published checksum of that archive, as TensorFlow Datasets pins it: the file
# tensorflow_datasets/url_checksums/imdb_reviews.txt of github.com/tensorflow/datasets lists
# the archive's address, its size (84125825 bytes) and this sha256.
REVIEWS_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
REVIEWS_SIZE = 84_125_825
REVIEWS_FILENAME = "aclImdb_v1.tar.gz"
LOCAL_COPY_HINT = ("source='path/to/aclImdb_v1.tar.gz' (in the lessons: "
                   "--reviews path/to/aclImdb_v1.tar.gz)")
KERAS_SEED = 113   # the seed Keras' loader shuffles each split with

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
# aclImdb/train/pos/0_9.txt (a leading ./ tolerated); train/unsup and the .feat/urls files
# of the real archive do not match
_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/([^/]+)\.txt$")
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")   # letters/digits, inner apostrophes kept


# --------------------------------------------------------------------------
# Words


def tokenize_review(text: str) -> list[str]:
    """The words of one review, lowercased: see the module's description.

    >>> tokenize_review("It's 'good', not GREAT...")
    ["it's", 'good', 'not', 'great']
    """
    text = _LINE_BREAK.sub(" ", text).replace("\u2019", "'").lower()
    return _WORD.findall(text)


def rank_words(reviews) -> dict[str, int]:
    """``{word: rank}`` over tokenised reviews: 1 for the most frequent word, ties in
    alphabetical order.

    >>> rank_words([["a", "b", "a"], ["c", "b", "a"]])
    {'a': 1, 'b': 2, 'c': 3}
    """
    counts = Counter(word for review in reviews for word in review)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {word: rank for rank, (word, _) in enumerate(ordered, 1)}


# --------------------------------------------------------------------------
# The archive


def review_archive(source=None, cache_dir=None, sha256: str | None = REVIEWS_SHA256) -> Path:
    """The path of the review archive named by ``source``, checked.

    ``None`` or ``"imdb"``: the published archive, downloaded once into the
    cache (:func:`fetch_reviews`, always checked: ``sha256=None`` means the
    published checksum there). Anything else is the path of a ``.tar.gz`` with
    the same layout; its sha256 must be ``sha256``, unless that is ``None``
    (an archive of your own).

    Raises
    ------
    CorpusNotFound
        The file does not exist, or the download failed.
    CorpusError
        A directory, or a file whose sha256 is not the expected one.
    """
    if source is None or (isinstance(source, str) and source == "imdb"):
        return fetch_reviews(cache_dir, sha256=sha256 or REVIEWS_SHA256)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"the review source must be None, 'imdb' or the path of a .tar.gz, "
                          f"got {type(source).__name__} {source!r}")
    path = Path(source).expanduser()
    if path.is_dir():
        raise CorpusError(f"review source {path} is a directory; pass the archive itself "
                          f"({REVIEWS_FILENAME}), which is read without extracting it")
    if not path.is_file():
        raise CorpusNotFound(f"review archive {path} does not exist; check the path, or leave "
                             f"the source unset to download {REVIEWS_URL} once")
    if sha256 is not None:
        got, expected = sha256_of_file(path), sha256.lower()
        if got != expected:
            raise CorpusError(
                f"review archive {path} has sha256 {got}, expected {expected} "
                f"({_what_is_expected(expected)}); the file is truncated, corrupt or a "
                f"different one. Download it again, or pass sha256=None to read an archive of "
                f"your own with the aclImdb/{{train,test}}/{{pos,neg}}/*.txt layout")
    return path


def _what_is_expected(expected: str) -> str:
    if expected == REVIEWS_SHA256:
        return f"the published {REVIEWS_FILENAME}, {REVIEWS_SIZE:,} bytes"
    return "the checksum asked for"


def read_review_archive(path) -> dict:
    """``{"train": (texts, labels), "test": (texts, labels)}`` from a review archive.

    The review files are read from the gzip-compressed tar stream one after
    the other; nothing is written to disk. Within a split the reviews come
    negative first, then positive, each in the order of their file names'
    numbers (``12_8.txt`` before ``100_2.txt``); ``labels`` is an int array.

    Raises
    ------
    CorpusError
        Not a readable ``.tar.gz``, or a split without any review.
    """
    path = Path(path)
    found = {split: [] for split in SPLITS}
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                match = _MEMBER.match(member.name)
                if not match or not member.isfile():
                    continue
                split, label, stem = match.groups()
                text = archive.extractfile(member).read().decode("utf-8", errors="replace")
                found[split].append((LABELS[label], _file_order(stem), text))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise CorpusError(f"cannot read {path} as a .tar.gz archive ({exc}); the file is "
                          f"truncated or corrupt. Download it again, or pass another copy "
                          f"as {LOCAL_COPY_HINT}") from exc
    splits = {}
    for split, reviews in found.items():
        if not reviews:
            raise CorpusError(f"{path} holds no review under aclImdb/{split}/pos/ or "
                              f"aclImdb/{split}/neg/ (files named <id>_<stars>.txt); is it the "
                              f"Large Movie Review Dataset archive?")
        reviews.sort(key=lambda r: (r[0], r[1]))
        splits[split] = ([r[2] for r in reviews], np.array([r[0] for r in reviews], dtype=int))
    return splits


def _file_order(stem: str):
    """``"12_8"`` -> ``(12, "12_8")``: the review's number first, the name to break ties."""
    head = stem.split("_", 1)[0]
    return (int(head), stem) if head.isdigit() else (float("inf"), stem)


def review_word_index(source=None, cache_dir=None, sha256: str | None = REVIEWS_SHA256) -> dict:
    """``{word: rank}`` of the training reviews (Keras' ``imdb.get_word_index``): the
    word of id ``i`` in :func:`load_reviews`' output is the one of rank
    ``i - index_from``."""
    texts, _ = read_review_archive(review_archive(source, cache_dir, sha256))["train"]
    return rank_words(tokenize_review(t) for t in texts)


# --------------------------------------------------------------------------
# Keras' loader


def load_reviews(num_words=None, skip_top=0, maxlen=None, start_char=1, oov_char=2,
                 index_from=3, source=None, cache_dir=None,
                 sha256: str | None = REVIEWS_SHA256, seed=KERAS_SEED):
    """The reviews as word ids and their labels, as Keras' ``imdb.load_data``.

    Parameters
    ----------
    num_words : int, optional
        Ids from ``num_words`` up become ``oov_char`` (Keras 1: ``nb_words``), so
        every id fits an ``Embedding(num_words, ...)``. ``None``: keep every word.
    skip_top : int
        Ids below ``skip_top`` become ``oov_char`` too (the most frequent words,
        once offset by ``index_from``; with ``skip_top > start_char`` the start
        id itself, as in Keras).
    maxlen : int, optional
        Keep only the reviews with fewer than ``maxlen`` ids (start included),
        in both splits.
    start_char, oov_char : int or None
        The id each review starts with, and the id of a word out of the
        vocabulary; ``None`` leaves out the start, or drops such words.
    index_from : int
        Added to every word's rank.
    source : None, "imdb" or path
        Where the archive comes from (:func:`review_archive`): downloaded once
        and cached, or a local ``.tar.gz`` with the same layout.
    cache_dir : path, optional
        Where a download goes; default :func:`symrnn.data.default_cache_dir`.
    sha256 : str or None
        The archive's expected checksum (the published one by default);
        ``None`` reads a local archive unchecked.
    seed : int or None
        Each split is shuffled with ``numpy.random.RandomState(seed)`` as in
        Keras; ``None`` keeps the archive order (:func:`read_review_archive`).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x_*`` a list of reviews, each a list of int ids; ``y_*`` an int array
        of 0 (negative) and 1 (positive).

    Raises
    ------
    ConfigError
        A bad option, or ``maxlen`` so small that no review is left.
    CorpusNotFound, CorpusError
        See :func:`review_archive` and :func:`read_review_archive`.
    """
    _check_options(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    splits = read_review_archive(review_archive(source, cache_dir, sha256))
    tokens = {split: [tokenize_review(t) for t in texts] for split, (texts, _) in splits.items()}
    ranks = rank_words(tokens["train"])
    encoded = {}
    for split in SPLITS:
        head = [] if start_char is None else [start_char]
        # -1 stands for a word without a rank (unseen in training): never in the vocabulary
        xs = [head + [ranks[w] + index_from if w in ranks else -1 for w in review]
              for review in tokens[split]]
        ys = splits[split][1]
        if seed is not None:
            order = np.arange(len(xs))
            np.random.RandomState(seed).shuffle(order)
            xs, ys = [xs[i] for i in order], ys[order]
        if maxlen is not None:
            keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
            if not keep:
                raise ConfigError(f"no {split} review has fewer than maxlen={maxlen} ids (start "
                                  f"included); increase maxlen")
            xs, ys = [xs[i] for i in keep], ys[keep]
        encoded[split] = (xs, ys)
    top = num_words if num_words is not None else (
        max((w for xs, _ in encoded.values() for x in xs for w in x), default=0) + 1)
    result = []
    for split in SPLITS:
        xs, ys = encoded[split]
        if oov_char is not None:
            xs = [[w if skip_top <= w < top else oov_char for w in x] for x in xs]
        else:
            xs = [[w for w in x if skip_top <= w < top] for x in xs]
        result.append((xs, ys))
    return tuple(result)


def _check_options(num_words, skip_top, maxlen, start_char, oov_char, index_from):
    def whole(value, name, low, optional):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            unset = " or None" if optional else ""
            raise ConfigError(f"{name} must be a whole number >= {low}{unset}, got {value!r}")

    whole(num_words, "num_words", 1, True)
    whole(skip_top, "skip_top", 0, False)
    whole(maxlen, "maxlen", 1, True)
    whole(start_char, "start_char", 0, True)
    whole(oov_char, "oov_char", 0, True)
    whole(index_from, "index_from", 0, False)


# --------------------------------------------------------------------------
# Downloading


def fetch_reviews(cache_dir=None, url: str = REVIEWS_URL, sha256: str = REVIEWS_SHA256,
                  timeout: float = 60) -> Path:
    """Return the path of the cached review archive, downloading it if needed.

    A cached file with the right sha256 is returned without touching the
    network. Otherwise the archive is streamed into a temporary file in the
    cache directory, checked, and only then renamed into place, so an
    interrupted or corrupt download never sits under the final name.

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/aclImdb_v1.tar.gz``.

    Raises
    ------
    CorpusNotFound
        The download failed (offline, unreachable, timed out).
    CorpusError
        The download has the wrong sha256 (it is deleted), or the cache
        directory cannot be created.
    """
    return fetch_checked(url, cache_dir, REVIEWS_FILENAME, sha256, timeout, LOCAL_COPY_HINT)

