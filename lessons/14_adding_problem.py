"""The adding problem: can a recurrent net carry two numbers across a long sequence?

Each input is a sequence of (value, marker) pairs: values are uniform in
[0, 1), and exactly two steps carry marker 1 (one in the first half, one in
the second). The target is the sum of the two marked values. Always
answering 1 scores a mean squared error of 1/6 (about 0.167, the variance of
a sum of two uniforms), so a model has only learned something when it gets
clearly below that. We train three cells on the same data and compare their
final MSE: a tanh SimpleRNN with an orthogonal recurrent weight, an
identity-initialised ReLU SimpleRNN (IRNN) and an LSTM.

Run it as a script (from the repository root)::

    python lessons/14_adding_problem.py --quick
    python lessons/14_adding_problem.py --lengths 20 50 --epochs 10

The problem is Hochreiter & Schmidhuber's (1997), in the form Lasagne's
recurrent example uses.
"""

# %% [markdown]
# # The adding problem
#
# Character models mostly need the last few characters. The adding problem
# is built so that the answer depends on two steps that can be far apart, and
# nothing in between helps: the net must notice a marked value, hold it, and
# add the second one when it comes. That makes it a clean test of how far
# back gradients reach through each kind of cell.

# %%
import time

import numpy as np

from symrnn.app.lessonkit import float_scope, lesson_args
from symrnn.graph.optimizers import Adam
from symrnn.graph.params import orthogonal
from symrnn.layers import LSTM, Dense, Sequential, SimpleRNN

BASELINE_MSE = 1.0 / 6.0       # always answering 1: the variance of U(0,1) + U(0,1)

# %% [markdown]
# ## The data
#
# `x[n, t] = (value, marker)`; the target is `sum(value * marker)` over the
# sequence. One marker lands in the first half and one in the second, so the
# first marked value must be held for at least half the sequence.


# %%
def adding_data(n_samples, length, rng, dtype="float32"):
    """``x`` of shape (n, length, 2) and targets (n, 1) for the adding problem."""
    values = rng.uniform(0.0, 1.0, size=(n_samples, length))
    markers = np.zeros((n_samples, length))
    half = length // 2
    rows = np.arange(n_samples)
    markers[rows, rng.integers(0, half, n_samples)] = 1.0
    markers[rows, rng.integers(half, length, n_samples)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values * markers).sum(axis=1, keepdims=True).astype(dtype)
    return x, y


# %% [markdown]
# ## Orthogonal initialisation
#
# An orthogonal matrix keeps the length of every vector it multiplies, so
# repeated multiplication by `W_h` neither blows the state up nor shrinks it
# to nothing (before the nonlinearity). `symrnn.graph.params.orthogonal` builds one
# from the QR decomposition of a Gaussian matrix; we check `W.T @ W = I` and
# put it into the tanh RNN's recurrent weight by hand (it is also that
# layer's default initialiser).


# %%
def orthogonal_recurrent(layer, rng):
    W = orthogonal((layer.units, layer.units), rng)
    error = np.abs(W.T @ W - np.eye(layer.units)).max()
    print(f"orthogonal W_h {W.shape}: max |W.T @ W - I| = {error:.2e}")
    layer.W_h.set_value(W.astype(layer.dtype))


# %% [markdown]
# ## The three contenders
#
# All read the whole sequence and keep only the last state, which a Dense
# layer turns into one number. All train with Adam on the mean squared
# error, with the gradients' global norm clipped at 1 (the IRNN especially
# can produce large gradients early on).


# %%
def build(kind, units, length, seed, rng, dtype):
    shape = {"input_shape": (length, 2), "dtype": dtype, "seed": seed}
    if kind == "tanh RNN":
        rnn = SimpleRNN(units, activation="tanh", **shape)
    elif kind == "IRNN (relu, identity)":
        rnn = SimpleRNN(units, activation="relu", inner_init="identity", **shape)
    else:
        rnn = LSTM(units, **shape)
    model = Sequential([rnn, Dense(1, seed=seed)])
    if kind == "tanh RNN":
        orthogonal_recurrent(rnn, rng)
    return model


def train(kind, data, args):
    (x, y), (x_test, y_test) = data
    model = build(kind, args.units, x.shape[1], args.seed, np.random.default_rng(args.seed),
                  args.dtype)
    model.compile(Adam(lr=args.lr, clipnorm=1.0), "mse", backend=args.backend)
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs,
                        seed=args.seed, verbose=0)
    test_mse = model.evaluate(x_test, y_test, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    losses = ", ".join(f"{v:.4f}" for v in history.history["loss"])
    print(f"  {kind:22s} train MSE per epoch: {losses}")
    print(f"  {kind:22s} test MSE {test_mse:.4f} ({test_mse / BASELINE_MSE:.0%} of baseline), "
          f"{seconds:.0f} s with compilation")
    return test_mse


# %%
def main(argv=None):
    args = lesson_args(
        __doc__, argv, flags={"epochs": 10, "units": 32, "lr": 3e-3, "dtype": "float32"},
        extra_args={"--lengths": dict(type=int, nargs="+", default=[20, 50],
                                      help="sequence lengths to try"),
                    "--samples": dict(type=int, default=10_000, help="training sequences"),
                    "--batch-size": dict(type=int, default=100, help="sequences per batch")},
        quick={"backend": "py", "lengths": [10], "samples": 200, "epochs": 1, "units": 8},
        corpus=False)
    rng = np.random.default_rng(args.seed)
    results = {}
    for length in args.lengths:
        data = (adding_data(args.samples, length, rng, args.dtype),
                adding_data(1000, length, rng, args.dtype))
        print(f"\n== length {length}: {args.samples:,} training sequences, 1,000 test; "
              f"baseline (always 1) MSE {BASELINE_MSE:.3f}")
        for kind in ("tanh RNN", "IRNN (relu, identity)", "LSTM"):
            with float_scope(args.dtype):  # keeps a float32 graph float32
                results[length, kind] = train(kind, data, args)
    print("\nfinal test MSE (baseline 0.167):")
    for (length, kind), mse in results.items():
        print(f"  T={length:<4d} {kind:22s} {mse:.4f}")
    return results


# %%
if __name__ == "__main__":
    main()
