"""The recurrence op (symrnn.graph): its fused Numba kernels equal its scan graph.

The graph is the op's inner graph on backend ``py`` (FAST_COMPILE, where the op
is expanded into its scan). The kernels run as the op and its gradient do:
the forward kernel on the op's inputs, the backward kernel on those, every
forward output and the cost's gradient with respect to each state. Compared:
every output and the gradient, with respect to every input, of a cost that
weighs every element of every state differently. Sizes are non-square (T=5,
B=3, H=4, so G*H is 12 or 16) so a transposed weight, a swapped gate block or a
wrong time index cannot pass. Each cell has five float64 configurations that
together cover every activation (as ``act`` and as ``inner_act``), the mask,
``grad_clip``, ``truncate_gradient`` (none, shorter than T, T - 1, at least T),
``c0``, T=1 and B=1: a kernel configuration takes seconds to compile, so the
options are combined rather than crossed. In float32 (fast
activations) each cell's kernels match the float64 graph to 1e-4, the LSTM's
through ``pytensor.grad`` and a compiled Numba function, which must hold the
op's nodes (no scan): the dispatch is the same code for every cell.
"""
from dataclasses import dataclass, replace

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from marks import heavy_beyond
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import verify_grad
from pytensor.scan.op import Scan

from symrnn.compat import inferred_shapes, numba_njit
from symrnn.errors import ConfigError
from symrnn.graph.backend import get_mode
from symrnn.graph.numba import fastmath
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
    supported,
)

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

T, B, H = 5, 3, 4


@dataclass(frozen=True)
class Case:
    cell: str
    act: str
    inner_act: str = None
    mask: bool = False
    grad_clip: float = None
    truncate: int = -1
    steps: int = T
    batch: int = B
    dtype: str = "float64"
    cost_uses_c: bool = True   # LSTM: False leaves cs's gradient disconnected

    def __str__(self):
        parts = [self.cell, self.act, self.inner_act, "mask" if self.mask else None,
                 f"clip{self.grad_clip}" if self.grad_clip else None,
                 f"trunc{self.truncate}" if self.truncate != -1 else None,
                 f"T{self.steps}" if self.steps != T else None,
                 f"B{self.batch}" if self.batch != B else None,
                 None if self.cost_uses_c else "hs-only", self.dtype]
        return "-".join(p for p in parts if p)


# truncate 2 < T, 4 = T - 1 (every step but the first: h0 gets no gradient), 7 >= T (all).
# grad_clip 0.1 is below most of these gradients, so clipping really happens.
CASES = [
    Case("simple", "tanh", mask=True, grad_clip=0.1),
    Case("simple", "relu", truncate=2),
    Case("simple", "sigmoid", mask=True, truncate=7, batch=1),
    Case("simple", "hard_sigmoid", mask=True, truncate=4),
    Case("simple", "linear", grad_clip=0.1, steps=1),
    Case("gru", "tanh", "hard_sigmoid", mask=True, grad_clip=0.1),
    Case("gru", "relu", "sigmoid", truncate=2, batch=1),
    Case("gru", "sigmoid", "linear", mask=True, truncate=7),
    Case("gru", "hard_sigmoid", "tanh", grad_clip=0.1, truncate=4),
    Case("gru", "linear", "relu", mask=True, steps=1),
    Case("lstm", "tanh", "sigmoid", mask=True, grad_clip=0.1),
    Case("lstm", "relu", "hard_sigmoid", truncate=2, steps=1),
    Case("lstm", "sigmoid", "relu", mask=True, truncate=4, batch=1),
    Case("lstm", "hard_sigmoid", "linear", grad_clip=0.1, truncate=7),
    Case("lstm", "linear", "tanh", mask=True, cost_uses_c=False),
]
FLOAT32_CASES = [
    Case("simple", "tanh", mask=True, grad_clip=0.5, dtype="float32"),
    Case("gru", "tanh", "sigmoid", truncate=3, dtype="float32"),
    Case("lstm", "tanh", "sigmoid", mask=True, grad_clip=0.5, dtype="float32"),
]


def test_cases_cover_every_option_for_every_cell():
    for cell in N_GATES:
        cases = [c for c in CASES if c.cell == cell]
        assert {c.act for c in cases} == {"tanh", "relu", "sigmoid", "hard_sigmoid", "linear"}
        if cell != "simple":
            assert {c.inner_act for c in cases} == {c.act for c in cases}
        assert {c.mask for c in cases} == {True, False}
        assert {c.grad_clip is None for c in cases} == {True, False}
        assert {c.truncate for c in cases} >= {-1, 2, 4, 7}
        assert min(c.steps for c in cases) == 1 and min(c.batch for c in cases) == 1


