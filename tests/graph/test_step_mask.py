"""The recurrence op's step mask (Keras' time mask): its kernels equal the masked scan graph.

A step mask ``[T, B]`` marks each row's real steps (1.0) and padding (0.0); a
padded step carries every state unchanged. The graph is
:func:`symrnn.graph.recurrence.recurrence_graph` (the scan, with the switch of
:func:`symrnn.graph.cellrecords.keep_padded_rows` in its step) on backend py;
the kernels run as in ``test_recurrence_op.py``: the forward kernel on the op's
inputs, the backward kernel on those, every forward output and the cost's
gradient with respect to each state. Every output and every gradient must agree
to 1e-10. The masks hold, in a shuffled row order, a row with no padding, a
pre-padded row, a post-padded row, a row with no real step and a row with holes.
Each cell runs two float64 configurations: one with ``grad_clip`` (0.1, below
most of these gradients, so the clip acts on the gradient a padded step passes
on) and the recurrent-dropout mask, one with ``truncate_gradient``; a kernel
configuration takes seconds to compile, so the options are combined rather than
crossed. Besides: a padded step leaves the states as they were (a numpy loop
over :mod:`symrnn.bench.numpy_cells`' steps), a padded row ends in the state of
its real steps run alone, NaN padding reaches no state, the graph's gradient
passes ``verify_grad``, the compiled Numba graph runs the kernels, and the
builder refuses a step mask of the wrong rank or dtype.
"""
from dataclasses import dataclass

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.scan.op import Scan

from symrnn.bench import numpy_cells
from symrnn.compat import inferred_shapes
from symrnn.errors import DTypeError, ShapeError
from symrnn.graph.backend import get_mode
from symrnn.graph.numba.dispatch import cache_key
from symrnn.graph.numba.kernels import (
    backward_kernel,
    callable_from_python,
    forward_kernel,
)
from symrnn.graph.recurrence import (
    N_GATES,
    N_STATES,
    Recurrence,
    RecurrenceGrad,
    recurrence,
    recurrence_graph,
)

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

T, B, H = 6, 5, 4   # non-square: a swapped axis of the step mask cannot pass

# Each row's steps (1 real, 0 padding), one per kind of row the mask must handle.
ROWS = {
    "full": [1, 1, 1, 1, 1, 1],
    "pre-padded": [0, 0, 1, 1, 1, 1],
    "post-padded": [1, 1, 1, 1, 0, 0],
    "no real step": [0, 0, 0, 0, 0, 0],
    "holes": [1, 0, 1, 1, 0, 1],
}


@dataclass(frozen=True)
class Case:
    cell: str
    act: str
    inner_act: str = None
    rec_mask: bool = False   # the recurrent-dropout mask [B, H]
    grad_clip: float = None
    truncate: int = -1

    def __str__(self):
        parts = [self.cell, self.act, self.inner_act, "rec_mask" if self.rec_mask else None,
                 f"clip{self.grad_clip}" if self.grad_clip else None,
                 f"trunc{self.truncate}" if self.truncate != -1 else None]
        return "-".join(p for p in parts if p)


# The truncated case of each cell computes numpy_cells' activations (test (a) reads it).
CASES = [
    Case("simple", "tanh", rec_mask=True, grad_clip=0.1),
    Case("simple", "relu", truncate=3),
    Case("gru", "relu", "hard_sigmoid", rec_mask=True, grad_clip=0.1),
    Case("gru", "tanh", "sigmoid", truncate=3),
    Case("lstm", "sigmoid", "hard_sigmoid", rec_mask=True, grad_clip=0.1),
    Case("lstm", "tanh", "sigmoid", truncate=3),
]
TWIN_CASES = {c.cell: c for c in CASES if c.truncate != -1}


def test_cases_cover_every_option_with_every_cell():
    for cell in N_GATES:
        cases = [c for c in CASES if c.cell == cell]
        assert {c.rec_mask for c in cases} == {True, False}
        assert {c.grad_clip is None for c in cases} == {True, False}
        assert {c.truncate == -1 for c in cases} == {True, False}
        twin = numpy_cells.CELLS[cell]
        assert (TWIN_CASES[cell].act, TWIN_CASES[cell].inner_act) == (twin.act, twin.inner_act)


