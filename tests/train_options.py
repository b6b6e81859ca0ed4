"""`symrnn train`'s options as argparse gives them, for tests that drive symrnn.app.run directly.

>>> import tempfile
>>> from pathlib import Path
>>> opts = options(Path(tempfile.mkdtemp()), hidden=6)
>>> opts.hidden, opts.backend, opts.epochs, Path(opts.corpus).read_text() == TEXT
(6, 'py', None, True)
"""
import types

from symrnn.app import run

TEXT = "the cat sat on the mat; a dog ate the hat. " * 25


def options(tmp_path, run_dir="run", **given):
    """`symrnn train` options as argparse gives them: None where not given; the corpus is
    :data:`TEXT`, written to ``tmp_path/corpus.txt``."""
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        corpus.write_text(TEXT)
    unset = dict.fromkeys(run.TRAIN_DEFAULTS)
    return types.SimpleNamespace(**{**unset, "corpus": str(corpus), "encoding": None, "resume": None,
                                    "max_steps": None, "run_dir": str(tmp_path / run_dir),
                                    "backend": "py", "devices": None, "no_progress": True, **given})
