"""fit on a source of batches (the batch mixer), Keras' fit_generator in one call; and what
fit asks of the process before it trains."""
import numpy as np
import pytest

from symrnn.data.mixer import BatchMixer
from symrnn.errors import ConfigError, ShapeError
from symrnn.graph.optimizers import SGD
from symrnn.layers import Callback, Dense, Sequential, fitting


def tiny_model():
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,), seed=0)])
    model.compile(SGD(lr=0.1), "sparse_categorical_crossentropy", backend="py")
    return model


def two_sources():
    rng = np.random.default_rng(0)
    real = (rng.normal(size=(40, 3)), np.zeros(40, dtype=int))
    pseudo = (rng.normal(size=(12, 3)) + 3.0, np.ones(12, dtype=int))
    return real, pseudo


def test_fit_on_the_mixer_equals_fit_on_the_same_batches_one_by_one():
    real, pseudo = two_sources()
    by_source, by_hand = tiny_model(), tiny_model()
    history = by_source.fit(BatchMixer([real, pseudo], [0.75, 0.25], batch_size=8, seed=3),
                            epochs=2, verbose=0)
    replay = BatchMixer([real, pseudo], [0.75, 0.25], batch_size=8, seed=3)
    losses = []
    for _ in range(2):
        epoch = [by_hand.fit(xb, yb, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
                 for xb, yb in (next(replay) for _ in range(len(replay)))]
        losses.append(np.mean(epoch))  # every batch has 8 rows, so the plain mean is the weighted one
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)
    for a, b in zip(by_source.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_generator_input_needs_a_step_count_or_len():
    model = tiny_model()
    real, _ = two_sources()
    endless = ((real[0][:4], real[1][:4]) for _ in iter(int, 1))
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        model.fit(endless, epochs=1, verbose=0)
    history = model.fit(endless, epochs=1, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 1


def test_generator_batches_are_checked_and_y_must_be_none():
    model = tiny_model()
    bad = iter([(np.zeros((4, 5)), np.zeros(4, dtype=int))])
    with pytest.raises(ShapeError, match=r"expected shape \(None, 3\)"):
        model.fit(bad, epochs=1, steps_per_epoch=1, verbose=0)
    real, pseudo = two_sources()
    with pytest.raises(ConfigError, match="y must be None"):
        model.fit(BatchMixer([real, pseudo], batch_size=8), real[1], verbose=0)
    with pytest.raises(ConfigError, match="needs targets"):
        model.fit(real[0], verbose=0)


class Began(Callback):
    def __init__(self, events):
        super().__init__()
        self.events = events

    def on_train_begin(self, logs=None):
        self.events.append("begin")


def test_fit_asks_malloc_to_keep_freed_memory_before_it_trains(monkeypatch):
    events = []
    monkeypatch.setattr(fitting, "keep_freed_memory", lambda: events.append("kept") or True)
    real, _ = two_sources()
    tiny_model().fit(*real, batch_size=8, epochs=1, verbose=0, callbacks=[Began(events)])
    assert events == ["kept", "begin"]