def symbolic_problem(case):
    """(inputs, every op output, cost weights R, cost); the cost weighs each state element."""
    dtype = case.dtype
    xw = pt.tensor3("xw", dtype=dtype)
    states0 = [pt.matrix(name, dtype=dtype) for name in ("h0", "c0")[:N_STATES[case.cell]]]
    W_h = pt.matrix("W_h", dtype=dtype)
    mask = pt.matrix("mask", dtype=dtype) if case.mask else None
    states = recurrence(case.cell, xw, states0, W_h, act=case.act, inner_act=case.inner_act,
                        mask=mask, grad_clip=case.grad_clip, truncate_gradient=case.truncate)
    used = states if case.cost_uses_c else states[:1]
    weights = [pt.tensor3(f"R{i}", dtype=dtype) for i in range(len(used))]
    cost = sum((s * r).sum() for s, r in zip(used, weights))
    inputs = [xw, *states0, W_h] + ([mask] if case.mask else [])
    return inputs, states[0].owner.outputs, weights, cost


def numeric_problem(case, seed=0):
    """Random float64 values for symbolic_problem's inputs, then its weights."""
    rng = np.random.default_rng(seed)
    width, T_, B_ = N_GATES[case.cell] * H, case.steps, case.batch
    values = [rng.normal(0, 1.5, (T_, B_, width))]                   # xw: both sides of 0
    values += [rng.normal(0, 1, (B_, H)) for _ in range(N_STATES[case.cell])]
    values.append(rng.normal(0, 0.6, (H, width)))                    # W_h
    if case.mask:
        values.append(rng.uniform(0, 2, (B_, H)) * (rng.uniform(size=(B_, H)) > 0.3))
    n_weights = N_STATES[case.cell] if case.cost_uses_c else 1
    return values + [rng.normal(0, 1, (T_, B_, H)) for _ in range(n_weights)]


def n_inputs(case):
    return 2 + (case.cell == "lstm") + 1 + case.mask


_graphs = {}


def graph_function(case):
    """The op's graph on backend py: ``f(*inputs, *R) -> [op outputs..., d cost / d inputs...]``."""
    if case not in _graphs:
        inputs, outputs, weights, cost = symbolic_problem(case)
        fn = pytensor.function(inputs + weights, outputs + pytensor.grad(cost, inputs),
                               mode=get_mode("py"))
        assert Scan in op_types(fn) and Recurrence not in op_types(fn)   # expanded
        _graphs[case] = fn
    return _graphs[case]


_kernels = {}


def kernels(case):
    """The case's forward and backward kernels, callable from Python."""
    if case not in _kernels:
        forward = forward_kernel(case.cell, case.act, case.inner_act, case.mask, case.dtype)
        backward = backward_kernel(case.cell, case.act, case.inner_act, case.mask,
                                   case.grad_clip, case.truncate, case.dtype)
        props = (case.cell, case.act, case.inner_act, case.mask, case.grad_clip, case.truncate)
        _kernels[case] = (
            callable_from_python(forward, cache_key("test-forward", props, case.dtype)),
            callable_from_python(backward, cache_key("test-backward", props, case.dtype)))
    return _kernels[case]


def kernel_results(case, values):
    """What the op and its gradient compute from ``values``, run by the kernels.

    The backward kernel gets what :meth:`Recurrence.pullback` hands the gradient
    op: the forward inputs, every forward output, and the cost's gradient with
    respect to each state (``R``; zeros for a state the cost does not use).
    """
    forward, backward = kernels(case)
    inputs, weights = values[:n_inputs(case)], values[n_inputs(case):]
    outputs = forward(*inputs)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    state_grads = weights + [np.zeros_like(weights[0])] * (N_STATES[case.cell] - len(weights))
    return outputs + list(backward(*inputs, *outputs, *state_grads))


def op_types(fn):
    return [type(node.op) for node in fn.maker.fgraph.toposort()]


def output_names(case):
    states = ["hs", "cs"][:N_STATES[case.cell]]
    gates = {"simple": [], "gru": ["z", "r", "hh"],
             "lstm": ["i", "f", "g", "o", "act_c"]}[case.cell]
    grads = ["d_xw", "d_h0", "d_c0"][:1 + N_STATES[case.cell]] + ["d_W_h", "d_mask"]
    return states + gates + grads[:n_inputs(case)]


