"""binary_crossentropy: Keras' values, computed from the logits behind a sigmoid (finite
with a gradient at any logit), clipped probabilities otherwise. Everything in float64."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from symrnn.graph import losses
from symrnn.graph.backend import compile_function
from symrnn.graph.metrics import binary_accuracy, categorical_accuracy, get_metric

NO_REWRITES = pytensor.compile.mode.Mode(linker="py", optimizer=None)   # the graph as written
MODES = ("FAST_COMPILE", NO_REWRITES)


def naive(z, y):
    p = 1 / (1 + np.exp(-z))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1)


def sigmoid_loss(shape_ndim=2):
    z, y = pt.tensor("z", dtype="float64", shape=(None,) * shape_ndim), pt.tensor(
        "y", dtype="float64", shape=(None,) * shape_ndim)
    return z, y, losses.binary_crossentropy(pt.sigmoid(z), y)


@pytest.mark.parametrize("mode", MODES, ids=["fast_compile", "no_rewrites"])
def test_value_equals_the_naive_formula_on_moderate_logits(mode):
    rng = np.random.default_rng(0)
    zv, yv = rng.normal(0, 3, (6, 3)), rng.random((6, 3))        # soft targets too
    yv[:3] = np.round(yv[:3])
    z, y, loss = sigmoid_loss()
    got = pytensor.function([z, y], loss, mode=mode)(zv, yv)
    assert got.shape == (6,)                                     # per item: mean over the last axis
    np.testing.assert_allclose(got, naive(zv, yv), rtol=0, atol=1e-12)


def test_keras_registry_name_and_the_logits_form():
    assert losses.get_loss("binary_crossentropy") is losses.binary_crossentropy
    assert not losses.takes_ids("binary_crossentropy")
    z, y = pt.dmatrix("z"), pt.dmatrix("y")
    zv, yv = np.array([[-2.0, 0.0, 3.5]]), np.array([[0.0, 1.0, 1.0]])
    got = losses.binary_crossentropy_from_logits(z, y).eval({z: zv, y: yv})
    np.testing.assert_allclose(got, naive(zv, yv), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", MODES, ids=["fast_compile", "no_rewrites"])
def test_finite_with_a_gradient_where_the_naive_form_is_not(mode):
    zv = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0], [0.0]])
    yv = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    z, y, loss = sigmoid_loss()
    grad = pytensor.grad(loss.sum(), z)
    value, g = pytensor.function([z, y], [loss, grad], mode=mode)(zv, yv)
    np.testing.assert_allclose(value, [1000.0, 1000.0, 0.0, 0.0, np.log(2)], rtol=1e-15, atol=0)
    sigmoid = np.array([[1.0], [0.0], [1.0], [0.0], [0.5]])
    np.testing.assert_allclose(g, sigmoid - yv, rtol=0, atol=1e-15)   # d/dz = sigmoid(z) - y
    p = pt.dmatrix("p")      # the textbook graph on the sigmoid's output: inf, and NaN gradients
    naive_graph = -(y * pt.log(p) + (1 - y) * pt.log(1 - p)).mean(axis=-1)
    naive_loss = pytensor.graph.replace.graph_replace(naive_graph, {p: pt.sigmoid(z)})
    naive_value, naive_grad = pytensor.function(
        [z, y], [naive_loss, pytensor.grad(naive_loss.sum(), z)], mode=NO_REWRITES)(zv, yv)
    assert not np.isfinite(naive_value).all() and not np.isfinite(naive_grad).all()


def test_gradient_equals_finite_differences():
    rng = np.random.default_rng(1)
    yv = rng.random((4, 3))
    verify_grad(lambda z: losses.binary_crossentropy(pt.sigmoid(z), pt.as_tensor(yv)).sum() * 1.3,
                [rng.normal(0, 2, (4, 3))], rng=rng, abs_tol=1e-7, rel_tol=1e-7,
                mode="FAST_COMPILE", no_debug_ref=False)
    verify_grad(lambda p: losses.binary_crossentropy(p, pt.as_tensor(yv)).sum(),   # clipped form
                [rng.uniform(0.05, 0.95, (4, 3))], rng=rng, abs_tol=1e-5, rel_tol=1e-5,   # 1/p**2
                mode="FAST_COMPILE", no_debug_ref=False)


def test_sigmoid_is_found_through_reshapes_and_dimshuffles():
    z = pt.dtensor3("z")
    folded = pt.sigmoid(z.reshape((-1, 1)))                    # TimeDistributed's fold
    unfolded = folded.reshape((z.shape[0], z.shape[1], 1))
    assert losses.sigmoid_logits_of(unfolded) is not None
    assert losses.sigmoid_logits_of(pt.sigmoid(z).dimshuffle(1, 0, 2)) is not None
    assert losses.sigmoid_logits_of(pt.tanh(z)) is None and losses.sigmoid_logits_of(z) is None
    y = pt.dtensor3("y")
    zv = np.array([[[1000.0], [-3.0]]]); yv = np.array([[[0.0], [1.0]]])
    got = compile_function([z, y], losses.binary_crossentropy(unfolded, y), backend="py")(zv, yv)
    np.testing.assert_allclose(got, [[1000.0, np.log1p(np.exp(3.0))]], rtol=1e-15)


def test_plain_probabilities_are_clipped_as_keras_does():
    p, y = pt.dmatrix("p"), pt.dmatrix("y")
    out = losses.binary_crossentropy(p, y).eval({p: [[1.0, 0.0, 0.3]], y: [[0.0, 1.0, 1.0]]})
    expected = (-np.log(losses.EPSILON) * 2 - np.log(0.3)) / 3
    np.testing.assert_allclose(out, [expected], rtol=1e-9)


def test_float32_stays_float32():
    z, y = pt.fmatrix("z"), pt.fmatrix("y")
    assert losses.binary_crossentropy(pt.sigmoid(z), y).dtype == "float32"
    assert losses.binary_crossentropy(z, y).dtype == "float32"      # the clipped form


def test_accuracy_is_binary_for_one_unit_or_for_binary_crossentropy():
    assert get_metric("accuracy", False, 1) is binary_accuracy
    assert get_metric("acc", False, 1, loss="binary_crossentropy") is binary_accuracy
    assert get_metric("accuracy", False, 3, loss="binary_crossentropy") is binary_accuracy
    assert get_metric("accuracy", False, 3, loss=losses.binary_crossentropy) is binary_accuracy
    assert get_metric("accuracy", False, 3, loss="categorical_crossentropy") is categorical_accuracy
    assert get_metric("accuracy", False, 3) is categorical_accuracy
