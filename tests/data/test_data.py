"""Tests of symrnn.data: loading, vocabulary, windows, one-hot, download paths.

No test touches the network: downloads go through file:// URLs of files the
tests write, or an address nothing listens on.
"""

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symrnn.data import (
    LESSON_DROP_LAST,
    Vocab,
    corpus,
    count_windows,
    fetch_nietzsche,
    load_corpus,
    one_hot,
    split_tail,
    windows,
)
from symrnn.errors import (
    ConfigError,
    CorpusError,
    CorpusNotFound,
    ShapeError,
    VocabError,
)

# ---------------------------------------------------------------- helpers


def write_bytes(tmp_path, payload, name="corpus.txt"):
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def sha256_hex(payload):
    return hashlib.sha256(payload).hexdigest()


@pytest.fixture
def isolated_cache_env(monkeypatch, tmp_path):
    """Point every cache variable somewhere empty, so no test sees a real cache."""
    monkeypatch.delenv("SYMRNN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


# ---------------------------------------------------------------- module hygiene


def test_data_does_not_import_pytensor():
    code = "import sys, symrnn.data, symrnn.app.lessonkit; print('pytensor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- load_corpus


def test_embedded_corpus_loads_and_is_large():
    text = load_corpus()
    assert isinstance(text, str)
    assert len(text) > 100_000
    assert load_corpus("default") == text  # same name, same text, deterministic


def test_file_corpus_reads_given_encoding(tmp_path):
    path = write_bytes(tmp_path, "naïve café\n".encode("utf-8"))
    assert load_corpus(path) == "naïve café\n"
    assert load_corpus(str(path), encoding="latin-1") == "naïve café\n".encode("utf-8").decode("latin-1")


def test_latin1_reads_one_character_per_byte(tmp_path):
    payload = bytes(range(1, 256))
    text = load_corpus(write_bytes(tmp_path, payload), encoding="latin-1")
    assert len(text) == len(payload)
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert len(ids) == len(payload)
    assert vocab.size == 256  # 255 distinct bytes + the pad
    assert ids.tolist() == list(range(1, 256))  # sorted bytes: id of byte b is b


def test_missing_file_raises_corpus_not_found(tmp_path):
    with pytest.raises(CorpusNotFound, match="does not exist.*default corpus"):
        load_corpus(tmp_path / "no-such.txt")


def test_missing_file_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_corpus(tmp_path / "no-such.txt")


def test_directory_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="is a directory"):
        load_corpus(tmp_path)


def test_unreadable_file_raises_corpus_error(tmp_path, monkeypatch):
    path = write_bytes(tmp_path, b"text")

    def refuse(self):  # chmod 0 does not stop root, so simulate the refusal
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", refuse)
    with pytest.raises(CorpusError, match="cannot be read.*Permission denied.*permissions"):
        load_corpus(path)


def test_undecodable_file_suggests_latin1(tmp_path):
    path = write_bytes(tmp_path, b"caf\xe9 au lait")
    with pytest.raises(CorpusError, match="not valid utf-8.*offset 3.*latin-1"):
        load_corpus(path)


def test_binary_file_is_refused(tmp_path):
    path = write_bytes(tmp_path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(CorpusError, match="looks binary.*latin-1"):
        load_corpus(path)


def test_binary_file_reads_under_latin1(tmp_path):
    payload = b"ab\0cd"
    text = load_corpus(write_bytes(tmp_path, payload), encoding="latin-1")
    assert text == "ab\0cd"


def test_utf16_text_is_not_mistaken_for_binary(tmp_path):
    path = write_bytes(tmp_path, "hello".encode("utf-16"))
    assert load_corpus(path, encoding="utf-16") == "hello"


def test_empty_file_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(write_bytes(tmp_path, b""))


def test_bom_only_file_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(write_bytes(tmp_path, b"\xef\xbb\xbf"), encoding="utf-8-sig")


def test_unknown_encoding_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        load_corpus(write_bytes(tmp_path, b"text"), encoding="klingon")


def test_source_of_wrong_type_raises_config_error():
    with pytest.raises(ConfigError, match="file path"):
        load_corpus(42)


def test_nietzsche_name_goes_through_the_cache(tmp_path, monkeypatch):
    payload = b"Supposing that Truth is a woman\n\xe6"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / corpus.NIETZSCHE_FILENAME).write_bytes(payload)
    real_fetch = corpus.fetch_nietzsche
    seen = []

    def fetch_with_test_checksum(cache_dir):
        seen.append(cache_dir)
        # unreachable URL: only a cache hit with this checksum can succeed
        return real_fetch(cache_dir, url="http://127.0.0.1:9/x", sha256=sha256_hex(payload), timeout=1)

    monkeypatch.setattr(corpus, "fetch_nietzsche", fetch_with_test_checksum)
    text = load_corpus("nietzsche", encoding="latin-1", cache_dir=cache)
    assert seen == [cache]
    assert text == payload.decode("latin-1")