# Each case compiles its own kernels (about 10 s on a fresh cache). The default suite runs
# the first of each cell (masks, clipping and truncation among them, every cell); all 15 run
# with --heavy, which .ci/run passes on both ends of the supported range.
DEFAULT_CASES = [next(x for x in CASES if x.cell == cell) for cell in N_GATES]


@pytest.mark.parametrize("case", [c if c in DEFAULT_CASES else pytest.param(c, marks=pytest.mark.heavy)
                                  for c in CASES], ids=str)
def test_kernels_equal_the_graph_forward_and_every_gradient(case):
    values = numeric_problem(case)
    got, expected = kernel_results(case, values), graph_function(case)(*values)
    assert len(got) == len(expected) == len(output_names(case))
    for name, g, e in zip(output_names(case), got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, name
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{name} ({case})")
    if case.truncate != -1 and case.truncate < case.steps:   # scan's truncation semantics
        np.testing.assert_array_equal(expected[output_names(case).index("d_h0")], 0)


_numba_functions = {}


def numba_function(case):
    """The op and ``pytensor.grad`` through it (the cost's R as known state gradients), on numba."""
    if case not in _numba_functions:
        inputs, outputs, weights, _ = symbolic_problem(case)
        states = outputs[:len(weights)]
        grads = pytensor.grad(None, inputs, known_grads=dict(zip(states, weights)))
        _numba_functions[case] = pytensor.function(inputs + weights, outputs + grads,
                                                   mode=get_mode("numba"))
    return _numba_functions[case]


def assert_close_to_float64_graph(case, got, expected):
    for name, g, e in zip(output_names(case), got, expected):
        assert g.dtype == np.float32 and g.shape == e.shape, name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max(),
                                   err_msg=f"{name} ({case})")


def float32_problem(case):
    """float32 values, and the float64 graph's results on the same (rounded) values."""
    values = [v.astype("float32") for v in numeric_problem(case, seed=1)]
    graph = graph_function(replace(case, dtype="float64"))
    return values, graph(*[v.astype("float64") for v in values])


@pytest.mark.parametrize("case", heavy_beyond(FLOAT32_CASES[:2], keep=FLOAT32_CASES[:1]), ids=str)
def test_float32_kernels_match_the_float64_graph(case):
    values, expected = float32_problem(case)
    assert_close_to_float64_graph(case, kernel_results(case, values), expected)


@pytest.mark.heavy   # a whole Numba graph; tests/graph/test_step_mask.py has a cheaper one by default
def test_numba_graph_runs_the_float32_kernels_and_matches_the_float64_graph():
    case = FLOAT32_CASES[2]
    fn = numba_function(case)
    assert Recurrence in op_types(fn) and RecurrenceGrad in op_types(fn)
    assert Scan not in op_types(fn)
    values, expected = float32_problem(case)
    assert_close_to_float64_graph(case, fn(*values), expected)


@pytest.mark.parametrize("cell", heavy_beyond(list(N_GATES), keep=["simple", "lstm"]))
def test_verify_grad_through_the_op(cell):
    case = Case(cell, "tanh", "sigmoid", mask=True, grad_clip=None)
    values = numeric_problem(case, seed=2)
    n_in = len(values) - N_STATES[cell]
    weights = values[n_in:]

    def cost(*inputs):
        states = recurrence(cell, inputs[0], inputs[1:1 + N_STATES[cell]],
                            inputs[1 + N_STATES[cell]], act="tanh", inner_act="sigmoid",
                            mask=inputs[-1])
        return sum((s * w).sum() for s, w in zip(states, weights))
    verify_grad(cost, values[:n_in], rng=np.random.default_rng(0), abs_tol=1e-5, rel_tol=1e-5,
                mode=get_mode("py"), no_debug_ref=False)


def test_expanded_gradient_reuses_the_forward_loop():
    # once expanded, the gradient's recomputed forward scan merges with the op's: two scans
    fn = graph_function(CASES[5])
    assert op_types(fn).count(Scan) == 2


