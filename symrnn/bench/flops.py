"""The FLOP bound: how fast one training step could go if it did nothing but its matmuls.

:func:`step_matmuls` lists every matrix product of one SGD step of a
benchmarked model, as ``(m, k, n, count)`` (``count`` products of ``[m, k]``
by ``[k, n]``), for ``B`` sequences of ``T`` characters, ``bt = B * T``,
input width ``F`` (the embedding width, or ``V`` for the lesson's one-hot
rows) and gate width ``W = gates * H``:

==========================  ==================  =========================
product                     shape               count
==========================  ==================  =========================
input projection            ``[bt, F] [F, W]``  1
recurrence, forward         ``[B, H] [H, W]``   ``T``
output layer, forward       ``[bt, H] [H, V]``  1
d hidden from the output    ``[bt, V] [V, H]``  1
``dW_y``                    ``[H, bt] [bt, V]`` 1
recurrence, backward        ``[B, W] [W, H]``   ``T``
``dW_h``                    ``[H, bt] [bt, W]`` 1
``dW_x``                    ``[F, bt] [bt, W]`` 1
d embedding rows            ``[bt, W] [W, F]``  1 (not for one-hot rows: no weights below)
==========================  ==================  =========================

A GRU's recurrent product is two (``[z, r]`` on ``h``, ``h`` on ``r * h``),
counted here as one of the same total size. Each product costs ``2 m k n``
FLOPs; every term holds one factor ``bt``, so :func:`flops_per_char` (the
total over ``bt``) does not depend on ``B`` or ``T``: ``6 (F W + H W + H V)``
for an embedding model, ``2 (2 V W + 3 H W + 3 H V)`` for the lesson's.

:func:`flop_bound` times numpy's ``a @ b`` (contiguous operands, the model's
dtype, the BLAS threads of this process) at exactly these shapes, best of
three short runs each, and adds the products up: the seconds one step would
take at numpy's matmul speed, so ``B * T`` over it is the bound in
characters per second. An implementation's "of bound" is its measured rate
over this one. Elementwise work, the softmax and the time loop's overheads
are outside the bound, so real steps stay below 1.

>>> flops_per_char("gru", vocab=11, hidden=5, embed=3) == 6 * (3 * 15 + 5 * 15 + 5 * 11)
True
>>> flops_per_char("lesson", vocab=11, hidden=5, embed=3) == 2 * (2 * 11 * 5 + 3 * 5 * 5 + 3 * 5 * 11)
True
"""
import time

import numpy as np

from .spec import gates, uses_embedding


def step_matmuls(model, vocab, hidden, embed, batch, seq):
    """``(m, k, n, count)`` of every matmul in one training step (see the module docstring)."""
    bt, width = batch * seq, gates(model) * hidden
    rows = embed if uses_embedding(model) else vocab
    shapes = [
        (bt, rows, width, 1),          # input projection
        (batch, hidden, width, seq),   # recurrence, forward
        (bt, hidden, vocab, 1),        # output layer, forward
        (bt, vocab, hidden, 1),        # d hidden from the output layer
        (hidden, bt, vocab, 1),        # dW_y
        (batch, width, hidden, seq),   # recurrence, backward
        (hidden, bt, width, 1),        # dW_h
        (rows, bt, width, 1),          # dW_x
    ]
    if uses_embedding(model):
        shapes.append((bt, width, rows, 1))   # d embedding rows
    return shapes


def step_flops(shapes):
    return sum(2 * m * k * n * count for m, k, n, count in shapes)


def flops_per_char(model, vocab, hidden, embed):
    """Matmul FLOPs of one training step per character (independent of ``B`` and ``T``)."""
    return step_flops(step_matmuls(model, vocab, hidden, embed, 1, 1))


def matmul_seconds(m, k, n, dtype, budget=0.02):
    """Seconds of one ``[m, k] @ [k, n]`` in numpy: the best of three runs of ``budget`` s."""
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), dtype=dtype), rng.random((k, n), dtype=dtype)
    best = np.inf
    for _ in range(3):
        reps, start = 0, time.perf_counter()
        while reps < 3 or time.perf_counter() - start < budget:
            a @ b
            reps += 1
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def flop_bound(model, vocab, hidden, embed, batch, seq, dtype, budget=0.02):
    """FLOPs per char, numpy's matmul speed at this step's shapes, and the bound in chars/s."""
    shapes = step_matmuls(model, vocab, hidden, embed, batch, seq)
    seconds = sum(count * matmul_seconds(m, k, n, dtype, budget) for m, k, n, count in shapes)
    return {"flops_per_char": flops_per_char(model, vocab, hidden, embed),
            "matmul_gflops": step_flops(shapes) / seconds / 1e9, "chars_per_s": batch * seq / seconds}