# ---------------------------------------------------------------- fetch_nietzsche


def test_download_via_file_url(tmp_path):
    payload = b"a small stand-in for the corpus\n"
    url = write_bytes(tmp_path, payload, "remote.txt").as_uri()
    cache = tmp_path / "cache" / "nested"  # created on demand
    path = fetch_nietzsche(cache, url=url, sha256=sha256_hex(payload))
    assert path == cache / corpus.NIETZSCHE_FILENAME
    assert path.read_bytes() == payload
    assert [p.name for p in cache.iterdir()] == [corpus.NIETZSCHE_FILENAME]  # no temp left


def test_download_with_wrong_checksum_is_discarded(tmp_path):
    url = write_bytes(tmp_path, b"tampered", "remote.txt").as_uri()
    cache = tmp_path / "cache"
    with pytest.raises(CorpusError, match="sha256.*discarded"):
        fetch_nietzsche(cache, url=url, sha256=sha256_hex(b"original"))
    assert list(cache.iterdir()) == []  # neither temp file nor final file


def test_unreachable_url_raises_corpus_not_found(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(CorpusNotFound, match="offline.*--corpus .*nietzsche.txt --encoding latin-1"):
        fetch_nietzsche(cache, url="http://127.0.0.1:9/x", sha256=sha256_hex(b"x"), timeout=2)
    assert list(cache.iterdir()) == []


def test_missing_file_url_raises_corpus_not_found(tmp_path):
    url = (tmp_path / "absent.txt").as_uri()
    with pytest.raises(CorpusNotFound, match="could not download"):
        fetch_nietzsche(tmp_path / "cache", url=url, sha256=sha256_hex(b"x"))


def test_cache_hit_does_not_touch_the_network(tmp_path):
    payload = b"cached copy"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / corpus.NIETZSCHE_FILENAME).write_bytes(payload)
    # the URL is unreachable: success proves the cached file was used
    path = fetch_nietzsche(cache, url="http://127.0.0.1:9/x", sha256=sha256_hex(payload), timeout=1)
    assert path.read_bytes() == payload


def test_stale_cache_is_replaced(tmp_path):
    payload = b"fresh copy"
    url = write_bytes(tmp_path, payload, "remote.txt").as_uri()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / corpus.NIETZSCHE_FILENAME).write_bytes(b"truncated")
    path = fetch_nietzsche(cache, url=url, sha256=sha256_hex(payload))
    assert path.read_bytes() == payload


def test_cache_dir_from_symrnn_cache(isolated_cache_env, monkeypatch):
    payload = b"env cache"
    url = write_bytes(isolated_cache_env, payload, "remote.txt").as_uri()
    monkeypatch.setenv("SYMRNN_CACHE", str(isolated_cache_env / "env-cache"))
    path = fetch_nietzsche(url=url, sha256=sha256_hex(payload))
    assert path == isolated_cache_env / "env-cache" / corpus.NIETZSCHE_FILENAME


def test_cache_dir_from_xdg(isolated_cache_env):
    payload = b"xdg cache"
    url = write_bytes(isolated_cache_env, payload, "remote.txt").as_uri()
    path = fetch_nietzsche(url=url, sha256=sha256_hex(payload))
    assert path == isolated_cache_env / "xdg" / "symrnn" / corpus.NIETZSCHE_FILENAME


