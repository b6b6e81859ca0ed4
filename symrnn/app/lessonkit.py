"""What every lesson script shares: its flags, its ``--quick`` slice and its corpus.

A lesson opens with one call and gets on with its story::

    args, text, vocab = lesson_setup(__doc__, argv, flags={"epochs": 8, "hidden": 256},
                                     quick={"epochs": 1, "hidden": 32})

Numpy only (through :mod:`symrnn.data`); no model code lives here.
:func:`float_scope` imports PyTensor only when called.

>>> args = lesson_args("doc", ["--quick", "--epochs", "3"], flags={"epochs": 8, "hidden": 256},
...                    quick={"epochs": 1, "hidden": 32})
>>> args.quick, args.epochs, args.hidden   # under --quick a flag given still wins
(True, 3, 32)
"""

from __future__ import annotations

import argparse
import sys
import time

from ..data import Vocab, load_corpus
from ..errors import ConfigError
from ..runtime import keep_freed_memory, limit_blas_threads

__all__ = ["lesson_setup", "lesson_args", "lesson_parser", "parse_lesson_args", "load_lesson_corpus",
           "first_rows", "example_snippets", "fit_epochs", "float_scope", "STANDARD_FLAGS"]

QUICK_CHARS = 20_000   # characters a --quick run keeps from the start of the corpus

# Flags several lessons take, by name: (type, help). A lesson picks them with
# ``flags={name: default}``; its own flags go in ``extra_args``.
STANDARD_FLAGS = {
    "epochs": (int, "passes over the training data"),
    "hidden": (int, "hidden units of the recurrent layer"),
    "units": (int, "units per recurrent layer"),
    "limit": (int, "train on the first N windows only (unset: all of them)"),
    "lr": (float, "learning rate"),
    "report_every": (int, "print the mean error every N sequences"),
    "dtype": (str, "float type of the weights and inputs"),
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The lesson's docstring as written, and each flag's default (when it has one) after its help."""

    def _get_help_string(self, action):
        unset = action.default is None or action.default is False  # (0 and 0.0 still show)
        if unset or action.default == argparse.SUPPRESS or "%(default)" in action.help:
            return action.help
        return action.help + " (default: %(default)s)"


def lesson_parser(doc: str, flags=None, extra_args=None, quick=None,
                  corpus: bool = True) -> argparse.ArgumentParser:
    """An argument parser with the flags every lesson shares, plus its own.

    Shared: ``--corpus`` (unset: the embedded corpus; also a file path or
    ``nietzsche``) and ``--encoding`` (both left out with ``corpus=False``),
    ``--quick``, ``--seed`` and ``--backend``. ``flags`` adds
    :data:`STANDARD_FLAGS` by name with their defaults; ``extra_args`` maps a
    flag to its ``add_argument`` keywords. ``quick`` only shows in the help
    of ``--quick``: what that flag changes.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=_HelpFormatter)
    if corpus:
        parser.add_argument("--corpus", default=None,
                            help="text file path, 'nietzsche' (downloaded once and checked), "
                                 "or unset for the embedded corpus")
        parser.add_argument("--encoding", default="utf-8",
                            help="file encoding; latin-1 reads one character per byte like the lesson")
    changes = ", ".join(f"{k}={v}" for k, v in (quick or {}).items())
    parser.add_argument("--quick", action="store_true",
                        help="a small, fast run" + (f" (defaults become {changes})" if changes else ""))
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--backend", default=None,
                        help="PyTensor backend: numba, c, py or jax (unset: $SYMRNN_BACKEND or numba)")
    for name, default in (flags or {}).items():
        if name not in STANDARD_FLAGS:
            raise ConfigError(f"unknown standard flag {name!r}; known: {', '.join(STANDARD_FLAGS)}")
        kind, help_text = STANDARD_FLAGS[name]
        choices = ("float32", "float64") if name == "dtype" else None
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=default,
                            choices=choices, help=help_text)
    for flag, options in (extra_args or {}).items():
        parser.add_argument(flag, **options)
    return parser


def parse_lesson_args(parser: argparse.ArgumentParser, argv=None, quick=None) -> argparse.Namespace:
    """Parse ``argv``; under ``--quick`` the values in ``quick`` become the defaults.

    A flag given on the command line beats its ``--quick`` default. Inside a
    Jupyter kernel the kernel's own command line is ignored. Also sets the
    process up for training (one BLAS thread unless set, freed memory kept).
    """
    if argv is None and "ipykernel" in sys.modules:
        argv = []  # sys.argv there is the kernel's (-f connection.json), not ours
    args = parser.parse_args(argv)
    if args.quick and quick:
        unknown = sorted(set(quick) - set(vars(args)))
        if unknown:
            raise ConfigError(f"quick settings for flags the lesson lacks: {', '.join(unknown)}")
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    limit_blas_threads()  # before the first compile loads scipy's OpenBLAS
    keep_freed_memory()
    return args


