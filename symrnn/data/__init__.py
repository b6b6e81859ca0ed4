r"""Text in, integer windows out: the data step of the Lesson 6 models (numpy only).

Nothing in :mod:`symrnn.data` imports pytensor, so data can be prepared,
inspected and tested without compiling a graph. The flow follows the lesson:

1. :func:`load_corpus` returns the corpus as one ``str`` (:mod:`.corpus`);
2. :class:`Vocab` maps each distinct character to an id, ``"\0"`` at id 0 (:mod:`.vocab`);
3. :func:`windows` cuts the ids into inputs and targets shifted by one, and
   :func:`one_hot` makes one-hot rows for the models that take them (:mod:`.windows`);
4. :class:`BatchMixer` mixes batches from several sources (:mod:`.mixer`);
   :func:`sample_index` turns a distribution into a character (:mod:`.sampling`).

>>> vocab = Vocab.from_text("hello world")
>>> x, y = windows(vocab.encode("hello world"), seq_len=3)
>>> vocab.decode(x[0]), vocab.decode(y[0])
('hel', 'ell')
"""
from .corpus import (
    NIETZSCHE_SHA256,
    NIETZSCHE_URL,
    default_cache_dir,
    fetch_nietzsche,
    load_corpus,
)
from .mixer import BatchMixer, MixIterator
from .sampling import check_temperature, generate_from_windows, sample_index
from .vocab import PAD_CHAR, Vocab
from .windows import (
    LESSON_DROP_LAST,
    count_windows,
    one_hot,
    split_tail,
    stateful_layout,
    train_heldout_windows,
    windows,
)

__all__ = [
    "NIETZSCHE_URL", "NIETZSCHE_SHA256", "LESSON_DROP_LAST", "PAD_CHAR", "BatchMixer", "MixIterator",
    "Vocab", "check_temperature", "count_windows", "default_cache_dir", "fetch_nietzsche",
    "generate_from_windows", "load_corpus", "one_hot", "sample_index", "split_tail",
    "stateful_layout", "train_heldout_windows", "windows",
]
