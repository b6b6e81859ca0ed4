"""compile(metrics=['accuracy']) (issue 16): accuracy in the compiled graph equals numpy's;
Keras 1's 'acc' and nb_epoch."""
import numpy as np
import pytest

from symrnn.errors import ConfigError
from symrnn.graph.optimizers import SGD
from symrnn.layers import (
    Dense,
    Embedding,
    Input,
    Model,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)
from symrnn.layers.fitting import eval_fn, train_fn

V, H, T, N = 7, 5, 4, 20


def sequence_model(loss="sparse_categorical_crossentropy", metrics=("accuracy",), lr=0.0):
    model = Sequential([Embedding(V, 3, input_length=T, dtype="float64", seed=0),
                        SimpleRNN(H, return_sequences=True, seed=1),
                        TimeDistributed(Dense(V, activation="softmax", seed=2))])
    rng = np.random.default_rng(3)     # spread the predictions over several classes
    model.set_weights([w + rng.normal(0, 0.8, w.shape) for w in model.get_weights()])
    model.compile(SGD(lr=lr), loss, metrics=list(metrics), backend="py")
    return model


def half_right_targets(probs, seed):
    """Targets equal to the model's argmax for about half the items, random for the rest."""
    rng = np.random.default_rng(seed)
    guess = probs.argmax(-1)
    return np.where(rng.random(guess.shape) < 0.5, guess, rng.integers(0, V, guess.shape))


def numpy_accuracy(probs, ids):
    return float(np.mean(probs.argmax(-1) == ids))


@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_sparse_accuracy_is_numpys_in_history_evaluate_and_validation(name):
    model = sequence_model(metrics=[name])
    x = np.random.default_rng(0).integers(0, V, (N, T))
    x_val = np.random.default_rng(1).integers(0, V, (8, T))
    y, y_val = half_right_targets(model.predict(x), 4), half_right_targets(model.predict(x_val), 5)
    want, want_val = numpy_accuracy(model.predict(x), y), numpy_accuracy(model.predict(x_val), y_val)
    assert 0.2 < want < 0.9                    # neither trivially 0 nor 1
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0, validation_data=(x_val, y_val))
    assert model.metrics_names == ["loss", name]
    assert sorted(history.history) == sorted(["loss", name, "val_loss", f"val_{name}"])
    assert history.history[name][0] == pytest.approx(want, abs=1e-12)      # lr 0: same weights
    assert history.history[f"val_{name}"][0] == pytest.approx(want_val, abs=1e-12)
    loss, acc = model.evaluate(x, y, batch_size=7)
    assert acc == pytest.approx(want, abs=1e-12) and loss == pytest.approx(history.history["loss"][0])
    assert model.test_on_batch(x, y)[1] == pytest.approx(want, abs=1e-12)
    assert model.train_on_batch(x, y)[1] == pytest.approx(want, abs=1e-12)


def test_one_hot_accuracy_is_numpys():
    model = sequence_model(loss="categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, V, (N, T))
    y = half_right_targets(model.predict(x), 6)
    loss, acc = model.evaluate(x, np.eye(V)[y])
    assert acc == pytest.approx(numpy_accuracy(model.predict(x), y), abs=1e-12)


def test_accuracy_is_an_output_of_the_compiled_functions():
    model = sequence_model()
    x = np.random.default_rng(0).integers(0, V, (N, T))
    y = half_right_targets(model.predict(x), 7)
    for fn in (train_fn(model), eval_fn(model)):
        assert len(fn.maker.fgraph.outputs) >= 2           # loss and accuracy (+ updates)
        values = fn(x.astype("int32"), y)
        assert len(values) == 2
        assert float(values[1]) == pytest.approx(numpy_accuracy(model.predict(x), y), abs=1e-12)


def two_output_model(metrics):
    x = Input((T, V))
    seq = SimpleRNN(H, return_sequences=True, seed=0)(x)
    out_a = TimeDistributed(Dense(V, activation="softmax", seed=1), name="seq_out")(seq)
    out_b = Dense(3, activation="softmax", name="last_out", seed=2)(SimpleRNN(H, seed=3)(x))
    model = Model(x, [out_a, out_b])
    rng = np.random.default_rng(4)
    model.set_weights([w + rng.normal(0, 0.8, w.shape) for w in model.get_weights()])
    model.compile(SGD(lr=0.0), ["sparse_categorical_crossentropy", "categorical_crossentropy"],
                  metrics=metrics, backend="py")
    return model


def test_several_outputs_each_get_their_accuracy():
    model = two_output_model(["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, V))
    probs_a, probs_b = model.predict(x)
    y_a = half_right_targets(probs_a, 1)
    y_b = np.where(rng.random(N) < 0.5, probs_b.argmax(-1), rng.integers(0, 3, N))
    ys = [y_a, np.eye(3)[y_b]]
    want = [numpy_accuracy(probs_a, y_a), float(np.mean(probs_b.argmax(-1) == y_b))]
    assert model.metrics_names == ["loss", "seq_out_loss", "last_out_loss",
                                   "seq_out_accuracy", "last_out_accuracy"]
    history = model.fit(x, ys, batch_size=6, verbose=0).history
    assert [history["seq_out_accuracy"][0], history["last_out_accuracy"][0]] == pytest.approx(want)
    total, loss_a, loss_b, acc_a, acc_b = model.evaluate(x, ys)
    assert [acc_a, acc_b] == pytest.approx(want) and total == pytest.approx(loss_a + loss_b)


def test_metrics_by_output_name():
    model = two_output_model({"last_out": ["acc"]})
    assert model.metrics_names == ["loss", "seq_out_loss", "last_out_loss", "last_out_acc"]


def test_binary_accuracy_for_a_one_unit_output():
    x_in = Input((3,))
    model = Model(x_in, Dense(1, activation="sigmoid", seed=0)(x_in))
    model.compile(SGD(lr=0.0), "mse", metrics=["acc"], backend="py")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = (rng.random((30, 1)) < 0.5).astype(float)
    _, acc = model.evaluate(x, y)
    assert acc == pytest.approx(float(np.mean(np.round(model.predict(x)) == y)), abs=1e-12)


def test_bad_metrics_are_refused_and_change_nothing():
    model = sequence_model()
    compiled = (model.loss_fns, model.metric_fns, model.optimizer, model.metrics_names)
    with pytest.raises(ConfigError, match="unknown metric 'precision'"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["precision"])
    with pytest.raises(ConfigError, match="'categorical_accuracy' does not fit .* class ids"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["categorical_accuracy"])
    with pytest.raises(ConfigError, match=r"outputs \['nope'\]"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics={"nope": "acc"})
    assert (model.loss_fns, model.metric_fns, model.optimizer, model.metrics_names) == compiled


def test_nb_epoch_is_keras_1s_epochs():
    x = np.random.default_rng(0).integers(0, V, (N, T))
    y = np.random.default_rng(1).integers(0, V, (N, T))
    runs = []
    for kwargs in ({"epochs": 3}, {"nb_epoch": 3}, {"epochs": 3, "nb_epoch": 3}):
        model = sequence_model(lr=0.1)
        history = model.fit(x, y, batch_size=6, verbose=0, seed=0, **kwargs)
        runs.append((model.get_weights(), history.history))
    for weights, history in runs[1:]:
        assert history == runs[0][1] and len(history["loss"]) == 3
        for a, b in zip(weights, runs[0][0]):
            np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(runs[0][0], sequence_model().get_weights()))