def lesson_args(doc: str, argv=None, flags=None, extra_args=None, quick=None,
                corpus: bool = True) -> argparse.Namespace:
    """Build the lesson's parser (:func:`lesson_parser`) and parse ``argv`` with it."""
    parser = lesson_parser(doc, flags, extra_args, quick, corpus)
    return parse_lesson_args(parser, argv, quick)


def lesson_setup(doc: str, argv=None, flags=None, extra_args=None, quick=None,
                 quick_chars: int = QUICK_CHARS):
    """Everything a corpus lesson does before its first idea: flags, then text.

    Parameters
    ----------
    doc : str
        The lesson's docstring, shown by ``--help``.
    argv : list of str, optional
        Command-line arguments (default: the script's own).
    flags : dict, optional
        ``{name: default}`` for :data:`STANDARD_FLAGS` the lesson takes.
    extra_args : dict, optional
        ``{"--flag": add_argument keywords}`` for the lesson's own flags.
    quick : dict, optional
        ``{dest: value}``: the defaults under ``--quick``.
    quick_chars : int
        Characters of the corpus a ``--quick`` run keeps.

    Returns
    -------
    args : argparse.Namespace
    text : str
    vocab : Vocab
        Built from ``text``, so every kept character encodes.
    """
    args = lesson_args(doc, argv, flags, extra_args, quick)
    text, vocab = load_lesson_corpus(args, quick_chars)
    return args, text, vocab


def load_lesson_corpus(args: argparse.Namespace, quick_chars: int = QUICK_CHARS):
    """Load the corpus named by ``args``; under ``--quick`` keep the first ``quick_chars``.

    Returns ``(text, vocab)`` with the vocabulary built from the kept text.
    """
    text = load_corpus(args.corpus, encoding=args.encoding)
    if args.quick:
        text = text[:quick_chars]
    return text, Vocab.from_text(text)


def first_rows(n, *data):
    """The first ``n`` rows of every array in ``data`` (of each array of a list);
    ``n=None`` keeps them all.

    >>> import numpy as np
    >>> x, [a, b] = first_rows(2, np.arange(5), [np.arange(3), np.arange(4)])
    >>> x.tolist(), a.tolist(), b.tolist()
    ([0, 1], [0, 1], [0, 1])
    """
    rows = slice(None) if n is None else slice(int(n))
    return tuple([a[rows] for a in d] if isinstance(d, list) else d[rows] for d in data)


def fit_epochs(model, x, y, epochs, batch_size=64, seed=42):
    """Fit ``model`` one epoch at a time, printing each epoch's losses and wall time.

    One ``fit(epochs=1)`` call per epoch so a long run shows progress line by
    line (the optimizer's state carries over between calls); epoch ``e``
    shuffles with seed ``seed + e``. The first epoch's time includes compiling.

    Returns
    -------
    list of dict
        The logs of each epoch: ``"loss"`` and, for several outputs, one
        ``"<output>_loss"`` per output.
    """
    logs = []
    for epoch in range(int(epochs)):
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, seed=seed + epoch)
        seconds = time.perf_counter() - start
        epoch_logs = {k: v[-1] for k, v in history.history.items()}
        parts = [f"loss {epoch_logs['loss']:.4f}"] + [
            f"{k[:-5]} {v:.3f}" for k, v in epoch_logs.items() if k != "loss"]
        print(f"epoch {epoch + 1}/{epochs}: {', '.join(parts)} ({seconds:.1f} s)", flush=True)
        logs.append(epoch_logs)
    return logs


def example_snippets(text, length, phrase="then? Is"):
    """A few ``length``-character snippets to show predictions on.

    The lesson's own example ``phrase`` when the corpus has it (the Nietzsche
    text does), then one from early and one from the middle of the text; any
    that would run past the end are left out.

    >>> example_snippets("abcdefghij" * 200, 4, phrase="cdef")
    ['cdef', 'abcd', 'abcd']
    """
    starts = (text.find(phrase), 1_000, len(text) // 2)
    return [text[i:i + length] for i in starts if 0 <= i <= len(text) - length]


def float_scope(dtype: str):
    """A context in which PyTensor types bare Python floats as ``dtype``.

    Layer models in float32 still meet Python float constants (Adam's betas,
    hard-sigmoid slopes, dropout scales) that PyTensor types as float64 under
    the default ``floatX``, which upcasts the graph and makes scan and the
    updates refuse it. Building and compiling inside this scope keeps a
    float32 graph float32; the change ends with the ``with`` block.

    >>> with float_scope("float64"):
    ...     pass
    """
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    import pytensor  # not at the top: importing this module must not load PyTensor

    return pytensor.config.change_flags(floatX=dtype)
