"""Lesson 6, section 12 (char-rnn): two stacked LSTMs with dropout that write text.

The lesson's char-rnn notebook lower-cases the text, cuts it into
overlapping 40-character windows (one starting at every character), and
trains Embedding(vocab, 24) -> LSTM(512, return_sequences, dropout 0.2 on
inputs and recurrent state) -> the same again -> Dropout(0.2) ->
TimeDistributed(Dense softmax) with Adam; on a 2016 GPU each epoch took
about 640 s and after a few epochs the loss was about 1.29 nats per
character. Then it samples 320 characters after the prime "ethics is a
basic foundation of all that".

This script trains for a fixed time budget (``--minutes``, default 30) and
then reports the loss on the held-out last 10% of the corpus (in nats and
bits per character), samples 320 characters with a one-step generator and
saves the model with its vocabulary.

CPU sizes (defaults): the lesson's 512 units per LSTM and a window at every
character are far beyond a 30-minute budget on two shared CPU cores, so the
defaults are ``--units 256`` and ``--stride 3`` (a window starting at every
third character, 180,000 windows; still overlapping). ``--units 512
--stride 1`` is the lesson's configuration. The embedding starts from N(0, 1)
(PyTorch's default) rather than Keras 1's U(-0.05, 0.05): measured on this
corpus it learns much faster; ``--embed-init uniform`` gives the notebook's.

Run it as a script (from the repository root)::

    python lessons/12_char_rnn.py --quick
    python lessons/12_char_rnn.py --corpus nietzsche \\
        --encoding latin-1 --minutes 20 --save /tmp/char_rnn.npz
"""

# %% [markdown]
# # char-rnn: a text generator
#
# Two ideas are new compared with the earlier sections:
#
# * **stacking**: the first LSTM returns its whole sequence of states, which
#   the second LSTM reads as its input sequence;
# * **dropout inside the recurrence**: each training sequence gets one random
#   mask on the LSTM inputs and one on the recurrent state, the same at every
#   step, so the net cannot lean on any single unit. At inference dropout is
#   off.
#
# Generating then needs only the forward pass: feed the prime one character
# at a time, sample the next character from the softmax, feed it back.

# %%
import time

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_setup
from symrnn.app.metrics import heldout_report
from symrnn.data import Vocab, split_tail, windows
from symrnn.graph.optimizers import Adam
from symrnn.layers import LSTM, Dense, Dropout, Embedding, Sequential, TimeDistributed
from symrnn.layers.generation import Generator

N_FAC = 24                   # embedding width, as in the lesson
BATCH_SIZE = 64
CHUNK_BATCHES = 50           # batches per fit call; the time budget is checked between calls
PRIME = "ethics is a basic foundation of all that"
N_SAMPLED = 320
HELDOUT_FRACTION = 0.1

# %% [markdown]
# ## Overlapping windows, lower-cased
#
# Lower-casing shrinks the vocabulary (fewer classes to tell apart). The
# last 10% of the text is held out before any window is cut, so no training
# window overlaps the held-out text. The training windows start every
# `stride` characters and are built batch by batch from their start
# positions, so even stride 1 (600,000 windows of 40) costs no memory up
# front.


# %%
def corpus(text, args):
    text = text.lower()
    vocab = Vocab.from_text(text)
    train_ids, heldout_ids = split_tail(vocab.encode(text), HELDOUT_FRACTION)
    starts = np.arange(0, len(train_ids) - args.maxlen - 1, args.stride)
    print(f"{len(text):,} characters (lower-cased), vocabulary {vocab.size}; "
          f"{len(starts):,} training windows of {args.maxlen} (stride {args.stride}), "
          f"{len(heldout_ids):,} held-out characters")
    return vocab, train_ids, heldout_ids, starts


def windows_at(ids, starts, maxlen):
    """Inputs ``ids[s:s+maxlen]`` and targets shifted by one, for every start ``s``."""
    offsets = starts[:, None] + np.arange(maxlen)[None, :]
    return ids[offsets], ids[offsets + 1]


# %% [markdown]
# ## The model


# %%
def build_model(vocab_size, args):
    rnn = {"return_sequences": True, "dropout": 0.2, "recurrent_dropout": 0.2}
    model = Sequential([
        Embedding(vocab_size, N_FAC, input_length=args.maxlen, init=args.embed_init,
                  dtype=args.dtype, seed=args.seed),
        LSTM(args.units, seed=args.seed, **rnn),
        LSTM(args.units, seed=args.seed + 1, **rnn),
        Dropout(0.2, seed=args.seed + 2),
        TimeDistributed(Dense(vocab_size, activation="softmax", seed=args.seed)),
    ])
    model.compile(Adam(lr=1e-3), "sparse_categorical_crossentropy", backend=args.backend)
    model.summary()
    return model


