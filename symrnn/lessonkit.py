"""Shared scaffolding for the lesson scripts: the same flags, the same corpus loading.

Numpy only (through :mod:`symrnn.data`); no model code lives here.
:func:`float_scope` imports PyTensor only when called.
"""

from __future__ import annotations

import argparse
import sys

from .data import Vocab, load_corpus

__all__ = ["lesson_parser", "parse_lesson_args", "load_lesson_corpus", "float_scope"]


def lesson_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every lesson script shares.

    ``--corpus`` (default: the embedded corpus; also a file path or
    ``nietzsche``), ``--encoding`` (default utf-8), ``--quick`` (run on a small
    slice), ``--seed`` (default 42) and ``--backend`` (default: the library's).
    """
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", default=None,
        help="text file path, 'nietzsche' (downloaded once), or unset for the embedded corpus",
    )
    parser.add_argument(
        "--encoding", default="utf-8",
        help="file encoding; latin-1 reads one character per byte like the lesson (default utf-8)",
    )
    parser.add_argument("--quick", action="store_true", help="run on a small slice of the corpus")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--backend", default=None,
        help="PyTensor backend: numba, c, py or jax (default: $SYMRNN_BACKEND or numba)",
    )
    return parser


def parse_lesson_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv``; inside a Jupyter kernel, ignore the kernel's own command line."""
    if argv is None and "ipykernel" in sys.modules:
        argv = []  # sys.argv there is the kernel's (-f connection.json), not ours
    return parser.parse_args(argv)


def load_lesson_corpus(args: argparse.Namespace, quick_chars: int = 20_000):
    """Load the corpus named by ``args``; under ``--quick`` keep the first ``quick_chars``.

    Returns
    -------
    text : str
    vocab : Vocab
        Built from the kept text, so every kept character encodes.
    """
    text = load_corpus(args.corpus, encoding=args.encoding)
    if args.quick:
        text = text[:quick_chars]
    return text, Vocab.from_text(text)


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
        from .errors import ConfigError
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    import pytensor  # lazily: this module is otherwise numpy-only

    return pytensor.config.change_flags(floatX=dtype)