def step_mask(seed, batch=B):
    """``[T, batch]``: every kind of row of :data:`ROWS` (cycled), in a shuffled order."""
    rows = list(ROWS.values())
    order = np.random.default_rng(seed).permutation(batch)
    return np.array([rows[i % len(rows)] for i in order], dtype="float64").T.copy()


def numeric_problem(case, seed=0):
    """The op's inputs (xw, states0, W_h, [rec_mask], step_mask), then the cost's weights."""
    rng = np.random.default_rng(seed)
    width = N_GATES[case.cell] * H
    values = [rng.normal(0, 1.5, (T, B, width))]                     # xw: both sides of 0
    values += [rng.normal(0, 1, (B, H)) for _ in range(N_STATES[case.cell])]
    values.append(rng.normal(0, 0.6, (H, width)))                      # W_h
    if case.rec_mask:
        values.append(rng.uniform(0, 2, (B, H)) * (rng.uniform(size=(B, H)) > 0.3))
    values.append(step_mask(seed))
    return values + [rng.normal(0, 1, (T, B, H)) for _ in range(N_STATES[case.cell])]


def n_inputs(case):
    return 1 + N_STATES[case.cell] + 1 + case.rec_mask + 1


def output_names(case):
    states = ["hs", "cs"][:N_STATES[case.cell]]
    gates = {"simple": [], "gru": ["z", "r", "hh"], "lstm": ["i", "f", "g", "o", "act_c"]}
    inputs = ["xw", "h0", "c0"][:1 + N_STATES[case.cell]] + ["W_h"]
    inputs += ["rec_mask"] * case.rec_mask + ["step_mask"]
    return states + gates[case.cell] + [f"d_{name}" for name in inputs]


def symbolic_inputs(case):
    xw = pt.tensor3("xw")
    states0 = [pt.matrix(name) for name in ("h0", "c0")[:N_STATES[case.cell]]]
    W_h = pt.matrix("W_h")
    rec_mask = pt.matrix("rec_mask") if case.rec_mask else None
    return xw, states0, W_h, rec_mask, pt.matrix("step_mask")


_graphs = {}


def graph_function(case):
    """The masked scan graph on backend py: ``f(*inputs, *R) -> [outputs..., d cost / d inputs]``.

    The cost weighs every element of every state differently (weights ``R``).
    """
    if case not in _graphs:
        xw, states0, W_h, rec_mask, sm = symbolic_inputs(case)
        outputs = recurrence_graph(case.cell, xw, states0, W_h, rec_mask, case.act, case.inner_act,
                                   case.grad_clip, case.truncate, step_mask=sm)
        weights = [pt.tensor3(f"R{i}") for i in range(N_STATES[case.cell])]
        cost = sum((s * r).sum() for s, r in zip(outputs, weights))
        inputs = [xw, *states0, W_h] + ([rec_mask] if case.rec_mask else []) + [sm]
        # the step mask only meets a comparison: its gradient is zeros, not an error
        grads = pytensor.grad(cost, inputs, disconnected_inputs="ignore",
                              return_disconnected="zero")
        fn = pytensor.function(inputs + weights, outputs + grads, mode=get_mode("py"))
        assert Scan in op_types(fn)
        _graphs[case] = fn
    return _graphs[case]


_kernels = {}


def kernels(case):
    """The case's forward and backward kernels (with a step mask), callable from Python."""
    if case not in _kernels:
        forward = forward_kernel(case.cell, case.act, case.inner_act, case.rec_mask, "float64",
                                 has_step_mask=True)
        backward = backward_kernel(case.cell, case.act, case.inner_act, case.rec_mask,
                                   case.grad_clip, case.truncate, "float64", has_step_mask=True)
        props = (case.cell, case.act, case.inner_act, case.rec_mask, case.grad_clip,
                 case.truncate, "has_step_mask")
        _kernels[case] = (
            callable_from_python(forward, cache_key("test-step-mask-forward", props, "float64")),
            callable_from_python(backward, cache_key("test-step-mask-backward", props, "float64")))
    return _kernels[case]


