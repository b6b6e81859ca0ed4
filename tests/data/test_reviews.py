"""load_reviews on a six-review archive written here: ids, ranking, Keras' options, checks.

Nothing is downloaded: the archive is built in tmp_path, and the download path
is exercised with file:// addresses.
"""
import hashlib
import io
import tarfile

import numpy as np
import pytest

from symrnn.data import load_reviews
from symrnn.data.reviews import (
    REVIEWS_SHA256,
    fetch_reviews,
    read_review_archive,
    review_word_index,
    tokenize_review,
)
from symrnn.errors import ConfigError, CorpusError, CorpusNotFound

# Training counts: bad 3, great 3, acting 2, film 2, story 2, a 1, boring 1, so the ranks
# (ties alphabetical) are bad 1, great 2, acting 3, film 4, story 5, a 6, boring 7 and,
# with index_from=3, the ids bad 4, great 5, acting 6, film 7, story 8, a 9, boring 10.
REVIEWS = {
    "aclImdb/train/neg/0_2.txt": "Bad film, bad BAD acting.",
    "aclImdb/train/neg/1_3.txt": "Boring story",
    "aclImdb/train/pos/0_9.txt": "Great film.<br /><br />Great acting!",
    "aclImdb/train/pos/10_8.txt": "A great<br />story",
    "aclImdb/test/neg/0_1.txt": "bad film",
    "aclImdb/test/pos/0_10.txt": "great, great fun",     # 'fun' never occurs in training
}
# what the real archive also holds, which the loader must skip
OTHER_MEMBERS = {
    "aclImdb/README": "not a review",
    "aclImdb/train/unsup/0_0.txt": "an unlabelled review about film film film",
    "aclImdb/train/labeledBow.feat": "0:1 1:2",
    "aclImdb/train/urls_pos.txt": "http://example.invalid/",
}
RANKS = {"bad": 1, "great": 2, "acting": 3, "film": 4, "story": 5, "a": 6, "boring": 7}
# archive order (seed=None): negative then positive, by the files' numbers
X_TRAIN = [[1, 4, 7, 4, 4, 6], [1, 10, 8], [1, 5, 7, 5, 6], [1, 9, 5, 8]]
Y_TRAIN = [0, 0, 1, 1]
X_TEST = [[1, 4, 7], [1, 5, 5, 2]]
Y_TEST = [0, 1]


def write_archive(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path):
    return write_archive(tmp_path / "reviews.tar.gz", {**OTHER_MEMBERS, **REVIEWS})


def load(archive, **options):
    options.setdefault("seed", None)
    return load_reviews(source=archive, sha256=sha256_of(archive), **options)


def as_lists(result):
    return [(x, np.asarray(y).tolist()) for x, y in result]


# -- words and ids ---------------------------------------------------------------------------


def test_tokenizer_lowercases_splits_line_breaks_and_keeps_inner_apostrophes():
    assert tokenize_review("A great<br />story<BR/>ends.") == ["a", "great", "story", "ends"]
    assert tokenize_review("'Don't' – it's 10/10, isn\u2019t it?") == \
        ["don't", "it's", "10", "10", "isn't", "it"]
    assert tokenize_review("under_score café") == ["under", "score", "café"]


def test_default_ids_follow_the_training_ranks_with_start_and_offset(archive):
    assert as_lists(load(archive)) == [(X_TRAIN, Y_TRAIN), (X_TEST, Y_TEST)]
    assert review_word_index(archive, sha256=sha256_of(archive)) == RANKS


def test_labels_are_an_int_array_and_reviews_lists_of_ints(archive):
    (x_train, y_train), _ = load(archive)
    assert isinstance(y_train, np.ndarray) and y_train.dtype.kind == "i"
    assert isinstance(x_train, list) and all(type(w) is int for x in x_train for w in x)


def test_the_other_files_of_the_archive_are_skipped(archive):
    texts, labels = read_review_archive(archive)["train"]
    assert len(texts) == 4 and labels.tolist() == Y_TRAIN
    assert not any("unlabelled" in t for t in texts)


def test_num_words_turns_rarer_ids_into_oov(archive):
    (x_train, _), (x_test, _) = load(archive, num_words=7)
    assert x_train == [[1, 4, 2, 4, 4, 6], [1, 2, 2], [1, 5, 2, 5, 6], [1, 2, 5, 2]]
    assert x_test == [[1, 4, 2], [1, 5, 5, 2]]
    assert max(w for x in x_train + x_test for w in x) < 7   # fits Embedding(num_words, ...)


def test_oov_char_none_drops_the_words_instead(archive):
    (x_train, _), (x_test, _) = load(archive, num_words=7, oov_char=None)
    assert x_train == [[1, 4, 4, 4, 6], [1], [1, 5, 5, 6], [1, 5]]
    assert x_test == [[1, 4], [1, 5, 5]]


def test_skip_top_replaces_the_lowest_ids_start_included_as_keras_does(archive):
    (x_train, _), _ = load(archive, skip_top=5)
    assert x_train[0] == [2, 2, 7, 2, 2, 6]
    assert x_train[3] == [2, 9, 5, 8]


