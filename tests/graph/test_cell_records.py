"""Every built-in cell's record (symrnn.graph.cellrecords) agrees with its kernels and its twin.

A record says how many gate blocks a cell's ``xw`` and ``W_h`` have, how many
states it carries and which gate activations it saves. Its fused kernels
(:mod:`symrnn.graph.numba.kernels`) and its numpy twin
(:mod:`symrnn.bench.numpy_cells`) hard-code the same layout in their own
code, so each is run here on a tiny float64 problem sized by the record and
compared with the record's step as a graph. Last, the records are the only
table of cells: few modules directly in ``symrnn/graph/`` may key on cell names.
"""
import ast

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from imports import PACKAGE_ROOT, module_name
from marks import heavy_beyond

from symrnn.bench import numpy_cells
from symrnn.errors import ConfigError
from symrnn.graph.backend import get_mode
from symrnn.graph.cellrecords import CELLS, cell_record, record_loop_step
from symrnn.graph.loops import scan_loop
from symrnn.graph.numba import kernels
from symrnn.graph.numba.dispatch import cache_key

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

T, B, H = 3, 2, 4   # non-square, so a swapped gate block or axis cannot pass
ACT, INNER_ACT = "tanh", "sigmoid"   # the kernels' activations here
FUSED = [name for name, record in CELLS.items() if record.fused]
# Graph modules that may key on cell names (the records' own module among them).
MAX_MODULES_KEYING_ON_CELL_NAMES = 2


def random_problem(record, seed=0):
    """``xw [T, B, G*H]``, the initial states ``[B, H]`` each, ``W_h [H, G*H]``."""
    rng, width = np.random.default_rng(seed), record.n_gates * H
    xw = rng.normal(0, 1, (T, B, width))
    states0 = [rng.normal(0, 1, (B, H)) for _ in range(record.n_states)]
    return xw, states0, rng.normal(0, 0.5, (H, width))


def symbolic_inputs(record):
    return pt.tensor3("xw"), [pt.matrix(f"state{i}") for i in range(record.n_states)], \
        pt.matrix("W_h")


def record_loop(record, act, inner_act):
    """``f(xw, *states0, W_h)``: every output of a scan over the record's step with its
    gates (what the forward kernel computes), on backend py."""
    xw, states0, W_h = symbolic_inputs(record)
    params = list(record.split_weights(W_h))
    step = record_loop_step(record, act, inner_act, len(params), has_mask=False,
                            with_gates=True)
    outputs = scan_loop(step, [xw], states0 + [None] * record.n_saved, params)
    return pytensor.function([xw, *states0, W_h], outputs, mode=get_mode("py"))


def record_step(record, act, inner_act):
    """``f(xw_t, *states_tm1, W_h)``: one step of the record's cell, on backend py."""
    xw, states_tm1, W_h = symbolic_inputs(record)
    xw_t = xw[0]
    params = list(record.split_weights(W_h))
    step = record_loop_step(record, act, inner_act, len(params), has_mask=False)
    new = step(xw_t, *states_tm1, *params)
    outputs = list(new) if isinstance(new, (list, tuple)) else [new]
    fn = pytensor.function([xw, *states_tm1, W_h], outputs, mode=get_mode("py"))
    return lambda xw_t_value, states, W_h_value: fn(xw_t_value[None], *states, W_h_value)


def kernel_pair(name):
    """The cell's forward and backward kernels (tanh, sigmoid gates, no mask), callable
    from Python. The kernels compile the record's counts in, so they are part of the
    cache key: a changed record must not run a kernel cached with the old counts."""
    record = CELLS[name]
    props = (name, ACT, INNER_ACT, False, None, -1, record.n_gates, record.n_states, record.saved)
    forward = kernels.forward_kernel(name, ACT, INNER_ACT, False, "float64")
    backward = kernels.backward_kernel(name, ACT, INNER_ACT, False, None, -1, "float64")
    return (kernels.callable_from_python(forward, cache_key("records-forward", props, "float64")),
            kernels.callable_from_python(backward, cache_key("records-backward", props, "float64")))


# -- the records themselves -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CELLS))
def test_a_record_agrees_with_itself(name):
    record = CELLS[name]
    assert record.name == name and cell_record(name) is record
    assert len(record.gates) == record.n_gates, "one gate name per column block"
    assert record.n_saved == len(record.saved) and len(set(record.saved)) == record.n_saved
    assert record.n_states >= 1 and record.n_gates >= 1


def test_an_unknown_cell_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match="unknown cell 'rnn'") as raised:
        cell_record("rnn")
    assert all(name in str(raised.value) for name in CELLS)


