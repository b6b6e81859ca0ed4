"""symrnn: the recurrent networks of fast.ai's Lesson 6 as compiled PyTensor graphs.

The main entry points, loaded on first use (so ``import symrnn.data`` stays
numpy only):

- :mod:`symrnn.layers`: the Keras-like API (``Sequential``, ``Embedding``,
  ``SimpleRNN``, ``GRU``, ``LSTM``, ``TimeDistributed``, ``Dense``...);
- :func:`load_corpus`, :class:`Vocab`, :func:`windows`: text in, id windows out;
- :class:`SGD`, :class:`Adam`, :class:`RMSprop`, :class:`Adagrad`: optimizers;
- :class:`LessonRNN`: the lesson's raw PyTensor RNN, written as the lesson wrote it.

>>> import symrnn
>>> vocab = symrnn.Vocab.from_text("hello")
>>> vocab.decode(vocab.encode("hell"))
'hell'
"""
import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("app", "bench", "data", "graph", "layers", "lesson")
_EXPORTS = {
    "load_corpus": "symrnn.data", "Vocab": "symrnn.data", "windows": "symrnn.data",
    "one_hot": "symrnn.data",
    "SGD": "symrnn.graph.optimizers", "Adam": "symrnn.graph.optimizers",
    "RMSprop": "symrnn.graph.optimizers", "Adagrad": "symrnn.graph.optimizers",
    "LessonRNN": "symrnn.lesson.rnn", "SymrnnError": "symrnn.errors",
}
__all__ = ["layers", *_EXPORTS]


def __getattr__(name):
    # PEP 562: import what is asked for, when it is asked for; pytensor only loads
    # with the first graph-side name, so numpy-only users never pay for it.
    if name in _SUBPACKAGES:
        return importlib.import_module(f"symrnn.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'symrnn' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES, *_EXPORTS])
