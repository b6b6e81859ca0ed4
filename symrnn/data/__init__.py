r"""Text in, integer windows out: the data step of the Lesson 6 models (numpy only).

Nothing in :mod:`symrnn.data` imports pytensor, so data can be prepared,
inspected and tested without compiling a graph. The flow follows the lesson:

1. :func:`load_corpus` returns the corpus as one ``str`` (:mod:`.corpus`);
2. :class:`Vocab` maps each distinct character to an id, ``"\0"`` at id 0 (:mod:`.vocab`);
3. :func:`windows` cuts the ids into inputs and targets shifted by one, and
   :func:`one_hot` makes one-hot rows for the models that take them (:mod:`.windows`);
4. :class:`BatchMixer` mixes batches from several sources (:mod:`.mixer`);
   :func:`sample_index` turns a distribution into a character (:mod:`.sampling`);
5. :func:`pad_sequences` pads sequences of different lengths (word ids of
   reviews, Keras' IMDB example) to one array (:mod:`.sequences`);
6. :func:`load_reviews` reads the IMDB movie reviews as word ids, like Keras'
   ``imdb.load_data`` (:mod:`.reviews`).

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
from .reviews import load_reviews
from .sampling import check_temperature, generate_from_windows, sample_index
from .sequences import pad_sequences
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
    "BatchMixer", "LESSON_DROP_LAST", "MixIterator", "NIETZSCHE_SHA256", "NIETZSCHE_URL",
    "PAD_CHAR", "Vocab", "check_temperature", "count_windows", "default_cache_dir",
    "fetch_nietzsche", "generate_from_windows", "load_corpus", "load_reviews", "one_hot",
    "pad_sequences", "sample_index", "split_tail", "stateful_layout", "train_heldout_windows",
    "windows",
]
