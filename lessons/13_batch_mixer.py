"""Lesson 6, the batch mixer: pseudo-labelling a character model.

The lesson opened with a batch iterator that mixes sources at a fixed share:
most of each batch from the labelled data, about a quarter from data the
model had labelled itself (pseudo-labels). Here the same idea on characters:

1. train a small RNN (the teacher) on a labelled slice of the corpus;
2. let it predict the next character at every position of an unlabelled
   slice (we hide that slice's true next characters);
3. from the teacher's weights, keep training on batches of 3/4 labelled and
   1/4 pseudo-labelled rows (``symrnn.data.mixer.BatchMixer``), and compare the
   held-out loss with the same number of steps on labelled rows only.

A third run mixes in the unlabelled slice with its *true* next characters,
the ceiling that pseudo-labels can at best approach.

Run it from the repository root::

    python lessons/13_batch_mixer.py --quick --backend py
    python lessons/13_batch_mixer.py

It prints held-out cross-entropy in nats per character for each run.
"""

# %% [markdown]
# # Mixing real and pseudo-labelled batches
#
# Pseudo-labelling is a cheap way to use data without targets: a model
# trained on the labelled part labels the rest, and training continues on
# both. Whether it helps depends on the data; the point of this lesson is
# to measure it rather than assume it. The mixer makes the share exact: with
# weights 3:1 and 64 rows, every batch holds 48 labelled and 16 pseudo rows.

# %%
import time
from functools import partial

import numpy as np
import pytensor.tensor as pt

from symrnn.app.lessonkit import lesson_setup
from symrnn.data import split_tail, windows
from symrnn.data.mixer import BatchMixer
from symrnn.graph import losses
from symrnn.graph.backend import compile_function
from symrnn.graph.cells import simple_step
from symrnn.graph.gradients import training_updates
from symrnn.graph.loops import loop
from symrnn.graph.params import init_array, shared
from symrnn.graph.updates import adam

FULL = dict(seq_len=16, n_hidden=96, batch_size=64, teacher_steps=600, steps=400,
            labelled_chars=60_000, unlabelled_chars=240_000)
QUICK = dict(seq_len=8, n_hidden=32, batch_size=16, teacher_steps=30, steps=20,
             labelled_chars=4_000, unlabelled_chars=8_000)
WEIGHTS = (3, 1)  # labelled : pseudo-labelled rows per batch
DTYPE = "float64"  # one dtype for the whole graph; the core Adam upcasts float32 weights

# %% [markdown]
# ## The model: a batched simple RNN on integer ids
#
# Characters enter as ids; `W_x[ids]` picks one row of the input weights per
# character, which is the one-hot product without building the one-hot
# matrix. Only the recurrence runs inside the loop: the input projection for
# every step is one lookup before it, the output layer one product after.


# %%
def build_model(vocab_size, n_hidden, seed):
    """Shared weights and the symbolic loss and predictions for id batches [B, T]."""
    rng = np.random.default_rng(seed)
    init = lambda kind, shape, name: shared(init_array(kind, shape, rng, DTYPE), name)
    W_x = init("normal", (vocab_size, n_hidden), "W_x")
    W_h = init("identity", (n_hidden, n_hidden), "W_h")  # IRNN start
    b_h = init("zeros", (n_hidden,), "b_h")
    W_y = init("normal", (n_hidden, vocab_size), "W_y")
    b_y = init("zeros", (vocab_size,), "b_y")
    x, y = pt.imatrix("x"), pt.imatrix("y")  # [B, T] ids
    xw = W_x[x.T] + b_h  # [T, B, H]: input projection of every step at once
    h0 = pt.zeros((x.shape[0], n_hidden), dtype=DTYPE)
    [hs] = loop(simple_step, [xw], [h0], [W_h])  # [T, B, H]
    z = pt.dot(hs, W_y) + b_y  # [T, B, V] logits
    loss = losses.mean(losses.sparse_categorical_crossentropy_from_logits(z, y.T))
    return dict(x=x, y=y, loss=loss, guess=z.argmax(axis=-1).T.astype("int32"),
                params=[W_x, W_h, b_h, W_y, b_y])


def compile_model(model, lr, backend):
    """Train, evaluate and predict functions, plus every shared variable training changes."""
    rule = partial(adam, lr=lr)
    updates = training_updates(model["loss"], model["params"], rule)
    inputs = [model["x"], model["y"]]
    return dict(
        train=compile_function(inputs, model["loss"], updates=updates, backend=backend),
        evaluate=compile_function(inputs, model["loss"], backend=backend),
        predict=compile_function([model["x"]], model["guess"], backend=backend),
        state=list(updates),  # weights and Adam's moments: restored between runs
    )