def test_kernels_and_twins_cover_exactly_the_records():
    assert set(kernels._FORWARD) == set(kernels._BACKWARD) == set(FUSED)
    assert set(numpy_cells.CELLS) == set(CELLS)


# -- against the kernels --------------------------------------------------------------------

@pytest.mark.parametrize("name", heavy_beyond(FUSED, keep=["simple"]))   # gated: --heavy
def test_the_kernels_compute_the_records_states_and_saved_gates(name):
    record = CELLS[name]
    xw, states0, W_h = random_problem(record)
    expected = record_loop(record, ACT, INNER_ACT)(xw, *states0, W_h)   # first: sized by the record
    forward, backward = kernel_pair(name)
    outputs = forward(xw, *states0, W_h)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]   # one array: no tuple
    assert len(outputs) == len(expected) == record.n_states + record.n_saved
    names = [f"state{i}" for i in range(record.n_states)] + list(record.saved)
    for output_name, got, want in zip(names, outputs, expected):
        assert got.shape == want.shape == (T, B, H), output_name
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=output_name)
    state_grads = [np.ones((T, B, H))] * record.n_states
    grads = backward(xw, *states0, W_h, *outputs, *state_grads)
    assert [g.shape for g in grads] == [xw.shape] + [(B, H)] * record.n_states + [W_h.shape]


@pytest.mark.parametrize("name", FUSED)
def test_the_kernels_refuse_any_other_gate_count_than_the_records(name):
    record = CELLS[name]
    forward, _ = kernel_pair(name)
    xw, states0, W_h = random_problem(record)
    forward(xw, *states0, W_h)
    for n_gates in (record.n_gates - 1, record.n_gates + 1):
        if n_gates < 1:
            continue
        narrow = xw[..., :n_gates * H] if n_gates < record.n_gates else \
            np.concatenate([xw, xw[..., :H]], axis=-1)
        wrong_W = np.resize(W_h, (H, n_gates * H))
        with pytest.raises(ValueError, match="recurrence kernel"):
            forward(np.ascontiguousarray(narrow), *states0, wrong_W)


# -- against the numpy twins ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CELLS))
def test_the_twin_steps_the_records_layout(name):
    record, twin = CELLS[name], numpy_cells.CELLS[name]
    xw, states0, W_h = random_problem(record, seed=1)   # non-zero states: W_h takes part
    expected = twin.step(xw[0], states0, W_h)
    assert len(expected) == record.n_states
    got = record_step(record, twin.act, twin.inner_act)(xw[0], states0, W_h)
    assert len(got) == record.n_states
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12, err_msg=f"{name} state {i}")


@pytest.mark.parametrize("name", list(CELLS))
def test_the_twin_runs_the_records_loop(name):
    record, twin = CELLS[name], numpy_cells.CELLS[name]
    xw, _, W_h = random_problem(record, seed=2)
    zeros = [np.zeros((B, H))] * record.n_states   # the twins start from zero states
    expected, _ = twin.forward(xw.copy(), W_h)     # the twin may overwrite xw
    got = record_loop(record, twin.act, twin.inner_act)(xw, *zeros, W_h)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# -- one table of cells ---------------------------------------------------------------------

def cell_name_keys(source, names):
    """Lines where one of ``names`` is a dict key, a subscript or part of a comparison."""
    def named(node):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(named(e) for e in node.elts)
        return isinstance(node, ast.Constant) and node.value in names

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            found += [key.lineno for key in node.keys if key is not None and named(key)]
        elif isinstance(node, ast.Compare):
            found += [node.lineno] if any(named(n) for n in [node.left, *node.comparators]) else []
        elif isinstance(node, ast.Subscript) and named(node.slice):
            found.append(node.lineno)
    return found


def test_the_key_finder_finds_keys_and_comparisons_but_not_mentions():
    names = set(CELLS)
    keyed = 'A = {"gru": 3}\nif cell == "lstm": pass\nB = C["simple"]\nok = cell in ("gru", "x")\n'
    assert cell_name_keys(keyed, names) == [1, 2, 3, 4]
    assert cell_name_keys('"""a gru docstring"""\nf("lstm")\nx = "simple"\n', names) == []


def test_at_most_two_graph_modules_key_on_cell_names():
    names = set(CELLS)
    keying = {module_name(path): lines for path in sorted((PACKAGE_ROOT / "graph").glob("*.py"))
              if (lines := cell_name_keys(path.read_text(), names))}
    assert len(keying) <= MAX_MODULES_KEYING_ON_CELL_NAMES, \
        f"{keying}: read the cell's record (symrnn.graph.cellrecords) instead"
