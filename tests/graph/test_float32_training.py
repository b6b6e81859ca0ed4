"""float32 models train with every optimizer under floatX=float64.

Python float hyper-parameters (beta_1, rho, epsilon, momentum, clip limits)
used to become float64 constants, so the update of a float32 weight was
float64 and pytensor refused the updates dict.
"""
import numpy as np
import pytensor
import pytest
from marks import heavy_beyond

from symrnn.graph import updates as rules
from symrnn.graph.optimizers import SGD, Adagrad, Adam, RMSprop
from symrnn.layers import Dense, Embedding, Sequential, SimpleRNN


@pytest.mark.parametrize("rule, kwargs", [
    (rules.adam, {}), (rules.rmsprop, {}), (rules.adagrad, {}),
    (rules.momentum, {"nesterov": True}), (rules.sgd, {}),
])
def test_float32_updates_keep_float32(rule, kwargs):
    w = pytensor.shared(np.ones((2, 3), dtype="float32"), name="w")
    lr = pytensor.shared(np.asarray(0.1, dtype="float32"), name="lr")
    grads = rules.clip_by_value([w * np.float32(3.0)], 0.5)
    updates = rule(grads, [w], lr, **kwargs)
    assert {str(v.dtype) for v in updates.values()} == {"float32"}
    step = pytensor.function([], [], updates=updates, mode="FAST_COMPILE")
    step()
    assert w.get_value().dtype == np.float32
    assert not np.allclose(w.get_value(), 1.0)  # the step did change w


@pytest.mark.parametrize("optimizer", [Adam(), RMSprop(), Adagrad(), SGD(momentum=0.9)],
                         ids=lambda o: type(o).__name__)
def test_float32_sequential_fits_and_loss_falls(optimizer):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, size=(40, 5)).astype(np.int32)
    y = x[:, -1].copy()  # learnable: repeat the last id
    model = Sequential([Embedding(7, 4, input_length=5, dtype="float32", seed=1),
                        SimpleRNN(6, activation="relu", inner_init="identity", seed=2),
                        Dense(7, activation="softmax", seed=3)])
    model.compile(optimizer, "sparse_categorical_crossentropy", backend="py")
    losses = model.fit(x, y, batch_size=8, epochs=15, verbose=0, seed=0).history["loss"]
    assert all(p.get_value().dtype == np.float32 for p in model.params)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("cell", heavy_beyond(["GRU", "LSTM"], keep=["LSTM"]))
def test_gated_layers_with_dropout_train_in_float32_without_float_scope(cell):
    """hard_sigmoid's 0.2 once upcast a float32 scan to float64 (scan refused the graph)."""
    from symrnn import layers
    model = layers.Sequential([
        layers.Embedding(10, 4, input_length=5, dtype="float32"),
        getattr(layers, cell)(6, return_sequences=True, dropout=0.2, recurrent_dropout=0.2, dtype="float32"),
        layers.TimeDistributed(layers.Dense(10, activation="softmax", dtype="float32"))])
    model.compile(Adam(), "sparse_categorical_crossentropy", backend="py")
    x = np.random.default_rng(0).integers(0, 10, (8, 5))
    history = model.fit(x, (x + 1) % 10, batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert all(w.dtype == np.float32 for w in model.get_weights())
