"""compile(loss='binary_crossentropy', metrics=['accuracy']): a sigmoid output scored from its
logits (however the sigmoid is written), with binary accuracy, as Keras' IMDB example trains."""
import numpy as np
import pytest

from symrnn.graph.metrics import binary_accuracy
from symrnn.layers import Activation, Dense, Sequential, TimeDistributed


def separable(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] - 0.5 * x[:, 1] > 0).astype("float64")   # 1-D labels, as imdb_lstm's


def numpy_bce(p, y):
    p = np.clip(p, 1e-300, 1)      # only where it is finite anyway
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log1p(-p))))


def test_logistic_regression_trains_and_reports_loss_and_binary_accuracy():
    x, y = separable()
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,), dtype="float64", seed=0)])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], backend="py")
    assert model.metrics_names == ["loss", "accuracy"]
    assert [fn for _, _, fn in model.metric_fns] == [binary_accuracy]   # one unit: Keras' choice
    before = model.evaluate(x, y, batch_size=64)
    history = model.fit(x, y, batch_size=4, epochs=60, verbose=0)   # Adam at lr 0.001
    loss, acc = model.evaluate(x, y, batch_size=64)
    assert history.history["loss"][-1] < history.history["loss"][0] and loss < before[0]
    assert acc >= 0.9 > before[1]
    p = model.predict(x)[:, 0]
    assert loss == pytest.approx(numpy_bce(p, y), rel=1e-10)
    assert acc == pytest.approx(np.mean((p > 0.5) == y), abs=1e-12)


@pytest.mark.parametrize("layers", [
    lambda: [Dense(1, activation="sigmoid", input_shape=(2,), dtype="float64", seed=0)],
    lambda: [Dense(1, input_shape=(2,), dtype="float64", seed=0), Activation("sigmoid")],
], ids=["dense_sigmoid", "dense_then_activation"])
def test_saturated_sigmoid_outputs_are_scored_from_their_logits(layers):
    """Logits of +-1000 on the wrong side: the loss is the logit (1000), not Keras' clipped
    -log(1e-7) = 16.1 that a loss on the probabilities would give, and training moves."""
    model = Sequential(layers())
    model.set_weights([np.array([[1000.0], [0.0]]), np.zeros(1)])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"], backend="py")
    x, y = np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([0.0, 1.0])
    loss, acc = model.evaluate(x, y)
    assert loss == pytest.approx(1000.0) and acc == 0.0
    model.train_on_batch(x, y)
    weights = model.get_weights()
    assert np.isfinite(weights[0]).all() and weights[0][0, 0] < 1000.0


def test_time_distributed_sigmoid_per_step():
    x = np.zeros((2, 3, 2)); x[:, :, 0] = [[1, -1, 2], [-2, 1, 1]]
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])[..., None]
    model = Sequential([TimeDistributed(Dense(1, activation="sigmoid", dtype="float64", seed=0),
                                        input_shape=(3, 2))])
    model.set_weights([np.array([[1000.0], [0.0]]), np.zeros(1)])
    model.compile("sgd", "binary_crossentropy", backend="py")
    assert model.evaluate(x, y) == pytest.approx(np.mean(1000.0 * np.abs(x[:, :, 0])))
