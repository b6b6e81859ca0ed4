"""``symrnn generate`` on a layers model samples through the one-step Generator."""
import pytest

from symrnn.app.cli import main
from symrnn.app.run import load_run
from symrnn.layers.generation import Generator

TINY = ["--hidden", "6", "--seq-len", "5", "--batch-size", "4", "--sequences", "40", "--no-progress",
        "--sample", "0"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat. " * 40)
    return path


@pytest.mark.parametrize("kind", ["simplernn", "lstm"])
def test_cli_generate_matches_generator_sample(tmp_path, corpus, capsys, kind):
    run = str(tmp_path / "run")
    assert main(["train", "--corpus", str(corpus), "--run-dir", run, "--model", kind,
                 "--layers", "2", *TINY]) == 0
    capsys.readouterr()
    assert main(["generate", run, "--prime", "the c", "--chars", "60", "--seed", "3",
                 "--temperature", "1.5", "--backend", "py"]) == 0
    printed = capsys.readouterr().out.split("sampled text (temperature 1.5):\n")[1].rstrip("\n")
    model, _, _ = load_run(run, "py")
    expected = Generator(model.model, backend="py").sample(model.vocab, "the c", 60,
                                                           temperature=1.5, seed=3)
    assert printed == "the c" + expected
    other_seed = Generator(model.model, backend="py").sample(model.vocab, "the c", 60,
                                                             temperature=1.5, seed=4)
    assert other_seed != expected  # the seed is what makes the two agree
