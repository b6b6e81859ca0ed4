"""The sample corpora in data/samples: rebuilt byte for byte, and their statistics hold."""
import hashlib
import json
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from imports import REPO_ROOT

from symrnn.data import Vocab, load_corpus

ROOT = REPO_ROOT
SAMPLES = ROOT / "data" / "samples"
GENERATED = ("markov_text.txt", "latin1_bytes.txt", "samples.json")


@pytest.fixture(scope="module")
def stats():
    return json.loads((SAMPLES / "samples.json").read_text(encoding="ascii"))


def test_generator_rebuilds_the_committed_files_byte_for_byte(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "data" / "make_samples.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


@pytest.mark.parametrize("name", ["markov_text.txt", "latin1_bytes.txt"])
def test_recorded_size_and_checksum(stats, name):
    raw = (SAMPLES / name).read_bytes()
    assert len(raw) == stats[name]["bytes"]
    assert hashlib.sha256(raw).hexdigest() == stats[name]["sha256"]


def test_markov_text_loads_with_the_recorded_vocabulary(stats):
    info = stats["markov_text.txt"]
    text = load_corpus(SAMPLES / "markov_text.txt", encoding=info["encoding"])
    assert len(text) == info["chars"] == 6_000
    assert sorted(set(text)) == info["vocab"] == sorted(info["transitions"])
    vocab = Vocab.from_text(text)
    assert vocab.size == len(info["vocab"]) + 1  # plus the padding symbol
    assert vocab.decode(vocab.encode(text)) == text


def test_markov_text_never_makes_a_forbidden_transition(stats):
    transitions = stats["markov_text.txt"]["transitions"]
    text = stats["markov_text.txt"]["start"] + load_corpus(SAMPLES / "markov_text.txt")
    seen = set(zip(text, text[1:]))
    allowed = {(a, b) for a, nexts in transitions.items() for b in nexts}
    assert seen <= allowed, sorted(seen - allowed)


def test_markov_bigram_frequencies_match_the_chain(stats):
    """Each empirical P(next | current) within 4 binomial standard errors of the chain's."""
    info = stats["markov_text.txt"]
    text = info["start"] + load_corpus(SAMPLES / "markov_text.txt")
    pairs = Counter(zip(text, text[1:]))
    for current, nexts in info["transitions"].items():
        n = sum(c for (a, _), c in pairs.items() if a == current)
        assert n >= 50, f"too few visits to {current!r} to check it"
        for nxt, weight in nexts.items():
            p = weight / info["total_weight"]
            p_hat = pairs[(current, nxt)] / n
            assert abs(p_hat - p) < 4 * math.sqrt(p * (1 - p) / n), (current, nxt, p_hat, p)


def test_markov_entropy_rate_is_the_mean_log_loss_of_the_true_chain(stats):
    """An independent computation: average -log p over every transition in the text."""
    info = stats["markov_text.txt"]
    text = info["start"] + load_corpus(SAMPLES / "markov_text.txt")
    probs = np.array([info["transitions"][a][b] / info["total_weight"] for a, b in zip(text, text[1:])])
    mean_nll = -np.log(probs).mean()
    # the recorded rate weights each row's entropy by visits; the sampled loss is close to it
    assert abs(mean_nll - info["entropy_rate_nats"]) < 0.05
    assert 1.0 < info["entropy_rate_nats"] < math.log(len(info["vocab"]))


def test_latin1_sample_gives_one_id_per_byte(stats):
    info = stats["latin1_bytes.txt"]
    text = load_corpus(SAMPLES / "latin1_bytes.txt", encoding="latin-1")
    assert len(text) == info["chars"] == 255
    vocab = Vocab.from_text(text)
    assert vocab.size == 256  # 255 bytes + padding at id 0
    ids = vocab.encode(text)
    np.testing.assert_array_equal(ids, np.arange(1, 256))  # the id of each byte is its value
    assert text.encode("latin-1") == bytes(range(1, 256))
    assert info["vocab"] == [chr(b) for b in range(1, 256)]


def test_latin1_sample_is_not_utf8():
    from symrnn.errors import CorpusError
    with pytest.raises(CorpusError, match="latin-1"):
        load_corpus(SAMPLES / "latin1_bytes.txt", encoding="utf-8")
