"""Lesson 6, step 1: from raw text to the windows a character RNN trains on.

Shows the data step every later model shares: load a corpus, give each
distinct character an id (with a padding symbol at id 0), cut the ids into
non-overlapping windows whose targets are the same characters shifted by one,
and turn ids into one-hot vectors.

Run it as a script (from the repository root)::

    python lessons/00_prepare_corpus.py --quick
    python lessons/00_prepare_corpus.py --corpus nietzsche --encoding latin-1

or open it as a notebook with jupytext (percent format). With the Nietzsche
text read as latin-1 it prints the lesson's figures: 86 symbols and 75,110
windows of 8 characters.
"""

# %% [markdown]
# # Preparing a character corpus
#
# A character model never sees letters, only integers. This lesson walks the
# text through the three transformations the later models rely on:
#
# 1. text -> ids, through a vocabulary of the distinct characters;
# 2. ids -> pairs of windows: what the model reads, and what it should predict;
# 3. ids -> one-hot vectors, for the models that skip the embedding layer.

# %%
import numpy as np

from symrnn.app.lessonkit import lesson_setup
from symrnn.data import LESSON_DROP_LAST, one_hot, windows

SEQ_LEN = 8  # the unrolled RNN reads 8 characters at a time
N_SHOWN = 10  # how many leading characters to print

# %% [markdown]
# ## Characters become ids
#
# The vocabulary is the sorted set of characters in the corpus. One extra
# symbol, `"\0"`, is put in front at id 0 so a later model can pad short
# sequences without stealing the id of a real character. Reading the Nietzsche
# file as latin-1 treats every byte as a character, which is what the original
# Python 2 code did.


# %%
def show_vocabulary(text, vocab):
    """Print the corpus size, the vocabulary and the first characters as ids."""
    print(f"corpus length: {len(text):,} characters")
    print(f"vocabulary size: {vocab.size} (padding '\\0' at id 0)")
    head = text[:N_SHOWN]
    print(f"first {N_SHOWN} characters: {head!r}")
    print(f"their ids:             {vocab.encode(head).tolist()}")


# %% [markdown]
# ## Ids become training windows
#
# The ids are cut into consecutive blocks of `SEQ_LEN` that do not overlap.
# For every block the target is the block that starts one character later, so
# at each position the model is asked for the character that comes next. The
# original notebook dropped its last two windows; `LESSON_DROP_LAST` keeps that
# so the counts agree.


# %%
def show_windows(ids, vocab):
    """Print the window count and one input window beside its target."""
    x, y = windows(ids, SEQ_LEN, drop_last=LESSON_DROP_LAST)
    print(f"windows of {SEQ_LEN}: {len(x):,}  (x and y have shape {x.shape})")
    row = min(1, len(x) - 1)  # the second window, when there is one
    print(f"input  x[{row}] = {x[row].tolist()}  {vocab.decode(x[row])!r}")
    print(f"target y[{row}] = {y[row].tolist()}  {vocab.decode(y[row])!r}")
    print(f"y is x shifted by one: {bool(np.array_equal(y[:, :-1], x[:, 1:]))}")
    return x, y


# %% [markdown]
# ## Ids become one-hot vectors
#
# A one-hot vector has one slot per vocabulary entry, all zero except the slot
# of the character. The raw-graph RNN of this lesson series consumes its input
# this way. Encoding every window at once takes windows x 8 x vocabulary floats,
# so here only a handful are converted and the full shape is computed.


# %%
def show_one_hot(x, vocab):
    """Print one-hot shapes for a few windows and for all of them."""
    few = one_hot(x[:4], vocab.size)
    print(f"one-hot of 4 windows: shape {few.shape}, each row sums to {few.sum(-1).min():g}")
    full_shape = x.shape + (vocab.size,)
    megabytes = np.prod(full_shape) * 4 / 1e6
    print(f"one-hot of all windows would be {full_shape}, {megabytes:,.0f} MB as float32")


# %%
def main(argv=None):
    _, text, vocab = lesson_setup(__doc__, argv)
    show_vocabulary(text, vocab)
    ids = vocab.encode(text)
    x, _ = show_windows(ids, vocab)
    show_one_hot(x, vocab)


# %%
if __name__ == "__main__":
    main()
