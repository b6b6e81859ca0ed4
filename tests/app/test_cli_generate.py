"""``symrnn generate`` on a layers model samples through the one-step Generator."""
import itertools

import pytest

from symrnn.app.cli import main
from symrnn.app.run import generation_window, load_run, sample_text
from symrnn.layers.generation import Generator

TINY = ["--hidden", "6", "--seq-len", "5", "--batch-size", "4", "--sequences", "40", "--no-progress",
        "--sample", "0", "--backend", "py"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat. " * 40)
    return path


@pytest.mark.parametrize("kind", ["simplernn", pytest.param("lstm", marks=pytest.mark.heavy)])
def test_cli_generate_matches_generator_sample(tmp_path, corpus, capsys, kind):
    run = str(tmp_path / "run")
    assert main(["train", "--corpus", str(corpus), "--run-dir", run, "--model", kind,
                 "--layers", "2", *TINY]) == 0
    capsys.readouterr()
    model, _, _ = load_run(run, "py")
    for flags, window, how in [([], 5, "each re-reading the last 5 characters"),
                               (["--carry-state"], None, "state carried")]:
        assert main(["generate", run, "--prime", "the c", "--chars", "60", "--seed", "3",
                     "--temperature", "1.5", "--backend", "py", *flags]) == 0
        printed = capsys.readouterr().out.split(f"sampled text (temperature 1.5, {how}):\n")[1]
        generator = Generator(model.model, backend="py", window=window)
        expected = generator.sample(model.vocab, "the c", 60, temperature=1.5, seed=3)
        assert printed.rstrip("\n") == "the c" + expected
        other_seed = generator.sample(model.vocab, "the c", 60, temperature=1.5, seed=4)
        assert other_seed != expected  # the seed is what makes the two agree


def longest_run(text):
    return max(len(list(same)) for _, same in itertools.groupby(text))


def test_a_trained_default_model_samples_without_absurd_letter_runs(tmp_path):
    """The CLI's default model, trained on windows of 8 from a zero state, samples by
    re-reading windows: 1,000 characters at temperature 0.7 with no run of one letter
    longer than 6 (the corpus has none longer than 1; a carried relu state gave runs of
    hundreds, then overflowed)."""
    corpus = tmp_path / "prose.txt"
    corpus.write_text("the cat sat on the mat; a dog ate the hat. " * 60)
    run_dir = tmp_path / "run"
    assert main(["train", "--corpus", str(corpus), "--run-dir", str(run_dir), "--backend", "py",
                 "--epochs", "2", "--sample", "0", "--no-progress"]) == 0
    model, meta, _ = load_run(run_dir, "py")
    assert generation_window(meta) == meta["data"]["seq_len"] == 8
    sampled = sample_text(model, "the ", 1000, 0.7, 1, generation_window(meta))
    assert len(sampled) == 1000 and longest_run(sampled) <= 6, sampled