def test_kernels_in_the_graph_raise_on_mismatched_shapes_instead_of_reading_past_them():
    case = FLOAT32_CASES[2]
    assert case.cell == "lstm" and case.mask
    fn = numba_function(case)
    good = [v.astype("float32") for v in numeric_problem(case)]
    fn(*good)
    bad_shapes = {0: (T, B, 4 * H + 1), 1: (B + 1, H), 2: (B, H - 1), 3: (H, 3 * H),
                  4: (B - 1, H)}   # xw, h0, c0, W_h, mask
    for index, shape in bad_shapes.items():
        values = list(good)
        values[index] = np.ones(shape, dtype="float32")
        with pytest.raises(ValueError, match="recurrence kernel"):   # the kernel's own check
            fn(*values)


def test_backward_kernel_checks_the_saved_outputs_it_is_given():
    case = CASES[5]
    assert case.cell == "gru"
    _, backward = kernels(case)
    values = numeric_problem(case)
    inputs = values[:n_inputs(case)]
    saved = kernel_results(case, values)[:4] + values[n_inputs(case):]   # hs, z, r, hh, dhs
    backward(*inputs, *saved)
    for index in range(len(saved)):
        wrong = list(saved)
        wrong[index] = wrong[index][1:]   # one step short
        with pytest.raises(ValueError, match="recurrence kernel"):
            backward(*inputs, *wrong)


def test_gradient_of_a_saved_gate_falls_back_to_the_generic_pullback():
    xw, h0, W_h = pt.tensor3("xw"), pt.matrix("h0"), pt.matrix("W_h")
    [hs] = recurrence("gru", xw, [h0], W_h, act="tanh", inner_act="sigmoid")
    z = hs.owner.outputs[1]
    grads = pytensor.grad(hs.sum() + (z ** 2).sum(), [xw, h0, W_h])
    fn = pytensor.function([xw, h0, W_h], grads, mode=get_mode("py"))
    assert RecurrenceGrad not in op_types(fn)
    assert any(issubclass(t, OpFromGraph) and t is not Recurrence for t in op_types(fn))
    scan_outs = recurrence_graph("gru", xw, [h0], W_h, act="tanh", inner_act="sigmoid")
    reference = pytensor.grad(scan_outs[0].sum() + (scan_outs[1] ** 2).sum(), [xw, h0, W_h])
    ref_fn = pytensor.function([xw, h0, W_h], reference, mode=get_mode("py"))
    rng = np.random.default_rng(3)
    values = [rng.normal(size=(T, B, 3 * H)), rng.normal(size=(B, H)), rng.normal(size=(H, 3 * H))]
    for got, expected in zip(fn(*values), ref_fn(*values)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def _applied(f):
    @numba_njit(final_function=True, error_model="numpy")   # as the kernels compile
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = f(x[i])
        return out
    return apply


def test_float32_activation_approximations_are_accurate_and_saturate():
    x = np.linspace(-20, 20, 400_001, dtype="float32")
    exact = {"tanh": np.tanh(x.astype("float64")),
             "sigmoid": 1 / (1 + np.exp(-x.astype("float64")))}
    for name, bound in (("tanh", 3e-7), ("sigmoid", 2e-7)):
        fast = _applied(fastmath.activation(name, "float32"))
        got = fast(x)
        assert got.dtype == np.float32
        assert np.abs(got - exact[name]).max() < bound, name
        special = fast(np.array([-np.inf, np.inf, np.nan], dtype="float32"))
        low = -1.0 if name == "tanh" else 0.0
        assert special[0] == low and special[1] == 1.0 and np.isnan(special[2]), name


def test_float32_kernels_use_the_approximations_and_float64_is_exact():
    assert fastmath.activation("tanh", "float32") is not fastmath.activation("tanh", "float64")
    x = np.array([-3.0, -0.5, 0.0, 0.25, 4.0])
    exact = _applied(fastmath.activation("tanh", "float64"))(x)
    np.testing.assert_array_equal(exact, np.tanh(x))
    sig = _applied(fastmath.activation("sigmoid", "float64"))(x)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-x)), rtol=1e-15)


def test_derivatives_are_written_from_the_output():
    y = np.array([-0.5, 0.0, 0.3, 0.9, 1.0, 2.0])
    expected = {"tanh": 1 - y ** 2, "sigmoid": y * (1 - y), "linear": np.ones_like(y),
                "relu": (y > 0).astype(float), "hard_sigmoid": 0.2 * ((y > 0) & (y < 1))}
    for name, values in expected.items():
        got = _applied(fastmath.derivative(name, "float64"))(y)
        np.testing.assert_allclose(got, values, rtol=1e-15, err_msg=name)