def test_maxlen_keeps_reviews_shorter_than_it_in_both_splits(archive):
    (x_train, y_train), (x_test, y_test) = load(archive, maxlen=4)
    assert x_train == [[1, 10, 8]] and y_train.tolist() == [0]
    assert x_test == [[1, 4, 7]] and y_test.tolist() == [0]
    with pytest.raises(ConfigError, match="fewer than maxlen=3"):
        load(archive, maxlen=3)


def test_start_char_none_and_index_from_zero_give_the_bare_ranks(archive):
    (x_train, _), (x_test, _) = load(archive, start_char=None, index_from=0, oov_char=0)
    assert x_train[0] == [RANKS[w] for w in ["bad", "film", "bad", "bad", "acting"]]
    assert x_test[1] == [2, 2, 0]


def test_keras_seed_shuffles_each_split_keeping_labels_with_their_reviews(archive):
    (x_train, y_train), (x_test, y_test) = load(archive, seed=113)
    pairs = sorted(zip(map(tuple, x_train), y_train.tolist()))
    assert pairs == sorted(zip(map(tuple, X_TRAIN), Y_TRAIN))
    test_pairs = sorted(zip(map(tuple, x_test), y_test.tolist()))
    assert test_pairs == sorted(zip(map(tuple, X_TEST), Y_TEST))
    again = load(archive, seed=113)
    assert as_lists(again) == as_lists(((x_train, y_train), (x_test, y_test)))


@pytest.mark.parametrize("options, message", [
    ({"num_words": 0}, "num_words"), ({"maxlen": True}, "maxlen"), ({"skip_top": -1}, "skip_top"),
    ({"index_from": None}, "index_from"), ({"oov_char": 1.5}, "oov_char")])
def test_bad_options_are_refused_before_reading(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        load_reviews(source=tmp_path / "never-read.tar.gz", **options)


# -- the archive's checks ---------------------------------------------------------------------


def test_a_wrong_sha256_is_refused_naming_both_checksums(archive):
    with pytest.raises(CorpusError, match="sha256") as caught:
        load_reviews(source=archive, sha256="0" * 64)
    message = str(caught.value)
    assert sha256_of(archive) in message and "0" * 64 in message and "sha256=None" in message


def test_the_default_checksum_is_the_published_archives(archive):
    with pytest.raises(CorpusError, match="the published aclImdb_v1.tar.gz, 84,125,825 bytes"):
        load_reviews(source=archive)
    assert REVIEWS_SHA256.startswith("c40f74a1")


def test_sha256_none_reads_an_archive_of_ones_own(archive):
    assert as_lists(load_reviews(source=archive, sha256=None, seed=None))[1] == (X_TEST, Y_TEST)


def test_a_truncated_archive_is_refused_by_checksum_or_as_unreadable(archive, tmp_path):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:-60])
    with pytest.raises(CorpusError, match="sha256"):
        load_reviews(source=truncated, sha256=sha256_of(archive))
    with pytest.raises(CorpusError, match="cannot read .*truncated.tar.gz as a .tar.gz archive"):
        load_reviews(source=truncated, sha256=None)


def test_a_file_that_is_not_gzip_is_refused_as_unreadable(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("these are not the reviews")
    with pytest.raises(CorpusError, match="cannot read"):
        load_reviews(source=junk, sha256=None)


def test_an_archive_without_test_reviews_is_refused(tmp_path):
    train_only = {k: v for k, v in REVIEWS.items() if "/train/" in k}
    path = write_archive(tmp_path / "train_only.tar.gz", train_only)
    with pytest.raises(CorpusError, match="no review under aclImdb/test/pos/"):
        load_reviews(source=path, sha256=None)


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "aclImdb_v1.tar.gz"
    with pytest.raises(CorpusNotFound, match=str(missing)):
        load_reviews(source=missing)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="is a directory"):
        load_reviews(source=tmp_path)


# -- the cache and the download (file:// only) ----------------------------------------------


def test_a_cached_archive_with_the_right_checksum_is_used_without_a_download(archive, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "aclImdb_v1.tar.gz").write_bytes(archive.read_bytes())
    result = load_reviews(cache_dir=cache, sha256=sha256_of(archive), seed=None)
    assert as_lists(result) == [(X_TRAIN, Y_TRAIN), (X_TEST, Y_TEST)]


def test_a_download_is_checked_then_kept(archive, tmp_path):
    cache = tmp_path / "cache"
    path = fetch_reviews(cache, url=archive.as_uri(), sha256=sha256_of(archive))
    assert path == cache / "aclImdb_v1.tar.gz" and path.read_bytes() == archive.read_bytes()
    assert [p.name for p in cache.iterdir()] == ["aclImdb_v1.tar.gz"]


def test_a_download_with_the_wrong_checksum_is_discarded(archive, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(CorpusError, match="discarded.*path/to/aclImdb_v1.tar.gz"):
        fetch_reviews(cache, url=archive.as_uri(), sha256="f" * 64)
    assert list(cache.iterdir()) == []


def test_a_failed_download_says_offline_and_how_to_pass_a_copy(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(CorpusNotFound, match="offline.*--reviews path/to/aclImdb_v1.tar.gz"):
        fetch_reviews(cache, url=(tmp_path / "absent.tar.gz").as_uri(), sha256="f" * 64)
    assert list(cache.iterdir()) == []
