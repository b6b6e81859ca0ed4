"""The bench's twins compute the models users train: numpy by hand and PyTorch, against
``pytensor.grad`` of the layer model and its compiled SGD step.

Sizes are non-square (vocab 7, embedding 3, hidden 5, batch 3, seq 4), every
comparison of values runs in float64, and the weights are perturbed away from
their initial values (non-zero biases, a non-identity ``W_h``), so a swapped
gate block, a transposed matrix or a missing bias fails. No timing assertions.
"""
import numpy as np
import pytest
from marks import heavy_beyond
from model_grads import assert_grads_close, graph_loss_and_grads

from symrnn.bench import numpy_twins
from symrnn.bench.impls import NumpyImpl, TorchImpl
from symrnn.bench.spec import CELL, LR, compiled_model, set_twin_weights, twin_weights
from symrnn.bench.torch_twins import TorchTwin, torch_gate_order
from symrnn.graph.optimizers import SGD
from symrnn.layers import fitting
from symrnn.layers.charmodels import MODELS, char_model
from symrnn.layers.generation import Generator

V, E, H, B, T = 7, 3, 5, 3, 4


def problem(model, seed=0, batch=B, seq=T):
    """A float64 layer model with perturbed weights, and ids / targets ``[batch, seq]``."""
    rng = np.random.default_rng(seed)
    layer_model = char_model(V, model, hidden=H, seq_len=seq, dtype="float64", embed=E,
                             keras1_gates=False)   # the gates the bench and its twins use
    weights = {role: w + rng.normal(0, 0.3, w.shape) for role, w in twin_weights(layer_model).items()}
    set_twin_weights(layer_model, weights)
    ids = rng.integers(0, V, size=(batch, seq + 1))
    return layer_model, weights, ids[:, :-1].astype("int32"), ids[:, 1:].astype("int64")


def copy(weights):
    return {role: w.copy() for role, w in weights.items()}


@pytest.mark.parametrize("model", heavy_beyond(MODELS, keep=[m for m in MODELS if m != "gru"]))
def test_numpy_twin_equals_pytensor_grad_of_the_layer_model(model):
    layer_model, weights, x, y = problem(model, seed=1)
    expected_loss, expected = graph_loss_and_grads(layer_model, x, y)
    loss, grads = numpy_twins.loss_and_grads(copy(weights), model, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert_grads_close(grads, expected)


def test_numpy_twin_accumulates_repeated_ids_into_the_embedding():
    layer_model, weights, x, y = problem("gru", seed=2)
    x[:, :] = x[0, 0]   # one id everywhere: its embedding row's gradient must add up every use
    _, expected = graph_loss_and_grads(layer_model, x, y)
    _, grads = numpy_twins.loss_and_grads(copy(weights), "gru", x, y)
    assert_grads_close(grads, expected)
    assert np.count_nonzero(np.abs(grads["E"]).sum(axis=1)) == 1


@pytest.mark.parametrize("model", MODELS)
def test_numpy_sgd_step_equals_the_compiled_sgd_step(model):
    _, weights, x, y = problem(model, seed=3)
    compiled = compiled_model(V, model, H, T, "float64", backend="py", lr=0.3, embed=E)
    assert isinstance(compiled.optimizer, SGD) and compiled.optimizer.momentum == 0
    set_twin_weights(compiled, weights)
    graph_loss = float(fitting.train_fn(compiled)(x, y)[0])
    stepped = copy(weights)
    loss = numpy_twins.train_step(stepped, model, x, y, 0.3)
    assert loss == pytest.approx(graph_loss, rel=1e-12)
    assert_grads_close(twin_weights(compiled), stepped)
    assert not np.allclose(stepped["W_h"], weights["W_h"])   # the step did move the weights


@pytest.mark.parametrize("model", MODELS)
def test_numpy_generation_step_carries_the_layer_generators_state(model):
    layer_model, weights, _, _ = problem(model, seed=4)
    gen = Generator(layer_model, backend="py")
    states = numpy_twins.zero_states(weights, model)
    for x_id in [3, 0, 6, 6, 2]:
        probs, states = numpy_twins.generate_step(weights, model, x_id, states)
        np.testing.assert_allclose(gen.feed([x_id]), probs, rtol=1e-12)
    for shared, value in zip(gen.states, states):
        np.testing.assert_allclose(shared.get_value(), value, rtol=1e-12)


def test_numpy_impl_trains_a_copy_and_generates_greedily():
    _, weights, x, y = problem("lstm", seed=5)
    impl = NumpyImpl("lstm", weights, lr=0.5)
    impl.prepare(x, y)
    first = impl.train(1)
    assert impl.train(1) < first   # a large rate on one batch: the loss falls
    assert np.array_equal(weights["W_h"], problem("lstm", seed=5)[1]["W_h"])   # the caller's copy
    assert len(impl.generate(4, x_id=2)) == 4


# --------------------------------------------------------------------- PyTorch

def torch_or_skip():
    return pytest.importorskip("torch")


def test_torch_gate_order_maps_keras_gates_onto_pytorchs():
    # GRU: Keras (z, r, h) -> PyTorch (r, z, n); LSTM (i, f, c, o) is PyTorch's order already
    assert torch_gate_order("gru", 2).tolist() == [2, 3, 0, 1, 4, 5]
    assert torch_gate_order("lstm", 2).tolist() == list(range(8))
    assert torch_gate_order("lesson", 3).tolist() == [0, 1, 2]


def same_function_weights(model, weights):
    """Weights on which nn.GRU and the Keras GRU compute the same function: a saturated
    reset gate (r = 1 exactly in float64), where r * (h . U) = (r * h) . U."""
    if CELL[model] == "gru":
        weights = copy(weights)
        weights["b"][H:2 * H] = 50.0
    return weights


@pytest.mark.parametrize("model", MODELS)
def test_torch_copy_computes_the_same_loss_and_sgd_step(model):
    torch = torch_or_skip()
    _, weights, x, y = problem(model, seed=6)
    weights = same_function_weights(model, weights)
    twin = TorchTwin(torch, model, weights, lr=0.2)
    loss = float(twin.train_step(torch.from_numpy(x.astype("int64")), torch.from_numpy(y)))
    stepped = copy(weights)
    assert loss == pytest.approx(numpy_twins.train_step(stepped, model, x, y, 0.2), rel=1e-12)
    assert_grads_close(twin.weights(), stepped)


def test_torch_gru_differs_from_keras_gru_where_the_reset_gate_acts():
    """The documented difference: nn.GRU resets after the recurrent matmul. With a reset
    gate that is not saturated the two losses differ (so the test above is not vacuous)."""
    torch = torch_or_skip()
    _, weights, x, y = problem("gru", seed=7)
    twin = TorchTwin(torch, "gru", weights, lr=0.0)
    torch_loss = twin.loss(torch.from_numpy(x.astype("int64")), torch.from_numpy(y)).detach().item()
    assert torch_loss != pytest.approx(numpy_twins.loss_and_grads(copy(weights), "gru", x, y)[0],
                                       rel=1e-6)


def test_torch_impl_generates_the_numpy_twins_greedy_characters():
    torch = torch_or_skip()
    _, weights, _, _ = problem("lstm", seed=8)
    torch_ids = TorchImpl(torch, "lstm", weights, lr=LR).generate(12, x_id=4)
    assert torch_ids == NumpyImpl("lstm", weights).generate(12, x_id=4)
