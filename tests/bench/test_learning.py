"""``symrnn bench --learning``: its options, its symrnn rows (real ``symrnn train``
processes, on the py backend at tiny sizes) and its PyTorch twin. Nothing asserts a speed."""
import math

import numpy as np
import pytest

from symrnn.bench import learning
from symrnn.bench.options import parse_args
from symrnn.data import Vocab, train_heldout_windows

TEXT = "the cat sat on the mat; a dog ate the hat. " * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return str(path)


def test_learning_options_default_to_the_issues_comparison():
    args = parse_args(["--learning"])
    assert (args.models, args.seq, args.batch, args.hidden) == (["lstm"], [50], [64], 256)
    assert (args.corpus, args.epochs, args.seeds) == ("nietzsche", 2, [42, 43])
    assert args.variants == ["keras-embedding", "torch-embedding"] and not args.probes
    assert parse_args(["--learning", "--cell", "gru"]).models == ["gru"]


@pytest.mark.parametrize("argv", [["--learning", "--cell", "gru", "lstm"],
                                  ["--learning", "--model", "lesson"],
                                  ["--learning", "--masked"], ["--learning", "--variants", "best"]])
def test_learning_refuses_what_it_cannot_compare(argv, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error" in capsys.readouterr().err


@pytest.mark.heavy   # two whole symrnn train processes
def test_symrnn_rows_are_real_train_runs_with_the_variants_flags(corpus, monkeypatch, capsys):
    monkeypatch.setenv("SYMRNN_BACKEND", "py")
    args = parse_args(["--learning", "--corpus", corpus, "--cell", "simple", "--hidden", "7",
                       "--seq", "5", "--batch", "4", "--epochs", "2", "--seeds", "3",
                       "--no-torch"])
    rows = learning.main(args)
    assert [r["impl"] for r in rows] == ["symrnn keras-embedding", "symrnn torch-embedding"]
    for row in rows:
        assert row["exit"] == 0, row["tail"]
        assert len(row["heldout"]) == 2 and all(0 < v < math.log(30) for v in row["heldout"])
    # the embedding init reached the model: same seed, same data, other numbers
    assert rows[0]["heldout"] != rows[1]["heldout"]
    out = capsys.readouterr().out
    assert "mean over seeds" in out and "symrnn torch-embedding" in out


def test_the_twin_trains_on_the_windows_symrnn_train_uses(corpus, capsys):
    torch = pytest.importorskip("torch")
    vocab_size, (x, _), (_, hy) = learning.twin_windows(corpus, seq_len=5, batch_size=4)
    vocab = Vocab.from_text(TEXT)
    want = train_heldout_windows(vocab.encode(TEXT), 5, sequences=30_000)
    full = len(want[0]) // 4 * 4
    assert vocab_size == vocab.size and np.array_equal(x, want[0][:full])
    assert np.array_equal(hy, want[3])
    model = learning.twin_model(torch, "lstm", vocab_size, hidden=7, embed=42)
    # PyTorch's own defaults: N(0, 1) embedding
    assert float(model.embedding.weight.detach().std()) > 0.5
    assert learning.twin_main(["--model", "lstm", "--corpus", corpus, "--seq-len", "5",
                               "--batch-size", "4", "--epochs", "2", "--hidden", "7",
                               "--seed", "1", "--lr", "0.01"]) == 0
    found = [learning.parse_heldout(line) for line in capsys.readouterr().out.splitlines()]
    assert [epoch for epoch, _ in found] == [1, 2]
    assert all(0 < nats < math.log(vocab_size) for _, nats in found)
