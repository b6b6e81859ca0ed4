"""Where a training step's time goes (symrnn.bench.stepprofile): the op groups, the profile
of a tiny model's step on py, and the node-by-node Numba copy of a small compiled function.
Nothing asserts a speed."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from symrnn import compat
from symrnn.bench import stepprofile
from symrnn.bench.impls import SymrnnTrainer
from symrnn.bench.options import parse_args
from symrnn.bench.probes import batch_ids
from symrnn.bench.runner import profiles_case
from symrnn.graph.backend import get_mode

GROUPS = ["recurrence", "gemm", "loss", "rest"]


@pytest.mark.parametrize("op, group", [
    ("Recurrence", "recurrence"), ("RecurrenceGrad", "recurrence"), ("Scan", "recurrence"),
    ("BlasDot", "gemm"), ("Dot", "gemm"), ("Dot22", "gemm"), ("Gemm", "gemm"), ("CGemv", "gemm"),
    ("SparseSoftmaxXent", "loss"), ("SparseSoftmaxXentGrad", "loss"), ("SoftmaxXent", "loss"),
    ("SoftmaxXentGrad", "loss"), ("AdvancedIncSubtensor1", "rest"), ("Alloc", "rest"),
    ("Elemwise", "rest"), ("Reshape", "rest"), ("DeepCopyOp", "rest"),
])
def test_op_types_fall_in_their_groups(op, group):
    assert stepprofile.group_of(op) == group


def test_breakdown_of_nothing_is_four_empty_groups():
    result = stepprofile.breakdown({})
    assert result["total_ms"] == 0 and list(result["groups"]) == GROUPS
    assert all(g == {"ms": 0.0, "frac": 0.0, "ops": {}} for g in result["groups"].values())


@pytest.mark.heavy   # PyTensor's C ops compile on fresh caches (the quick bench run checks the groups)
def test_a_tiny_models_step_profile_groups_sum_to_the_profiled_step():
    trainer = SymrnnTrainer("lstm", vocab=11, hidden=7, embed=3, dtype="float64", backend="py")
    trainer.prepare(*batch_ids(11, 2, 3, seed=0))
    model = trainer.models[3]
    before = [p.get_value().copy() for p in model.trainable_params]
    result = trainer.step_profile(steps=3, warmup=1)
    groups = result["groups"]
    assert list(groups) == GROUPS
    assert sum(g["ms"] for g in groups.values()) == pytest.approx(result["total_ms"])
    assert sum(g["frac"] for g in groups.values()) == pytest.approx(1.0)
    for group in groups.values():
        assert sum(group["ops"].values()) == pytest.approx(group["ms"])
        assert list(group["ops"].values()) == sorted(group["ops"].values(), reverse=True)
    # py runs the recurrence ops as their Scan loops, and PyTensor's own matrix products
    assert groups["recurrence"]["ms"] > 0 and "Scan" in groups["recurrence"]["ops"]
    assert groups["gemm"]["ms"] > 0 and groups["rest"]["ms"] > 0
    copy = trainer.profiled_fn()
    assert result["steps"] == 3 and copy.profile.fct_callcount == 3
    nodes = len(trainer.fn.maker.fgraph.apply_nodes)
    assert result["nodes"] == len(copy.maker.fgraph.apply_nodes) == nodes
    assert result["call_ms"] > 0 and trainer.profiled_fn() is copy   # one copy per T
    # the profiled steps train the model's own weights, as the timed ones do
    after = [p.get_value() for p in model.trainable_params]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.heavy   # a Numba compile of every node on its own
def test_the_numba_copy_times_every_node_and_steps_the_functions_weights():
    x = pt.matrix("x", dtype="float64")
    w = pytensor.shared(np.full((3, 2), 0.5), name="w")
    loss = pt.sqr(pt.dot(x, w)).sum()
    fn = pytensor.function([x], loss, updates={w: w - 0.01 * pytensor.grad(loss, w)},
                           mode=get_mode("numba"))
    assert isinstance(fn.maker.linker, compat.NumbaLinker)
    copy = stepprofile.profiled_copy(fn)
    assert isinstance(copy.maker.linker, stepprofile.NodewiseNumbaLinker)
    assert fn.maker.mode.linker is not copy.maker.linker   # the original is left as it was
    data = np.arange(6.0).reshape(2, 3)

    def numpy_step(weights):
        h = data @ weights
        return float((h ** 2).sum()), weights - 0.01 * data.T @ (2 * h)
    weights, expected = np.full((3, 2), 0.5), []
    for _ in range(4):
        value, weights = numpy_step(weights)
        expected.append(value)
    got = [float(fn(data)), float(copy(data)), float(fn(data)), float(copy(data))]
    np.testing.assert_allclose(got, expected, rtol=1e-12)   # one weight, stepped by both
    np.testing.assert_allclose(w.get_value(), weights, rtol=1e-12)

    result = stepprofile.profile_steps(copy, (data,), steps=2, warmup=0)
    nodes = fn.maker.fgraph.apply_nodes
    assert result["nodes"] == len(nodes) > 2
    assert result["groups"]["gemm"]["ms"] > 0 and "BlasDot" in result["groups"]["gemm"]["ops"]
    assert sum(len(g["ops"]) for g in result["groups"].values()) == len(
        {type(node.op).__name__ for node in nodes})


def test_a_function_no_vm_runs_has_no_profile():
    with pytest.raises(NotImplementedError, match="no per-op profile"):
        stepprofile.profiled_copy(lambda *args: None)


def test_which_cases_are_profiled():
    sizes = ["--seq", "8", "40", "--batch", "1", "64"]
    every = parse_args(sizes)
    assert all(profiles_case(every, s, b) for s in (8, 40) for b in (1, 64))
    quick = parse_args([*sizes, "--quick"])
    assert [(s, b) for s in (8, 40) for b in (1, 64) if profiles_case(quick, s, b)] == [(40, 64)]
    off = parse_args([*sizes, "--no-step-profile"])
    assert not any(profiles_case(off, s, b) for s in (8, 40) for b in (1, 64))