# %% [markdown]
# ## Training against the clock
#
# The windows are visited in a shuffled order, `--chunk-batches` batches per
# `fit` call; after each call we look at the clock. The first call also
# compiles the training function, which is not counted against the budget.


# %%
def train(model, train_ids, starts, args):
    rng = np.random.default_rng(args.seed)
    order, position, chunk = rng.permutation(starts), 0, args.chunk_batches * BATCH_SIZE
    budget, trained, started = args.minutes * 60.0, 0, None
    while started is None or time.perf_counter() - started < budget:
        if position >= len(order):
            order, position = rng.permutation(starts), 0          # next epoch
        x, y = windows_at(train_ids, order[position:position + chunk], args.maxlen)
        position += len(x)
        t0 = time.perf_counter()
        loss = model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
        if started is None:
            started = time.perf_counter()                        # after the compiling call
            print(f"first chunk (with compilation) took {started - t0:.0f} s")
        trained += len(x)
        print(f"  {trained:>9,} windows ({trained / len(starts):.2f} epochs): loss "
              f"{loss.history['loss'][0]:.4f}, {time.perf_counter() - started:.0f} s", flush=True)
    return trained


# %% [markdown]
# ## Held-out loss and a sample
#
# The held-out loss is the mean cross-entropy per character in nats; bits
# per character divide it by ln 2. Then 320 characters after the lesson's
# prime, drawn at temperature 1 (as the lesson's `choice(chars, p=preds)`)
# with a fixed seed, each after re-reading the last `maxlen` characters from a
# zero state: the model was trained on such windows.


# %%
def report(model, vocab, heldout_ids, args):
    x, y = windows(heldout_ids, args.maxlen)
    x, y = x[:args.heldout_windows], y[:args.heldout_windows]
    result = heldout_report(model, x, y, batch_size=BATCH_SIZE)
    print(f"held-out ({len(x):,} windows of {args.maxlen}): {result['loss_nats']:.4f} nats/char, "
          f"{result['bits_per_char']:.4f} bits/char, perplexity {result['perplexity']:.2f} "
          "(lesson: about 1.29 nats training loss)")
    start = time.perf_counter()
    # trained on windows of maxlen, each from a zero state: re-read the last maxlen characters
    # for every new one, as the lesson's get_next did
    text = Generator(model, backend=args.backend, window=args.maxlen).sample(
        vocab, args.prime, args.chars, temperature=args.temperature, seed=args.seed)
    print(f"sample ({args.chars} chars, temperature {args.temperature}, seed {args.seed}, "
          f"{time.perf_counter() - start:.0f} s with compilation):\n{args.prime}{text}")
    return result, text


# %%
FLAGS = {
    "--minutes": dict(type=float, default=30.0, help="training time budget, compilation excluded"),
    "--maxlen": dict(type=int, default=40, help="window length"),
    "--stride": dict(type=int, default=3, help="a window starts every STRIDE characters (lesson: 1)"),
    "--heldout-windows": dict(type=int, default=500, help="held-out windows evaluated"),
    "--chunk-batches": dict(type=int, default=CHUNK_BATCHES,
                            help="batches per fit call between looks at the clock"),
    "--embed-init": dict(default="standard_normal",
                         help="embedding initialiser: standard_normal (N(0, 1), PyTorch's; learns "
                              "faster here, see the README's learning-speed table) or uniform "
                              "(Keras 1's U(-0.05, 0.05), the notebook's)"),
    "--prime": dict(default=PRIME, help="the text the sample continues"),
    "--chars": dict(type=int, default=N_SAMPLED, help="characters sampled"),
    "--temperature": dict(type=float, default=1.0, help="sampling temperature"),
    "--save": dict(default=None, help="save the model (with its vocabulary) here"),
}


def main(argv=None):
    args, text, _ = lesson_setup(
        __doc__, argv, flags={"units": 256, "dtype": "float32"}, extra_args=FLAGS,
        quick={"backend": "py", "minutes": 0.0, "maxlen": 10, "stride": 5, "units": 8,
               "heldout_windows": 8, "chars": 40, "chunk_batches": 2, "prime": PRIME[:10]},
        quick_chars=3_000)
    vocab, train_ids, heldout_ids, starts = corpus(text, args)
    with float_scope(args.dtype):  # keeps a float32 graph float32
        model = build_model(vocab.size, args)
        model.vocab = vocab                # saved with the weights, used by the generator
        train(model, train_ids, starts, args)
        result, text = report(model, vocab, heldout_ids, args)
    if args.save:
        model.save(args.save)
        print(f"saved the model and its vocabulary to {args.save}")
    return model, result, text


# %%
if __name__ == "__main__":
    main()