def run_forward(case, inputs):
    outputs = kernels(case)[0](*inputs)
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


def kernel_results(case, values):
    """The forward kernel's outputs, then the backward kernel's gradients (as the op's
    pullback calls it: forward inputs, every forward output, the states' gradients)."""
    inputs, weights = values[:n_inputs(case)], values[n_inputs(case):]
    outputs = run_forward(case, inputs)
    return outputs + list(kernels(case)[1](*inputs, *outputs, *weights))


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


def assert_all_close(case, got, expected):
    names = output_names(case)
    assert len(got) == len(expected) == len(names)
    for name, g, e in zip(names, got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, name
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{name} ({case})")


# By default every cell's truncated case and the simple cell's recurrent-mask case; the gated
# cells' recurrent-mask cases with --heavy (test_recurrence_op's defaults hold masks and clipping
# for them without step masks).
DEFAULT_CASES = [*(c for c in TWIN_CASES.values() if c.cell != "gru"), CASES[0]]   # the GRU's: --heavy


@pytest.mark.parametrize("case", [c if c in DEFAULT_CASES else pytest.param(c, marks=pytest.mark.heavy)
                                  for c in CASES], ids=str)
def test_kernels_equal_the_masked_graph_forward_and_every_gradient(case):
    values = numeric_problem(case)
    got, expected = kernel_results(case, values), graph_function(case)(*values)
    assert_all_close(case, got, expected)
    names = output_names(case)
    np.testing.assert_array_equal(got[names.index("d_step_mask")], 0)   # not differentiable
    # a padded step of a real row contributes no gradient to its xw: exactly 0
    padded = values[n_inputs(case) - 1] == 0
    lo = 0 if case.truncate == -1 else T - case.truncate
    assert np.all(got[names.index("d_xw")][padded] == 0)
    assert np.any(got[names.index("d_xw")][lo:][~padded[lo:]] != 0)


def numpy_masked_loop(cell, xw, states0, W_h, mask):
    """Keras' masked loop over numpy_cells' step: padded rows keep their old states."""
    states, stacked = list(states0), []
    for t in range(len(xw)):
        new = numpy_cells.CELLS[cell].step(xw[t], states, W_h)
        real = mask[t][:, None] > 0
        states = [np.where(real, n, s) for n, s in zip(new, states)]
        stacked.append(states)
    return [np.stack([step[i] for step in stacked]) for i in range(len(states0))]


@pytest.mark.parametrize("cell", list(N_GATES))
def test_a_padded_step_leaves_every_state_as_it_was(cell):
    case = TWIN_CASES[cell]
    values = numeric_problem(case, seed=1)
    xw, states0, W_h, mask = values[0], values[1:1 + N_STATES[cell]], values[1 + N_STATES[cell]], \
        values[n_inputs(case) - 1]
    states = run_forward(case, values[:n_inputs(case)])[:N_STATES[cell]]
    for got, expected in zip(states, numpy_masked_loop(cell, xw, states0, W_h, mask)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    for got, state0 in zip(states, states0):
        previous = np.concatenate([state0[None], got[:-1]])
        t, b = np.nonzero(mask == 0)
        np.testing.assert_array_equal(got[t, b], previous[t, b])   # bit for bit


def padded_batch(cell, real_steps, pad, rng):
    """xw for two rows holding the same real steps: row 0 pre-padded, row 1 post-padded,
    with ``pad`` as the padded steps' values; and its step mask."""
    n_pad = T - len(real_steps)
    xw = np.full((T, 2, real_steps.shape[-1]), pad)
    xw[n_pad:, 0], xw[:len(real_steps), 1] = real_steps, real_steps
    mask = np.zeros((T, 2))
    mask[n_pad:, 0], mask[:len(real_steps), 1] = 1, 1
    return xw, mask


@pytest.mark.parametrize("cell", list(N_GATES))
def test_a_padded_row_ends_in_the_state_of_its_real_steps_run_alone(cell):
    """Pre- and post-padding: the last output is the last real step's, equal to running
    the row's real steps unpadded; before its first real step a pre-padded row outputs
    its (zero) initial state. NaN padding changes none of it: no state reads it."""
    case, rng = TWIN_CASES[cell], np.random.default_rng(2)
    width, L = N_GATES[cell] * H, 4
    real_steps, W_h = rng.normal(0, 1.5, (L, width)), rng.normal(0, 0.6, (H, width))
    alone = run_forward(case, [real_steps[:, None], *[np.zeros((1, H))] * N_STATES[cell], W_h,
                               np.ones((L, 1))])
    for pad in (7.0, np.nan):
        xw, mask = padded_batch(cell, real_steps, pad, rng)
        zeros = [np.zeros((2, H))] * N_STATES[cell]
        padded = run_forward(case, [xw, *zeros, W_h, mask])
        for s_alone, s_padded in zip(alone[:N_STATES[cell]], padded):
            np.testing.assert_allclose(s_padded[-1], np.repeat(s_alone[-1], 2, axis=0),
                                       rtol=1e-12, atol=1e-14)          # both rows' last
            np.testing.assert_array_equal(s_padded[:T - L, 0], 0)       # pre: h0 until real
            np.testing.assert_array_equal(s_padded[L:, 1], np.repeat(s_padded[L - 1:L, 1],
                                                                     T - L, axis=0))
        graph_states = graph_function(case)(xw, *zeros, W_h, mask,
                                            *[np.ones((T, 2, H))] * N_STATES[cell])
        for g, k in zip(graph_states[:N_STATES[cell]], padded):   # the graph's switch too
            np.testing.assert_allclose(g, k, rtol=1e-12, atol=1e-14)
            assert np.isfinite(g).all()


def test_nan_padding_reaches_no_gradient_of_the_kernels():
    """The backward kernel reads nothing a padded step computed: with NaN in the padding
    every gradient is finite, and the padded steps' rows of d_xw are 0. (The scan graph's
    gradient there is 0 * NaN: only the kernels promise this.)"""
    case = TWIN_CASES["gru"]
    values = numeric_problem(case, seed=3)
    padded = values[n_inputs(case) - 1] == 0
    values[0][padded] = np.nan
    results = kernel_results(case, values)
    names = output_names(case)
    for name in ("hs", "d_xw", "d_h0", "d_W_h"):
        assert np.isfinite(results[names.index(name)]).all(), name
    assert np.all(results[names.index("d_xw")][padded] == 0)


def test_the_numba_graph_runs_the_masked_kernels_and_equals_the_graph():
    """The dispatch hands the step mask to the kernels (the same code for every cell: the
    cheapest to compile here, with every optional input)."""
    case = CASES[0]   # simple, recurrent-dropout mask and grad_clip
    xw, states0, W_h, rec_mask, sm = symbolic_inputs(case)
    states = recurrence(case.cell, xw, states0, W_h, act=case.act, inner_act=case.inner_act,
                        mask=rec_mask, grad_clip=case.grad_clip, truncate_gradient=case.truncate,
                        step_mask=sm)
    weights = [pt.tensor3(f"R{i}") for i in range(len(states))]
    inputs = [xw, *states0, W_h, rec_mask, sm]
    grads = pytensor.grad(None, inputs, known_grads=dict(zip(states, weights)))
    outputs = states[0].owner.outputs
    fn = pytensor.function(inputs + weights, outputs + grads, mode=get_mode("numba"))
    assert Recurrence in op_types(fn) and RecurrenceGrad in op_types(fn)
    assert Scan not in op_types(fn)
    values = numeric_problem(case, seed=4)
    assert_all_close(case, fn(*values), graph_function(case)(*values))


def test_verify_grad_through_the_masked_op():
    """Finite differences agree with the gradient of the op with a step mask (its graph,
    on backend py): an LSTM, so both carried states pass through padded steps."""
    rng = np.random.default_rng(5)
    T_, B_, H_ = 4, 3, 2
    mask = np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 1]], dtype="float64").T
    weights = [rng.normal(size=(T_, B_, H_)) for _ in range(2)]

    def cost(xw, h0, c0, W_h):
        states = recurrence("lstm", xw, [h0, c0], W_h, act="tanh", inner_act="sigmoid",
                            step_mask=pt.constant(mask))
        return sum((s * w).sum() for s, w in zip(states, weights))
    values = [rng.normal(0, 1, (T_, B_, 4 * H_)), rng.normal(size=(B_, H_)),
              rng.normal(size=(B_, H_)), rng.normal(0, 0.6, (H_, 4 * H_))]
    verify_grad(cost, values, rng=rng, abs_tol=1e-6, rel_tol=1e-6, mode=get_mode("py"),
                no_debug_ref=False)


