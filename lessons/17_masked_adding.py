"""The adding problem with sequences of different lengths: a mask says which steps are real.

Lasagne's ``examples/recurrent.py`` poses the adding problem of lesson 14 with
a twist: every sequence in a batch has its own length, from 50 to 54 steps,
and all are padded to 55. Beside the (batch, 55, 2) input goes a (batch, 55)
mask of 1s (real steps) and 0s (padding), and each recurrent layer skips the
padded steps: its state passes through them unchanged, so its final state is
the one after the sequence's own last step.

The network is Lasagne's, rebuilt with symrnn's functional API: two tanh
``SimpleRNN`` layers of 100 units, one reading forwards and one backwards
(``go_backwards=True``), both taking the mask and clipping the gradient at
100; their final states are concatenated and a ``Dense(1, activation='tanh')``
answers. It trains on the mean squared error with Adagrad at Lasagne's
learning rate, 0.001, on fresh batches of 100 sequences: 100 batches make an
epoch, and after each epoch it prints the cost on one fixed validation batch,
as Lasagne's example does. Answering the mean every time costs about 1/6.

Run it as a script (from the repository root)::

    python lessons/17_masked_adding.py --quick
    python lessons/17_masked_adding.py
"""

# %% [markdown]
# # Padding and masks
#
# Lesson 14 gave every sequence the same length. Real data rarely does:
# reviews, sentences and recordings come in all lengths, and a batch is one
# array, so the shorter ones get padded. A recurrent layer that reads the
# padding as if it were data would carry junk into its final state. The
# mask tells it which steps to skip: at a padded step the layer keeps the
# state it had, as if the step were not there.

# %%
import time

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_args
from symrnn.graph.optimizers import Adagrad
from symrnn.layers import Dense, Input, Model, SimpleRNN, merge

# Lasagne's settings
MIN_LENGTH = 50        # shortest sequence
MAX_LENGTH = 55        # every batch is padded to this many steps
N_HIDDEN = 100         # units of each recurrent layer
N_BATCH = 100          # sequences per batch
LEARNING_RATE = .001   # Adagrad's learning rate
GRAD_CLIP = 100        # gradients through the recurrence clipped to [-100, 100]
EPOCH_SIZE = 100       # batches between two looks at the validation batch
NUM_EPOCHS = 10
BASELINE_MSE = 1.0 / 6.0   # answering the mean: the variance of U(0,1) + U(0,1)

# %% [markdown]
# ## The data: a batch, its mask, its targets
#
# Each sequence draws its length (`integers(50, 55)`, whose upper end is
# left out as in the example's `randint`, so every row has some padding).
# The first marker falls in the first tenth of the sequence, the second in
# its second half, and the target is the sum of the two marked values. The
# values after a sequence's end are zeroed. Then, as in the example, the
# inputs and the targets are centred on their batch means. That shift makes
# the padded steps non-zero, so only the mask can tell them from data.