def test_supported_configurations():
    assert supported("simple", "relu") and supported("lstm", "tanh", "hard_sigmoid", "float32")
    assert supported("gru", "linear", "sigmoid", grad_clip=5, truncate_gradient=3)
    assert not supported("simple", "softmax")
    assert not supported("gru", "tanh", "softmax")
    assert not supported("lstm", pt.tanh)                       # callables: plain scan
    assert not supported("lstm", dtype="float16")
    assert not supported("gru", grad_clip=0) and not supported("gru", truncate_gradient=0)
    assert not supported("bidirectional")


def test_builder_refuses_what_the_op_cannot_represent():
    xw, h0, W_h = pt.tensor3("xw"), pt.matrix("h0"), pt.matrix("W_h")
    with pytest.raises(ConfigError, match="supported"):
        recurrence("gru", xw, [h0], W_h, act="softmax")
    with pytest.raises(ConfigError, match="supported"):
        recurrence("simple", xw, [h0], pt.matrix("W32", dtype="float32"))   # mixed dtypes
    with pytest.raises(ConfigError, match="2 state"):
        recurrence("lstm", xw, [h0], W_h)


def test_ops_compare_equal_only_with_equal_props():
    xw, h0, W_h = pt.tensor3("xw"), pt.matrix("h0"), pt.matrix("W_h")

    def op(**kwargs):
        return recurrence("simple", xw, [h0], W_h, **kwargs)[0].owner.op
    assert op(grad_clip=1.0) == op(grad_clip=1.0)
    assert hash(op(grad_clip=1.0)) == hash(op(grad_clip=1.0))
    assert op(grad_clip=1.0) != op(grad_clip=2.0)
    assert op(truncate_gradient=3) != op()


def test_graphs_differing_only_in_grad_clip_keep_their_own_bounds():
    """Two clips compare equal unless their bounds are props: PyTensor 3.1+ then reuses
    the first loop's inner graph (clip 0.1) for the second (clip 0.5)."""
    loose = Case("simple", "tanh", mask=True, grad_clip=0.5)
    graph_function(replace(loose, grad_clip=0.1))        # built first, in this process
    values = numeric_problem(loose, seed=2)
    got, expected = kernel_results(loose, values), graph_function(loose)(*values)
    for name, g, e in zip(output_names(loose), got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{name} ({loose})")


def said_shapes(node, inputs, values):
    """The output shapes ``node.op.infer_shape`` gives, evaluated on ``values``."""
    symbolic = [[v.shape[i] for i in range(v.ndim)] for v in node.inputs]
    shapes = inferred_shapes(node.op, node, symbolic)
    fn = pytensor.function(inputs, [pt.stack([pt.as_tensor(d) for d in shape]) for shape in shapes],
                           mode=get_mode("py"), on_unused_input="ignore")
    return [tuple(int(d) for d in shape) for shape in fn(*values)]


SHAPE_CASES = [c for c in CASES if c.steps == T][::2]


@pytest.mark.parametrize("case", heavy_beyond(SHAPE_CASES, keep=SHAPE_CASES[:1]), ids=str)
def test_the_ops_say_their_output_shapes_without_walking_their_graphs(case):
    """Recurrence and RecurrenceGrad give every output's shape from their inputs' shapes
    (infer_shape, which the Numba mode's shape inference calls): the shapes they say equal
    the arrays the graph computes."""
    inputs, outputs, weights, cost = symbolic_problem(case)
    grads = pytensor.grad(cost, inputs)
    [grad_node] = [n for n in pytensor.graph.traversal.applys_between(inputs + weights, grads)
                   if isinstance(n.op, RecurrenceGrad)]
    values = numeric_problem(case)
    arrays = graph_function(case)(*values)
    forward_arrays, grad_arrays = arrays[:len(outputs)], arrays[len(outputs):]
    assert said_shapes(outputs[0].owner, inputs + weights, values) == [a.shape for a in forward_arrays]
    assert said_shapes(grad_node, inputs + weights, values) == [a.shape for a in grad_arrays]


def test_an_elementwise_activation_op_says_its_shape():
    from symrnn.graph.cells import ElementwiseGraph, hard_sigmoid, relu
    x = pt.tensor3("x")
    for act in (relu, hard_sigmoid):
        y = act(x)
        assert isinstance(y.owner.op, ElementwiseGraph)
        assert said_shapes(y.owner, [x], [np.zeros((2, 3, 4))]) == [(2, 3, 4)]