def test_the_op_gradient_of_the_step_mask_is_zeros_and_shapes_are_said():
    xw, states0, W_h, _, sm = symbolic_inputs(CASES[3])   # gru
    [hs] = recurrence("gru", xw, states0, W_h, act="tanh", inner_act="sigmoid", step_mask=sm)
    grads = pytensor.grad((hs ** 2).sum(), [xw, *states0, W_h, sm])
    inputs = [xw, *states0, W_h, sm]
    [grad_node] = [n for n in pytensor.graph.traversal.applys_between(inputs, grads)
                   if isinstance(n.op, RecurrenceGrad)]
    values = numeric_problem(CASES[3], seed=6)[:4]
    arrays = pytensor.function(inputs, grads + list(hs.owner.outputs), mode=get_mode("py"))(*values)
    np.testing.assert_array_equal(arrays[3], 0)
    assert said_shapes(hs.owner, inputs, values) == [a.shape for a in arrays[4:]]
    assert said_shapes(grad_node, inputs, values) == [a.shape for a in arrays[:4]]


def said_shapes(node, inputs, values):
    """The output shapes ``node.op.infer_shape`` gives, evaluated on ``values``."""
    symbolic = [[v.shape[i] for i in range(v.ndim)] for v in node.inputs]
    shapes = inferred_shapes(node.op, node, symbolic)
    fn = pytensor.function(inputs, [pt.stack([pt.as_tensor(d) for d in shape]) for shape in shapes],
                           mode=get_mode("py"), on_unused_input="ignore")
    return [tuple(int(d) for d in shape) for shape in fn(*values)]