# %%
def gen_data(rng, min_length=MIN_LENGTH, max_length=MAX_LENGTH, n_batch=N_BATCH,
             dtype="float32"):
    """One batch: ``X`` (batch, max_length, 2), ``y`` (batch, 1), ``mask`` (batch, max_length)."""
    X = np.concatenate([rng.uniform(size=(n_batch, max_length, 1)),
                        np.zeros((n_batch, max_length, 1))], axis=-1)
    mask = np.zeros((n_batch, max_length))
    y = np.zeros((n_batch,))
    for n in range(n_batch):
        length = rng.integers(min_length, max_length)
        mask[n, :length] = 1
        X[n, length:, 0] = 0
        X[n, rng.integers(length // 10), 1] = 1
        X[n, rng.integers(length // 2, length), 1] = 1
        y[n] = np.sum(X[n, :, 0] * X[n, :, 1])
    X -= X.reshape(-1, 2).mean(axis=0)
    y -= y.mean()
    return X.astype(dtype), y[:, None].astype(dtype), mask.astype(dtype)


# %% [markdown]
# ## The network
#
# Two inputs: the sequences and their mask. Each `SimpleRNN` is called with
# `mask=mask_in`, Lasagne's `mask_input`. The backward layer reads every
# row's real steps from the last to the first, whatever padding follows them.
# Both start from Lasagne's He-uniform weights: uniform in
# `[-sqrt(3 / fan_in), sqrt(3 / fan_in)]`, written here as an initialiser
# function of the shape and a random generator.


# %%
def he_uniform(shape, rng):
    limit = np.sqrt(3.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape)


def build_model(n_hidden, seed):
    x_in = Input((MAX_LENGTH, 2))
    mask_in = Input((MAX_LENGTH,))
    rnn = dict(activation="tanh", grad_clip=GRAD_CLIP, init=he_uniform, inner_init=he_uniform)
    forward = SimpleRNN(n_hidden, seed=seed, **rnn)(x_in, mask=mask_in)
    backward = SimpleRNN(n_hidden, go_backwards=True, seed=seed + 1, **rnn)(x_in, mask=mask_in)
    both = merge([forward, backward], mode="concat")
    out = Dense(1, activation="tanh", seed=seed + 2)(both)
    return Model([x_in, mask_in], out)


# %% [markdown]
# ## Training as the example does
#
# No fixed training set: each step draws a new batch and takes one Adagrad
# step on it (`train_on_batch`). After every 100 steps the cost on the same
# validation batch shows how far the network has come. At the end the same
# weights read the validation batch once more with a mask of all ones, so
# that the padding counts as data. Here only 1 to 5 of the 55 steps are
# padding, so reading them costs the network little; lesson 18's
# sentences, mostly padding, make the difference plain.


# %%
def train(model, rng, epochs, epoch_size, dtype):
    X_val, y_val, mask_val = gen_data(rng, dtype=dtype)
    print(f"validation batch: {N_BATCH} sequences of {int(mask_val.sum(1).min())} to "
          f"{int(mask_val.sum(1).max())} steps padded to {MAX_LENGTH}; answering the mean "
          f"scores {float(np.mean((y_val - y_val.mean()) ** 2)):.4f} on it (1/6 = "
          f"{BASELINE_MSE:.4f} on average)")
    costs = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for _ in range(epoch_size):
            X, y, m = gen_data(rng, dtype=dtype)
            model.train_on_batch([X, m], y)
        cost_val = model.evaluate([X_val, mask_val], y_val, batch_size=N_BATCH)
        costs.append(cost_val)
        print(f"Epoch {epoch} validation cost = {cost_val:.6f} "
              f"({cost_val / BASELINE_MSE:.1%} of 1/6; {time.perf_counter() - start:.1f} s)",
              flush=True)
    unmasked = model.evaluate([X_val, np.ones_like(mask_val)], y_val, batch_size=N_BATCH)
    print(f"the same weights with every step marked real (padding read as data): "
          f"{unmasked:.6f}")
    return costs, unmasked


# %%
def main(argv=None):
    args = lesson_args(
        __doc__, argv, flags={"epochs": NUM_EPOCHS, "hidden": N_HIDDEN, "lr": LEARNING_RATE,
                              "dtype": "float32"},
        extra_args={"--epoch-size": dict(type=int, default=EPOCH_SIZE,
                                         help="training batches between validation checks")},
        quick={"backend": "py", "epochs": 2, "epoch_size": 3, "hidden": 16},
        corpus=False)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with float_scope(args.dtype):   # keeps a float32 graph float32
        model = build_model(args.hidden, args.seed)
        # Lasagne's adagrad epsilon is 1e-6 (it adds it inside the square root, symrnn after it)
        model.compile(Adagrad(lr=args.lr, epsilon=1e-6), "mse", backend=args.backend)
        costs, unmasked = train(model, rng, args.epochs, args.epoch_size, args.dtype)
    print(f"final validation cost {costs[-1]:.4f} against 1/6 = {BASELINE_MSE:.4f} "
          f"({costs[-1] / BASELINE_MSE:.1%}); {args.epochs * args.epoch_size:,} batches in "
          f"{(time.perf_counter() - start) / 60:.1f} minutes")
    return costs, unmasked


# %%
if __name__ == "__main__":
    main()
