"""The command line: real tiny runs, resume through the CLI, generate, evaluate, graph."""
import re

import numpy as np
import pytest

from symrnn.app import graphs
from symrnn.app.cli import main
from symrnn.layers.checkpoints import load_checkpoint

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

TINY = ["--hidden", "6", "--seq-len", "5", "--batch-size", "4", "--no-progress"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat. " * 40)
    return path


def test_train_runs_and_samples(capsys, tmp_path, corpus):
    assert main(["train", "--corpus", str(corpus), "--sequences", "60", "--hidden", "12",
                 "--sample", "25", "--prime", "the ", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "vocabulary 12" in out  # 11 distinct characters + the pad
    assert "predicted next characters" in out
    assert re.search(r"held-out \d\.\d{4} nats/char = \d\.\d{4} bits/char, perplexity \d+\.\d\d", out)
    sampled = out.split("sampled text")[1].splitlines()[1]
    assert sampled.startswith("the ") and len(sampled) == 4 + 25


@pytest.mark.parametrize("argv, message", [
    (["--corpus", "/no/such/file.txt"], "does not exist"),
    (["--backend", "cuda"], "invalid choice: 'cuda'"),
    (["--temperature", "0"], "temperature must be positive"),
    (["--hidden", "0"], "--hidden must be positive"),
    (["--prime", "\u2603"], "not in"),
])
def test_bad_input_exits_2_with_a_message(capsys, tmp_path, argv, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcdefgh" * 20)
    assert main(["train", "--corpus", str(corpus), "--run-dir", str(tmp_path / "run"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_resume_through_the_cli_is_bit_identical(tmp_path, corpus, capsys):
    common = ["--corpus", str(corpus), "--epochs", "2", "--optimizer", "rmsprop", "--clipnorm", "1",
              "--sample", "0", *TINY]
    assert main(["train", *common, "--run-dir", str(tmp_path / "whole"), "--max-steps", "50"]) == 0
    assert main(["train", *common, "--run-dir", str(tmp_path / "split"), "--max-steps", "23"]) == 0
    assert main(["train", "--resume", str(tmp_path / "split"), "--max-steps", "50", "--sample", "0",
                 "--no-progress"]) == 0
    assert "resuming at step 23" in capsys.readouterr().out
    whole, meta, _ = load_checkpoint(tmp_path / "whole")
    split, split_meta, _ = load_checkpoint(tmp_path / "split")
    assert meta["step"] == split_meta["step"] == 50 and sorted(whole) == sorted(split)
    for name in whole:
        assert np.array_equal(whole[name], split[name]), name


def test_generate_and_evaluate_a_run(tmp_path, corpus, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--corpus", str(corpus), "--run-dir", run, "--sample", "0", *TINY]) == 0
    trained = capsys.readouterr().out
    assert main(["generate", run, "--prime", "the c", "--chars", "40", "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert main(["generate", run, "--prime", "the c", "--chars", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    sampled = first.split("sampled text (temperature 0.7, each re-reading the last 5 characters):\n")[1].rstrip("\n")
    assert sampled.startswith("the c") and len(sampled) == 45
    assert main(["generate", run, "--prime", "the c", "--chars", "10", "--greedy"]) == 0
    assert "sampled text (greedy, each re-reading the last 5 characters)" in capsys.readouterr().out
    assert main(["evaluate", run]) == 0
    evaluated = re.search(r"loss (\d\.\d{4}) nats/char = (\d\.\d{4}) bits/char", capsys.readouterr().out)
    nats, bits = map(float, evaluated.groups())
    assert abs(bits - nats / np.log(2)) < 1e-3
    assert f"held-out {nats:.4f} nats/char" in trained  # the epoch-end report of the same checkpoint


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_exits_3_and_names_the_step(tmp_path, corpus, capsys):
    argv = ["train", "--corpus", str(corpus), "--run-dir", str(tmp_path / "run"), "--optimizer", "sgd",
            "--lr", "1e30", *TINY]
    assert main(argv) == 3
    err = capsys.readouterr().err
    step = int(re.search(r"diverged at step (\d+)", err).group(1))
    assert f"Restored the parameters from step {step - 1}" in err and "--clipnorm 5" in err
    _, meta, _ = load_checkpoint(tmp_path / "run")
    assert meta["step"] == step - 1


def test_graph_writes_scan_and_unrolled_forms(tmp_path, capsys):
    out = tmp_path / "graphs"
    assert main(["graph", "--out", str(out), "--hidden", "5", "--seq-len", "3", "--vocab-size", "7"]) == 0
    scan, unrolled = (out / "lesson_scan.txt").read_text(), (out / "lesson_unrolled.txt").read_text()
    assert "Scan" in scan and "Scan" not in unrolled
    assert len(unrolled.splitlines()) > len(scan.splitlines())  # one copy of the step per character
    printed = capsys.readouterr().out
    drawn = graphs.can_draw()   # pydot and graphviz installed
    assert (out / "lesson_scan.png").exists() == drawn and ("images: not drawn" in printed) != drawn


def test_bench_receives_its_options(monkeypatch):
    import symrnn.bench.runner
    seen = []
    monkeypatch.setattr(symrnn.bench.runner, "main", lambda argv: seen.append(argv) or 0)
    assert main(["bench", "--quick", "--backend", "py"]) == 0
    assert seen == [["--quick", "--backend", "py"]]