def snapshot(fns):
    return [v.get_value() for v in fns["state"]]


def restore(fns, values):
    for v, value in zip(fns["state"], values):
        v.set_value(value.copy())


def heldout_loss(fns, x, y, chunk=512):
    """Mean cross-entropy per character over all held-out windows (nats/char)."""
    total = sum(float(fns["evaluate"](x[i:i + chunk], y[i:i + chunk])) * len(x[i:i + chunk])
                for i in range(0, len(x), chunk))
    return total / len(x)


# %% [markdown]
# ## Three slices of the corpus
#
# The tail of the corpus is held out. Of the rest, a short labelled slice
# comes first and an unlabelled slice follows; the unlabelled windows keep
# their true targets only for the comparison run and for scoring the
# teacher's guesses.


# %%
def slice_corpus(ids, cfg):
    rest, heldout = split_tail(ids, 0.1)
    labelled = rest[:cfg["labelled_chars"]]
    unlabelled = rest[cfg["labelled_chars"]:cfg["labelled_chars"] + cfg["unlabelled_chars"]]
    seq_len = cfg["seq_len"]
    parts = {name: windows(part, seq_len) for name, part in
             (("labelled", labelled), ("unlabelled", unlabelled), ("heldout", heldout))}
    for name, (x, _) in parts.items():
        print(f"  {name:10s} {len(x):6,} windows of {seq_len} characters")
    return parts


# %% [markdown]
# ## Training from a mixer
#
# Every run draws its batches from a `BatchMixer`: one source for the
# labelled-only run, two sources with weights 3:1 for the mixed runs. The
# loop does not know how a batch was made.


# %%
def train(fns, mixer, steps):
    losses_seen = [float(fns["train"](*next(mixer))) for _ in range(steps)]
    return float(np.mean(losses_seen[-50:]))


def pseudo_label(fns, x, chunk=512):
    """The teacher's most likely next character at every position."""
    return np.concatenate([fns["predict"](x[i:i + chunk]) for i in range(0, len(x), chunk)])


# %%
def compare(fns, parts, cfg, seed):
    """Teacher, then three continuations from its weights; returns held-out losses."""
    x_lab, y_lab = parts["labelled"]
    x_unl, y_true = parts["unlabelled"]
    x_held, y_held = parts["heldout"]
    batch = cfg["batch_size"]
    train(fns, BatchMixer([(x_lab, y_lab)], batch_size=batch, seed=seed), cfg["teacher_steps"])
    results = {"teacher": heldout_loss(fns, x_held, y_held)}
    y_pseudo = pseudo_label(fns, x_unl)
    print(f"teacher guesses the hidden next character right {np.mean(y_pseudo == y_true):.1%} "
          f"of the time")
    teacher = snapshot(fns)
    runs = {
        "labelled only": [(x_lab, y_lab)],
        "3/4 labelled + 1/4 pseudo": [(x_lab, y_lab), (x_unl, y_pseudo)],
        "3/4 labelled + 1/4 true (ceiling)": [(x_lab, y_lab), (x_unl, y_true)],
    }
    for name, sources in runs.items():
        restore(fns, teacher)
        mixer = BatchMixer(sources, WEIGHTS[:len(sources)], batch, seed=seed + 1)
        train_loss = train(fns, mixer, cfg["steps"])
        results[name] = heldout_loss(fns, x_held, y_held)
        print(f"  {name:36s} counts {mixer.counts}  train {train_loss:.3f}  "
              f"held-out {results[name]:.3f} nats/char")
    return results


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(__doc__, argv, quick_chars=30_000)
    cfg = QUICK if args.quick else FULL
    print(f"corpus {len(text):,} characters, vocabulary {vocab.size}")
    parts = slice_corpus(vocab.encode(text), cfg)
    start = time.perf_counter()
    fns = compile_model(build_model(vocab.size, cfg["n_hidden"], args.seed), 2e-3, args.backend)
    print(f"teacher: {cfg['teacher_steps']} steps of {cfg['batch_size']} labelled windows; "
          f"then {cfg['steps']} steps per run")
    results = compare(fns, parts, cfg, args.seed)
    print(f"held-out after the teacher alone: {results['teacher']:.3f} nats/char")
    print(f"total {time.perf_counter() - start:.0f} s (compilation included)")
    return results


# %%
if __name__ == "__main__":
    main()
