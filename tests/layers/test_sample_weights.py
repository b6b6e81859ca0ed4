"""fit/evaluate with sample_weight, class_weight and sample_weight_mode='temporal' (Keras)."""
import numpy as np
import pytest

from symrnn.errors import ConfigError, ShapeError
from symrnn.layers import Dense, Embedding, Sequential, SimpleRNN, TimeDistributed

V = 5


def classifier():
    model = Sequential([Dense(V, activation="softmax", input_shape=(3,), dtype="float64", seed=0)])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"], backend="py")
    return model


def data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, V, n)


def item_losses(model, x, y):
    probs = model.predict(x, backend="py")
    return -np.log(np.take_along_axis(probs, np.asarray(y)[..., None], axis=-1)[..., 0])


def test_sample_weights_weigh_the_loss_as_keras_1():
    """sum(loss * w) / count(w != 0); the metrics are not weighted (Keras)."""
    model, (x, y) = classifier(), data()
    w = np.array([1.0, 2.0, 0.0, 0.5, 1.0, 0.0])
    loss, acc = model.evaluate(x, y, batch_size=6, sample_weight=w)
    items = item_losses(model, x, y)
    assert loss == pytest.approx((items * w).sum() / 4, rel=1e-12)
    assert acc == model.evaluate(x, y, batch_size=6)[1]


def test_class_weight_is_each_samples_class_weight():
    model, (x, y) = classifier(), data(seed=1)
    table = {c: 1.0 + c for c in range(V)}
    by_class = model.evaluate(x, y, batch_size=6, sample_weight=np.array([table[c] for c in y]))
    first, other = classifier(), classifier()
    first.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0, class_weight=table)
    other.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0,
              sample_weight=np.array([table[c] for c in y]))
    for a, b in zip(first.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert by_class[0] == pytest.approx(
        (item_losses(classifier(), x, y) * [table[c] for c in y]).sum() / 6, rel=1e-12)


def test_zero_weights_leave_those_samples_out_of_training():
    model, (x, y) = classifier(), data(seed=2)
    w = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    y_changed = y.copy()
    y_changed[3:] = (y[3:] + 1) % V             # what zero-weight rows say must not matter
    twin = classifier()
    model.fit(x, y, batch_size=6, epochs=3, verbose=0, sample_weight=w)
    twin.fit(x, y_changed, batch_size=6, epochs=3, verbose=0, sample_weight=w)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        # the zero-weight rows add exact zeros; a multi-threaded BLAS may order the sums
        # differently (a changed row moves the weights by about 1e-3 after 3 steps)
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-16)


def test_temporal_weights_weigh_each_step():
    model = Sequential([Embedding(V, 3, input_length=4, dtype="float64", seed=1),
                        SimpleRNN(4, return_sequences=True, seed=2),
                        TimeDistributed(Dense(V, activation="softmax", seed=3))])
    model.compile("sgd", "sparse_categorical_crossentropy", backend="py",
                  sample_weight_mode="temporal")
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, V, (3, 4)), rng.integers(0, V, (3, 4))
    w = rng.uniform(0, 2, (3, 4))
    w[0, 1] = 0.0
    loss = model.evaluate(x, y, batch_size=3, sample_weight=w)
    assert loss == pytest.approx((item_losses(model, x, y) * w).sum() / 11, rel=1e-12)
    model.fit(x, y, batch_size=2, verbose=0, sample_weight=w, validation_split=0.34)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"sample_weight": np.ones(5)}, ShapeError, "sample_weight has 5 rows, the data 6"),
    ({"sample_weight": -np.ones(6)}, ShapeError, "negative entries"),
    ({"sample_weight": np.ones((6, 2))}, ShapeError, "sample_weight_mode='temporal'"),
    ({"sample_weight": np.array([1, 1, 1, 1, 1, np.nan])}, ShapeError, "NaN"),
    ({"class_weight": {0: 1.0}}, ConfigError, "class_weight has no weight for classes"),
    ({"class_weight": [1.0, 2.0]}, ConfigError, r"class_weight must be a dict"),
    ({"class_weight": {c: -1.0 for c in range(V)}}, ConfigError, "finite numbers >= 0"),
])
def test_bad_weights_are_refused_before_anything_changes(kwargs, error, message):
    model, (x, y) = classifier(), data()
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(x, y, verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_temporal_mode_needs_sequence_outputs():
    model = classifier()
    with pytest.raises(ConfigError, match="no time axis"):
        model.compile("sgd", "sparse_categorical_crossentropy", sample_weight_mode="temporal")
    with pytest.raises(ConfigError, match="None or 'temporal'"):
        model.compile("sgd", "sparse_categorical_crossentropy", sample_weight_mode="steps")
