"""Shared scaffolding for the lesson scripts: the same flags, the same corpus loading.

Numpy only (through :mod:`symrnn.data`); no model code lives here.
:func:`float_scope` imports PyTensor only when called.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..data import Vocab, load_corpus
from ..runtime import keep_freed_memory, limit_blas_threads

__all__ = ["lesson_parser", "parse_lesson_args", "load_lesson_corpus", "example_snippets", "fit_epochs",
           "float_scope"]


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
    limit_blas_threads()  # before the first compile loads scipy's OpenBLAS
    keep_freed_memory()
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
        from ..errors import ConfigError
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    import pytensor  # lazily: this module is otherwise numpy-only

    return pytensor.config.change_flags(floatX=dtype)
