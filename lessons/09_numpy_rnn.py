"""Lesson 6, section 9: the same RNN in plain numpy, backward pass by hand.

The PyTensor lesson let ``pytensor.grad`` derive every gradient. Here the
forward loop, the softmax + cross-entropy derivative and back-propagation
through time are written out in ``symrnn/lesson/numpy_rnn.py``. Before training,
the script checks the hand-written gradients against PyTensor's symbolic
ones on one sequence, then trains the lesson's bias-free model with SGD.

Run it from the repository root::

    python lessons/09_numpy_rnn.py --quick
    python lessons/09_numpy_rnn.py --corpus nietzsche --encoding latin-1

The original trained 10,000 sequences at lr 1e-4 and printed an error per
sequence falling from about 35 to about 28.
"""

# %% [markdown]
# # Back-propagation through time, by hand
#
# Every step of the forward pass is stored so the backward pass can walk the
# steps in reverse: at each step the hidden state receives gradient from its
# own output and from the next step, and the sum flows back through the relu.

# %%
import time

import numpy as np
import pytensor

from symrnn.app.lessonkit import first_rows, lesson_setup
from symrnn.data import LESSON_DROP_LAST, windows
from symrnn.graph.backend import compile_function
from symrnn.lesson import numpy_rnn
from symrnn.lesson.rnn import PARAM_NAMES, LessonRNN

SEQ_LEN, N_HIDDEN, LR, N_SEQUENCES = 8, 256, 1e-4, 10_000

# %% [markdown]
# ## Checking the hand-written gradients
#
# Build the PyTensor lesson graph in float64 with the same weights, and
# compare its symbolic gradients with the numpy ones on one sequence.


# %%
def check_against_pytensor(params, x, y, backend):
    rnn = LessonRNN(params["W_x"].shape[0], params["W_h"].shape[0], dtype="float64", backend=backend)
    full = dict(params)
    for name in numpy_rnn.BIAS_NAMES:  # the graph has biases; keep them at zero
        full.setdefault(name, np.zeros(rnn.get_params()[name].shape))
    rnn.set_params(full)
    grad_fn = compile_function([rnn.h0, rnn.inp, rnn.outp], pytensor.grad(rnn.error, rnn.params),
                               backend=backend)
    h0 = np.zeros(rnn.n_hidden)
    symbolic = dict(zip(PARAM_NAMES, grad_fn(h0, np.eye(rnn.vocab_size)[x], np.eye(rnn.vocab_size)[y])))
    _, by_hand, _ = numpy_rnn.loss_and_grads(params, x, y, h0)
    for name, g in by_hand.items():
        err = np.abs(g - symbolic[name]).max() / max(np.abs(g).max(), 1e-300)
        print(f"  d error / d {name}: max relative difference {err:.1e}")


# %% [markdown]
# ## Training one sequence at a time


# %%
def train(params, x, y, report_every):
    def report(n_seen, mean_error, _params):
        print(f"{n_seen:>7} sequences  mean error {mean_error:.3f}")
    start = time.perf_counter()
    params, errors = numpy_rnn.train(params, x, y, LR, report_every=report_every, callback=report)
    seconds = time.perf_counter() - start
    print(f"{len(x):,} sequences in {seconds:.1f} s ({len(x) * SEQ_LEN / seconds:,.0f} characters/s)")
    return params, errors


# %%
def main(argv=None):
    args, text, vocab = lesson_setup(
        __doc__, argv, flags={"hidden": N_HIDDEN, "limit": N_SEQUENCES, "report_every": 1_000},
        quick={"hidden": 32, "limit": 300, "report_every": 100})
    ids = windows(vocab.encode(text), SEQ_LEN, drop_last=LESSON_DROP_LAST)
    x, y = first_rows(args.limit, *ids)
    rng = np.random.default_rng(args.seed)
    params = numpy_rnn.init_params(vocab.size, args.hidden, rng, use_bias=False)
    check_against_pytensor(params, x[0], y[0], args.backend)
    _, errors = train(params, x, y, report_every=args.report_every)
    return errors


# %%
if __name__ == "__main__":
    main()