def test_the_step_mask_is_part_of_the_ops_identity():
    xw, states0, W_h, _, sm = symbolic_inputs(CASES[0])
    plain = recurrence("simple", xw, states0, W_h)[0].owner.op
    masked = recurrence("simple", xw, states0, W_h, step_mask=sm)[0].owner.op
    assert plain != masked and masked.has_step_mask and not plain.has_step_mask
    assert masked == recurrence("simple", xw, states0, W_h, step_mask=sm)[0].owner.op


def test_the_builder_refuses_a_step_mask_of_the_wrong_rank_dtype_or_length():
    xw, states0, W_h, _, _ = symbolic_inputs(CASES[0])
    with pytest.raises(ShapeError, match=r"step_mask must be \[T, B\].*3 dimension"):
        recurrence("simple", xw, states0, W_h, step_mask=pt.tensor3("m"))
    with pytest.raises(DTypeError, match="float32.*float64.*astype"):
        recurrence("simple", xw, states0, W_h, step_mask=pt.matrix("m", dtype="float32"))
    with pytest.raises(DTypeError, match="int8"):
        recurrence("simple", xw, states0, W_h, step_mask=np.ones((T, B), dtype="int8"))
    fixed = pt.tensor3("xw", shape=(T, B, H))
    with pytest.raises(ShapeError, match="axis 0 has 5 entries and xw's has 6"):
        recurrence("simple", fixed, states0, W_h, step_mask=np.ones((B, B)))


def test_the_kernels_check_the_step_mask_shape():
    case = CASES[1]
    values = numeric_problem(case)
    inputs = values[:n_inputs(case)]
    run_forward(case, inputs)
    for shape in ((T, B + 1), (T - 1, B), (B, T)):
        wrong = inputs[:-1] + [np.ones(shape)]
        with pytest.raises(ValueError, match="recurrence kernel: step_mask"):
            run_forward(case, wrong)
