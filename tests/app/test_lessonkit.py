"""The lessons' shared setup: flags, --quick defaults, the corpus slice."""

import numpy as np
import pytest
from imports import REPO_ROOT

from symrnn.app.lessonkit import first_rows, lesson_args, lesson_parser, lesson_setup
from symrnn.errors import ConfigError

SAMPLE = REPO_ROOT / "data" / "samples" / "markov_text.txt"
FLAGS = {"epochs": 8, "hidden": 256, "limit": None}
QUICK = {"epochs": 1, "hidden": 32, "limit": 300, "backend": "py"}


def test_flags_keep_their_defaults_without_quick():
    args = lesson_args("doc", [], flags=FLAGS, quick=QUICK)
    assert (args.quick, args.epochs, args.hidden, args.limit, args.backend) == (False, 8, 256, None, None)


def test_quick_changes_the_defaults_but_a_given_flag_wins():
    args = lesson_args("doc", ["--quick", "--hidden", "64"], flags=FLAGS, quick=QUICK)
    assert (args.epochs, args.hidden, args.limit, args.backend) == (1, 64, 300, "py")


def test_lesson_own_flags_parse_with_their_types():
    extra = {"--form": dict(choices=("a", "b"), default="a", help="form")}
    args = lesson_args("doc", ["--form", "b", "--epochs", "3"], flags={"epochs": 8}, extra_args=extra)
    assert (args.form, args.epochs) == ("b", 3)
    with pytest.raises(SystemExit):
        lesson_args("doc", ["--form", "c"], extra_args=extra)


@pytest.mark.parametrize("flags, quick", [({"epoch": 3}, None), ({"epochs": 3}, {"epoch": 1})])
def test_misspelt_flags_are_refused(flags, quick):
    with pytest.raises(ConfigError, match="epoch"):
        lesson_args("doc", ["--quick"], flags=flags, quick=quick)


def test_help_shows_defaults_and_what_quick_changes():
    text = " ".join(lesson_parser("doc", flags=FLAGS, quick=QUICK).format_help().split())
    assert "(default: 8)" in text and "epochs=1, hidden=32, limit=300, backend=py" in text
    assert "(default: None)" not in text


def test_a_lesson_without_a_corpus_has_no_corpus_flag():
    assert lesson_args("doc", [], corpus=False).seed == 42
    with pytest.raises(SystemExit):
        lesson_args("doc", ["--corpus", "x"], corpus=False)


@pytest.mark.parametrize("quick", [False, True])
def test_setup_loads_the_corpus_and_slices_it_under_quick(quick):
    argv = ["--corpus", str(SAMPLE)] + (["--quick"] if quick else [])
    args, text, vocab = lesson_setup("doc", argv, quick_chars=100)
    whole = SAMPLE.read_text(encoding="utf-8")
    assert text == (whole[:100] if quick else whole)
    assert args.quick is quick
    assert vocab.decode(vocab.encode(text)) == text


def test_first_rows_slices_arrays_and_lists_of_arrays():
    x, [a, b] = first_rows(2, np.arange(5), [np.arange(3), np.ones((4, 2))])
    assert x.tolist() == [0, 1] and a.tolist() == [0, 1] and b.shape == (2, 2)
    (kept,) = first_rows(None, np.arange(5))
    assert kept.tolist() == [0, 1, 2, 3, 4]
