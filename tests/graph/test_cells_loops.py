"""Every cell under every loop: the same states and the same gradients, forward and backward.

One table of cells (each a pure step with its weights) and one table of loops
(``scan``, the python-unrolled twin); every loop must agree with ``scan`` on
every output step and on the gradient of every input, in float64. Inputs are
deterministic (``np.arange`` based, non-square) so a transposed weight, a
swapped gate block or an off-by-one step cannot pass.
"""
import functools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from marks import heavy_beyond

from symrnn.graph import gated
from symrnn.graph.cells import activation, lesson_step, simple_step
from symrnn.graph.loops import scan_loop, unrolled_loop
from symrnn.lesson import gru as lesson_gru

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

T, B, F, H, V = 4, 2, 5, 3, 7   # time steps, batch, input features, hidden units, vocab


def det(*shape, scale=0.3, shift=0.0):
    """Deterministic, non-repeating values of ``shape`` in about [-scale, scale]."""
    n = int(np.prod(shape))
    return scale * np.sin(np.arange(n) * 1.7 + shift).reshape(shape)


def det_like(var, shift):
    """:func:`det`'s values in the graph, shaped like ``var`` (whose static shape may be unknown)."""
    return 0.3 * pt.sin(pt.arange(var.size) * 1.7 + shift).reshape(var.shape)


def simple(act):
    weights = {"W_h": det(H, H, shift=1)}
    step = lambda xw_t, h_tm1, W_h: simple_step(xw_t, h_tm1, W_h, activation(act))
    return step, det(T, B, H, shift=2), [det(B, H, shift=3)], weights   # xw [T, B, H], h0 [B, H]


def gru(inner_act):
    weights = {"U_zr": det(H, 2 * H, shift=4), "U_h": det(H, H, shift=5)}
    step = lambda xw_t, h_tm1, U_zr, U_h: gated.gru_step_split(xw_t, h_tm1, U_zr, U_h,
                                                               inner_act=inner_act)
    return step, det(T, B, 3 * H, scale=1.5, shift=6), [det(B, H, shift=7)], weights


def lstm(inner_act):
    weights = {"U": det(H, 4 * H, shift=8)}
    step = lambda xw_t, h_tm1, c_tm1, U: gated.lstm_step(xw_t, h_tm1, c_tm1, U, inner_act=inner_act)
    states0 = [det(B, H, shift=9), det(B, H, shift=10)]
    return step, det(T, B, 4 * H, scale=1.5, shift=11), states0, weights


def lesson():
    """The lesson's one-step-does-everything form: one-hot x [T, V], h [H], logits out."""
    names = ("W_h", "b_h", "W_x", "b_x", "W_y", "b_y")
    shapes = ((H, H), (H,), (V, H), (H,), (H, V), (V,))
    weights = {n: det(*s, shift=12 + i) for i, (n, s) in enumerate(zip(names, shapes))}
    x = np.eye(V)[np.arange(T) * 3 % V]
    return lambda x_t, h_tm1, *p: lesson_step(x_t, h_tm1, *p), x, [det(H, shift=20), None], weights


def raw_gru(form):
    shapes = [(p.name, p.get_value().shape) for p in
              lesson_gru.gru_lesson_params(V, H, np.random.default_rng(0), form, "float64")]
    weights = {n: det(*shape, shift=30 + i) for i, (n, shape) in enumerate(shapes)}
    form_step = lesson_gru.FORMS[form][1]
    x = np.eye(V)[np.arange(T) * 2 % V]
    return lambda x_t, h_tm1, *p: form_step(x_t, h_tm1, *p), x, [det(H, shift=40), None], weights


CELLS = {
    "simple-relu": lambda: simple("relu"), "simple-tanh": lambda: simple("tanh"),
    "gru-sigmoid": lambda: gru("sigmoid"), "gru-hard_sigmoid": lambda: gru("hard_sigmoid"),
    "lstm-sigmoid": lambda: lstm("sigmoid"), "lstm-hard_sigmoid": lambda: lstm("hard_sigmoid"),
    "lesson": lesson, "raw-gru-separate": lambda: raw_gru("separate"),
    "raw-gru-combined": lambda: raw_gru("combined"),
}
LOOPS = {"unrolled": unrolled_loop}
# go_backwards is loop machinery, not cell maths: two cells (one and two states) cover it
BACKWARDS = [("simple-tanh", True), ("lstm-sigmoid", True)]
CASES = [(cell, False) for cell in CELLS] + BACKWARDS


@functools.lru_cache(maxsize=None)
def scan_reference(cell, go_backwards):
    return outputs_and_grads(cell, scan_loop, go_backwards)


def outputs_and_grads(cell, loop, go_backwards=False):
    """Every stacked output and the gradient of a weighted sum of them wrt every input."""
    step, seq, states0, weights = CELLS[cell]()
    seq_var = pt.constant(seq)
    state_vars = [None if s is None else pt.tensor(dtype="float64", shape=s.shape) for s in states0]
    weight_vars = [pt.tensor(dtype="float64", shape=w.shape, name=n) for n, w in weights.items()]
    stacked = loop(step, [seq_var], state_vars, weight_vars, go_backwards=go_backwards)
    # a different weight for every element: a wrong step or row order changes the cost
    cost = sum((out * det_like(out, shift=50 + i)).sum() for i, out in enumerate(stacked))
    wrt = [v for v in state_vars if v is not None] + weight_vars
    grads = pytensor.grad(cost, wrt)
    values = [s for s in states0 if s is not None] + list(weights.values())
    fn = pytensor.function(wrt, stacked + grads, mode="FAST_COMPILE")
    return fn(*values)


@pytest.mark.parametrize("loop", LOOPS)
# the second form of a cell already covered (hard_sigmoid gates, the combined raw GRU): --heavy
@pytest.mark.parametrize("cell, go_backwards", heavy_beyond(
    CASES, keep=[c for c in CASES if c[0] not in ("gru-hard_sigmoid", "raw-gru-combined")]))
def test_every_loop_matches_scan_forward_and_backward(cell, go_backwards, loop):
    want = scan_reference(cell, go_backwards)
    got = outputs_and_grads(cell, LOOPS[loop], go_backwards)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=f"{cell} output/grad {i}")
    # a cell whose gradient wrt some input were zero would make this comparison vacuous
    _, _, states0, weights = CELLS[cell]()
    n_inputs = len([st for st in states0 if st is not None]) + len(weights)
    for i, grad in enumerate(want[-n_inputs:]):
        assert np.abs(grad).max() > 1e-6, f"{cell}: gradient {i} is zero"
