"""GRU and LSTM in the benchmark: the PyTensor graph (FastGated) against the by-hand
numpy twin and finite differences, forward and backward, in float64."""
import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from model_grads import assert_grads_close, graph_loss_and_grads
from pytensor.gradient import verify_grad
from pytensor.scan.op import Scan
from pytensor.tensor.blas import Dot22, Gemm
from pytensor.tensor.subtensor import IncSubtensor

from symrnn.bench import numpy_gated as bench_numpy_gated
from symrnn.bench import runner as bench
from symrnn.bench.fastgated import (
    PARAM_NAMES,
    FastGated,
    gated_batch_error,
    gated_params,
)
from symrnn.errors import ConfigError, ShapeError
from symrnn.graph import gated
from symrnn.graph.recurrent import loop
from symrnn.graph.training import compile_function

V, H, T, B = 7, 5, 4, 3
CELLS = ["gru", "lstm"]


def problem(cell, seed=0, batch=B):
    """Random ids, float64 weights with non-zero biases, and a non-zero h0."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=(batch, T + 1))
    params = gated_params(V, H, cell, rng)
    for name in ("b", "b_y"):
        params[name] = params[name] + rng.normal(0, 0.5, params[name].shape)
    h0 = rng.normal(0, 0.5, (batch, H))
    return ids[:, :-1], ids[:, 1:], params, h0


def graph_model(cell, params, inputs="ids"):
    model = FastGated(V, H, cell, dtype="float64", inputs=inputs, backend="py")
    model.set_params(params)
    return model


@pytest.mark.parametrize("inputs", ["ids", "onehot"])
@pytest.mark.parametrize("cell", CELLS)
def test_numpy_twin_matches_pytensor_grad(cell, inputs):
    x, y, params, h0 = problem(cell, seed=1)
    if inputs == "onehot":
        x, y = np.eye(V)[x], np.eye(V)[y]
    else:
        x, y = x.astype("int32"), y.astype("int32")
    expected = graph_loss_and_grads(graph_model(cell, params, inputs), x, y, h0)
    got_err, got = bench_numpy_gated.loss_and_grads(params, x, y, h0, cell)
    assert got_err == pytest.approx(expected[0], rel=1e-12)
    assert_grads_close(got, expected[1])


@pytest.mark.parametrize("cell", CELLS)
def test_gated_error_gradient_matches_finite_differences(cell):
    x, y, params, h0 = problem(cell, seed=2, batch=2)
    x, y = pt.as_tensor_variable(x.astype("int32")), pt.as_tensor_variable(y.astype("int32"))

    def error(W, U, b, W_y, b_y, h):
        return gated_batch_error(cell, x, y, h, [W, U, b, W_y, b_y])

    verify_grad(error, [params[n] for n in PARAM_NAMES] + [h0], rng=np.random.default_rng(3),
                mode="FAST_COMPILE", no_debug_ref=False)


@pytest.mark.parametrize("cell", CELLS)
def test_train_step_is_sgd_on_the_graph_gradient(cell):
    x, y, params, h0 = problem(cell, seed=4)
    model = graph_model(cell, params)
    _, grads = bench_numpy_gated.loss_and_grads(params, x, y, np.zeros_like(h0), cell)
    model.train_step(x, y, lr=0.5)
    for name, value in model.get_params().items():
        np.testing.assert_allclose(value, params[name] - 0.5 * grads[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_train_step_is_sgd_in_place(cell):
    x, y, params, h0 = problem(cell, seed=5)
    before = {k: v.copy() for k, v in params.items()}
    _, grads = bench_numpy_gated.loss_and_grads(before, x, y, h0, cell)
    bench_numpy_gated.train_step(params, x, y, h0, 0.25, cell)
    for name in params:
        np.testing.assert_allclose(params[name], before[name] - 0.25 * grads[name], rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_generate_fn_carries_state_like_numpy(cell):
    _, _, params, _ = problem(cell, seed=6)
    model = graph_model(cell, params)
    states = [np.zeros(H)] * (1 if cell == "gru" else 2)
    for x_id in [3, 0, 6, 6, 2]:
        want, states = bench_numpy_gated.generate_step(params, x_id, states, cell)
        np.testing.assert_allclose(model.generate_fn(np.asarray(x_id, "int32")), want, rtol=1e-12)
    for shared, value in zip(model.states, states):
        np.testing.assert_allclose(shared.get_value(), value, rtol=1e-12)
    model.reset_state()
    assert all(not s.get_value().any() for s in model.states)


def test_lstm_cell_state_starts_at_zero_and_h0_is_used():
    x, y, params, h0 = problem("lstm", seed=7)
    model = graph_model("lstm", params)
    from_h0 = model.train_step(x, y, lr=0.0, h0=h0)
    from_zeros = model.train_step(x, y, lr=0.0)
    assert from_h0 == pytest.approx(bench_numpy_gated.loss_and_grads(params, x, y, h0, "lstm")[0],
                                    rel=1e-12)
    assert from_h0 != pytest.approx(from_zeros, rel=1e-6)


def test_bad_cell_and_bad_batch_are_rejected_before_training():
    with pytest.raises(ConfigError, match="cell must be one of"):
        FastGated(V, H, "rnn", backend="py")
    x, y, params, _ = problem("gru", seed=8)
    model = graph_model("gru", params)
    with pytest.raises(ShapeError, match=r"ids must lie in \[0, 7\)"):
        model.train_step(x, y + V, lr=0.1)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, params[name])


@pytest.mark.parametrize("cell", CELLS)
def test_bench_runs_gated_cells(cell, tmp_path):
    out = tmp_path / "bench.json"
    code = bench.main(["--quick", "--backend", "py", "--cell", cell, "--vocab", "11",
                       "--hidden", "7", "--seq", "3", "--batch", "2", "--json", str(out),
                       "--no-torch"])
    assert code == 0
    result = json.loads(out.read_text())
    assert {r["impl"] for r in result["train"]} == {"symrnn-py", "numpy"}
    assert {r["impl"] for r in result["generate"]} == {"symrnn-py", "numpy"}
    gates = {"gru": 3, "lstm": 4}[cell]
    assert result["flop_bound"][0]["flops_per_char"] == 3 * 2 * (gates * 7 * 7 + 7 * 11)


def test_torch_gate_order_maps_keras_gates_onto_pytorchs():
    # GRU: Keras (z, r, h) -> PyTorch (r, z, n); LSTM: (i, f, c, o) is PyTorch's order already
    assert bench.torch_gate_order("gru", 2).tolist() == [2, 3, 0, 1, 4, 5]
    assert bench.torch_gate_order("lstm", 2).tolist() == list(range(8))


def test_flop_bound_counts_the_gated_widths():
    shapes = bench.step_matmuls(11, 7, 2, 3, "onehot", n_gates=4)   # batch 2, seq 3
    flops = sum(2 * m * k * n * c for m, k, n, c in shapes)
    assert flops == bench.flops_per_char(11, 7, "onehot", n_gates=4) * 2 * 3
    gated = 3 * 2 * (7 * 28 + 7 * 11) + 2 * 2 * 11 * 28   # recurrence and output x3, dW_x x2
    assert bench.flops_per_char(11, 7, "onehot", n_gates=4) == gated


def backward_loop_matmuls(cell, save_gates):
    """Matmul nodes inside the compiled backward scan of the gated error's gradient."""
    x, y = pt.imatrix("x"), pt.imatrix("y")
    h0 = pt.dmatrix("h0")
    values = gated_params(V, H, cell, np.random.default_rng(0))
    params = [pytensor.shared(v, name=n) for n, v in values.items()]
    error = gated_batch_error(cell, x, y, h0, params, save_gates=save_gates)
    fn = compile_function([h0, x, y], pytensor.grad(error, params), backend="py")
    [grad_loop] = [n.op for n in fn.maker.fgraph.apply_nodes
                   if isinstance(n.op, Scan) and n.op.name.startswith("grad_of")]
    return sum(isinstance(n.op, (Dot22, Gemm)) for n in grad_loop.fgraph.apply_nodes)


