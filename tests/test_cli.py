"""The command line: a tiny real run, and clear errors for bad input."""
import pytest

from symrnn.cli import main


def test_train_runs_and_samples(capsys, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat. " * 40)
    assert main(["train", "--corpus", str(corpus), "--sequences", "60", "--hidden", "12",
                 "--sample", "25", "--prime", "the "]) == 0
    out = capsys.readouterr().out
    assert "vocabulary 12" in out  # 11 distinct characters + the pad
    assert "predicted next characters" in out
    sampled = out.split("sampled text")[1].splitlines()[1]
    assert sampled.startswith("the ") and len(sampled) == 4 + 25


@pytest.mark.parametrize("argv, message", [
    (["--corpus", "/no/such/file.txt"], "does not exist"),
    (["--backend", "cuda"], "valid names: numba, c, py, jax"),
    (["--temperature", "0"], "temperature must be a positive"),
    (["--hidden", "0"], "--hidden must be positive"),
    (["--prime", "\u2603"], "not in"),
])
def test_bad_input_exits_2_with_a_message(capsys, tmp_path, argv, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcdefgh" * 20)
    assert main(["train", "--corpus", str(corpus), *argv]) == 2
    assert message in capsys.readouterr().err