def test_cache_dir_falls_back_to_home(isolated_cache_env, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert corpus.default_cache_dir() == isolated_cache_env / "home" / ".cache" / "symrnn"


# ---------------------------------------------------------------- Vocab


def test_vocab_is_sorted_with_pad_at_zero():
    vocab = Vocab.from_text("hello world")
    assert vocab.chars == ["\0", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert vocab.size == len(vocab) == 9
    assert vocab.char_indices["\0"] == 0
    assert vocab.indices_char[vocab.char_indices["w"]] == "w"


def test_pad_in_text_is_not_duplicated():
    vocab = Vocab.from_text("a\0b\0")
    assert vocab.chars == ["\0", "a", "b"]
    assert vocab.decode(vocab.encode("a\0b\0")) == "a\0b\0"


def test_encode_decode_round_trip():
    text = "To be, or not to be: ça, 日本語 😀\n"
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int32
    assert ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert [vocab.char_indices[c] for c in text] == ids.tolist()


def test_encode_empty_text():
    vocab = Vocab.from_text("ab")
    assert vocab.encode("").shape == (0,)
    assert vocab.decode([]) == ""


def test_encode_unknown_characters_names_them():
    vocab = Vocab.from_text("abc")
    with pytest.raises(VocabError, match=r"not in the training corpus' vocabulary: 'x', 'y';"):
        vocab.encode("abxcy")


def test_encode_lists_at_most_ten_unknown_characters():
    vocab = Vocab.from_text("a")
    with pytest.raises(VocabError) as info:
        vocab.encode("bcdefghijklmnop")
    message = str(info.value)
    assert "'k'" in message and "'l'" not in message
    assert "and 5 more" in message  # 15 unknown, 10 listed


def test_encode_refuses_bytes():
    with pytest.raises(VocabError, match="expects a str.*decode"):
        Vocab.from_text("ab").encode(b"ab")


def test_decode_out_of_range_raises():
    vocab = Vocab.from_text("ab")
    with pytest.raises(VocabError, match=r"ids 3, 7 are outside.*size 3"):
        vocab.decode([1, 3, 7])
    with pytest.raises(VocabError):
        vocab.decode([-1])


def test_decode_rejects_non_integer_ids():
    with pytest.raises(ShapeError, match="integer"):
        Vocab.from_text("ab").decode([0.5])


def test_list_round_trip_and_equality():
    vocab = Vocab.from_text("the quick brown fox")
    restored = Vocab.from_list(vocab.to_list())
    assert restored == vocab
    assert restored != Vocab.from_text("the quick brown fax")
    assert vocab != vocab.to_list()  # a Vocab is not equal to a bare list


def test_from_list_keeps_custom_order():
    vocab = Vocab.from_list(["\0", "z", "a"])
    assert vocab.encode("az").tolist() == [2, 1]
    assert vocab.decode([1, 2]) == "za"


@pytest.mark.parametrize(
    "chars, words",
    [
        (["a", "a"], "repeats 'a'"),
        (["a", "bc"], "single characters.*'bc'"),
        (["a", 3], "single characters.*3"),
        ([], "empty"),
    ],
)
def test_from_list_validates(chars, words):
    with pytest.raises(VocabError, match=words):
        Vocab.from_list(chars)


# ---------------------------------------------------------------- windows


def test_windows_targets_are_inputs_shifted_by_one():
    ids = np.arange(100, 150)
    seq_len = 7
    x, y = windows(ids, seq_len)
    assert x.dtype == y.dtype == np.int32
    assert x.shape == y.shape == (count_windows(len(ids), seq_len), seq_len)
    assert np.array_equal(y[:, :-1], x[:, 1:])
    for i in range(len(x)):
        start = i * seq_len
        assert np.array_equal(x[i], ids[start : start + seq_len])
        assert y[i, -1] == ids[start + seq_len]


@pytest.mark.parametrize("n_ids", range(2, 60))
@pytest.mark.parametrize("seq_len", [1, 3, 8])
def test_window_count_formula(n_ids, seq_len):
    """Count = len(range(0, L-1-seq_len, seq_len)) - drop_last, i.e. ceil((L-1-s)/s)."""
    for drop_last in (0, LESSON_DROP_LAST):
        expected = math.ceil((n_ids - 1 - seq_len) / seq_len) - drop_last
        assert count_windows(n_ids, seq_len, drop_last) == expected
        if expected >= 1:
            x, _ = windows(np.zeros(n_ids, dtype=np.int64), seq_len, drop_last)
            assert len(x) == expected
        else:
            with pytest.raises(CorpusError):
                windows(np.zeros(n_ids, dtype=np.int64), seq_len, drop_last)


def test_drop_last_removes_the_final_windows():
    ids = np.arange(40)
    x_all, y_all = windows(ids, 4)
    x, y = windows(ids, 4, drop_last=2)
    assert np.array_equal(x, x_all[:-2])
    assert np.array_equal(y, y_all[:-2])


def test_lesson_range_leaves_out_a_window_that_would_just_fit():
    # 10 ids, seq_len 3: starts 0, 3 (range stops before 6), though ids[6:10] exist
    x, _ = windows(np.arange(10), 3)
    assert x[:, 0].tolist() == [0, 3]


def test_too_short_corpus_names_lengths():
    with pytest.raises(CorpusError, match=r"5 characters.*seq_len=8.*at least 10.*smaller seq_len"):
        windows(np.arange(5), 8)
    with pytest.raises(CorpusError, match="drop_last=2.*at least 26"):
        windows(np.arange(25), 8, drop_last=2)
    assert len(windows(np.arange(26), 8, drop_last=2)[0]) == 1  # the stated minimum suffices


@pytest.mark.parametrize("seq_len", [0, -3, 2.0, "8", True, None])
def test_bad_seq_len_raises_config_error(seq_len):
    with pytest.raises(ConfigError, match="seq_len"):
        windows(np.arange(50), seq_len)


@pytest.mark.parametrize("drop_last", [-1, 1.5])
def test_bad_drop_last_raises_config_error(drop_last):
    with pytest.raises(ConfigError, match="drop_last"):
        windows(np.arange(50), 3, drop_last)


def test_windows_rejects_bad_ids():
    with pytest.raises(ShapeError, match="1-D"):
        windows(np.zeros((5, 5), dtype=int), 2)
    with pytest.raises(ShapeError, match="integer"):
        windows(np.zeros(50), 2)


# ---------------------------------------------------------------- one_hot, split_tail


def test_one_hot_sums_to_one_and_argmax_round_trips():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 11, size=(4, 7))  # [B, T]
    encoded = one_hot(ids, 11)
    assert encoded.shape == (4, 7, 11)
    assert encoded.dtype == np.float32
    assert np.array_equal(encoded.sum(-1), np.ones((4, 7)))
    assert np.array_equal(encoded.argmax(-1), ids)


def test_one_hot_dtype():
    assert one_hot([0, 1], 2, dtype="float64").dtype == np.float64


def test_one_hot_out_of_range_ids():
    with pytest.raises(ShapeError, match=r"\[0, 5\].*vocab_size is 5"):
        one_hot([0, 5], 5)
    with pytest.raises(ShapeError, match=r"\[-1, 1\]"):
        one_hot([-1, 1], 5)


@pytest.mark.parametrize("vocab_size", [0, -2, 3.0])
def test_one_hot_bad_vocab_size(vocab_size):
    with pytest.raises(ConfigError, match="vocab_size"):
        one_hot([0], vocab_size)


def test_split_tail_keeps_order_and_sizes():
    ids = np.arange(1000)
    train, heldout = split_tail(ids)
    assert len(heldout) == 100
    assert np.array_equal(np.concatenate([train, heldout]), ids)
    train, heldout = split_tail(np.arange(100), 0.29)
    assert len(heldout) == 29  # not 28 from 100 * 0.29 == 28.999...


def test_split_tail_keeps_both_parts_non_empty():
    train, heldout = split_tail(np.arange(3), 0.01)
    assert len(train) == 2 and len(heldout) == 1
    train, heldout = split_tail(np.arange(2), 0.99)
    assert len(train) == 1 and len(heldout) == 1


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5, "0.1", True])
def test_split_tail_bad_fraction(fraction):
    with pytest.raises(ConfigError, match="fraction"):
        split_tail(np.arange(10), fraction)


def test_split_tail_too_short():
    with pytest.raises(CorpusError, match="cannot split 1"):
        split_tail(np.arange(1))


# ---------------------------------------------------------------- properties

any_text = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)


@settings(max_examples=150, deadline=None)
@given(text=any_text, seq_len=st.integers(min_value=1, max_value=12))
def test_property_round_trip_and_windows(text, seq_len):
    vocab = Vocab.from_text(text)
    assert vocab.chars[0] == "\0"
    assert vocab.chars == sorted(set(vocab.chars))  # sorted, no duplicates
    ids = vocab.encode(text)
    assert len(ids) == len(text)
    assert vocab.decode(ids) == text
    if len(text) >= seq_len + 2:
        x, y = windows(ids, seq_len)
        assert len(x) == count_windows(len(text), seq_len) >= 1
        assert np.array_equal(y[:, :-1], x[:, 1:])
        assert np.array_equal(y[:, -1], ids[seq_len :: seq_len][: len(x)])
        assert vocab.decode(x[0]) == text[:seq_len]
    else:
        with pytest.raises(CorpusError):
            windows(ids, seq_len)