@pytest.mark.parametrize("cell", CELLS)
def test_saved_gates_spare_the_backward_loop_the_forward_matmuls(cell):
    # without the saved activations the backward loop recomputes h_tm1 . U to rebuild them
    assert backward_loop_matmuls(cell, save_gates=True) < backward_loop_matmuls(cell, save_gates=False)


@pytest.mark.parametrize("cell", CELLS)
def test_saved_gates_change_no_value(cell):
    x, y, params, h0 = problem(cell, seed=9)
    x, y = pt.as_tensor_variable(x.astype("int32")), pt.as_tensor_variable(y.astype("int32"))
    shared = [pytensor.shared(params[n], name=n) for n in PARAM_NAMES]
    outputs = []
    for save in (True, False):
        error = gated_batch_error(cell, x, y, pt.as_tensor_variable(h0), shared, save_gates=save)
        outputs.append(compile_function([], [error, *pytensor.grad(error, shared)], backend="py")())
    for saved, recomputed in zip(*outputs):
        np.testing.assert_allclose(saved, recomputed, rtol=1e-12, atol=1e-14)


def gru_loop_grad(split):
    """d sum(h) / dU of a GRU loop, U sliced inside the step or before the loop; and the
    number of subtensor increments inside the compiled backward loop."""
    rng = np.random.default_rng(10)
    xw = pt.as_tensor_variable(rng.normal(size=(T, B, 3 * H)))
    h0 = pt.as_tensor_variable(rng.normal(size=(B, H)))
    U = pytensor.shared(rng.normal(0, 0.5, (H, 3 * H)), name="U")
    if split:
        step = lambda xw_t, h_tm1, U_zr, U_h: gated.gru_step_split(xw_t, h_tm1, U_zr, U_h)
        [hs] = loop(step, [xw], [h0], list(gated.gru_split_weights(U)))
    else:
        [hs] = loop(lambda xw_t, h_tm1, U_: gated.gru_step(xw_t, h_tm1, U_), [xw], [h0], [U])
    fn = compile_function([], pytensor.grad(hs.sum(), U), backend="py")
    [grad_loop] = [n.op for n in fn.maker.fgraph.apply_nodes
                   if isinstance(n.op, Scan) and n.op.name.startswith("grad_of")]
    return fn(), sum(isinstance(n.op, IncSubtensor) for n in grad_loop.fgraph.apply_nodes)


def test_gru_weights_sliced_before_the_loop_keep_dU_out_of_it():
    (dU_split, incs_split), (dU_inside, incs_inside) = gru_loop_grad(True), gru_loop_grad(False)
    np.testing.assert_allclose(dU_split, dU_inside, rtol=1e-12)
    assert incs_split < incs_inside   # no [H, 3H] zero matrix incremented at every step
