"""Keras' callbacks in fit (issue 16): checkpoints, early stopping, NaN, learning rates, CSV.

Monitored values are driven where a test needs a known sequence: a callback
listed first writes it into the epoch's logs (fit hands the same logs dict
to every callback in order, as Keras does), so the callback under test sees
exactly that sequence while the model really trains.
"""
import csv

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.compile.builders import OpFromGraph

import symrnn.io
from symrnn.errors import CheckpointError, ConfigError
from symrnn.graph.optimizers import SGD
from symrnn.io import load_arrays
from symrnn.layers import (
    Callback,
    CSVLogger,
    Dense,
    EarlyStopping,
    Input,
    LearningRateScheduler,
    Model,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
    load_model,
)
from symrnn.layers.fitting import train_fn


def linear_model(lr=0.05, seed=0):
    x = Input((3,))
    model = Model(x, Dense(1, seed=seed, name="lin")(x))
    model.compile(SGD(lr=lr), "mse", backend="py")
    return model


def data(rows=12, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = scale * rng.normal(size=(rows, 3))
    return x, x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(rows, 1))


class Script(Callback):
    """Overwrites ``logs[key]`` with ``values[epoch]`` (listed before the callback under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Recorder(Callback):
    """Copies of the weights at every epoch end and before every batch."""

    def __init__(self):
        super().__init__()
        self.at_epoch_end, self.before_batch, self.batch_losses = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end.append(self.model.get_weights())

    def on_batch_begin(self, batch, logs=None):
        self.before_batch.append(self.model.get_weights())

    def on_batch_end(self, batch, logs=None):
        self.batch_losses.append(logs["loss"])


def assert_weights_equal(actual, expected):
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


# -- hooks ------------------------------------------------------------------------
class Log(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def set_params(self, params):
        super().set_params(params)
        self.calls.append(("set_params", params["epochs"], params["steps"], tuple(params["metrics"])))

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch, logs["size"]))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_run_in_keras_order_with_keras_logs():
    model, log = linear_model(), Log()
    x, y = data(5)
    model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0, callbacks=[log],
              validation_data=data(4, seed=1))
    assert log.model is model
    batch = lambda i, size: [("batch_begin", i, size), ("batch_end", i, ["batch", "loss", "size"])]
    epoch = lambda e: ([("epoch_begin", e)] + batch(0, 3) + batch(1, 2)
                       + [("epoch_end", e, ["loss", "val_loss"])])
    assert log.calls == ([("set_params", 2, 2, ("loss", "val_loss")), ("train_begin",)]
                         + epoch(0) + epoch(1) + [("train_end",)])


def test_stop_training_ends_fit_after_the_current_batch():
    class StopAtBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    model, recorder = linear_model(), Recorder()
    x, y = data(12)
    history = model.fit(x, y, batch_size=3, epochs=3, verbose=0, shuffle=False,
                        callbacks=[recorder, StopAtBatch()])
    assert len(recorder.batch_losses) == 2 and history.epoch == [0]
    assert model.history is history


# -- ModelCheckpoint ------------------------------------------------------------------
def test_checkpoint_fills_the_name_and_writes_only_on_improvement(tmp_path):
    model, recorder = linear_model(), Recorder()
    path = str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.npz")
    check = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    x, y = data()
    model.fit(x, y, epochs=5, verbose=0, validation_data=data(4, seed=1),
              callbacks=[Script("val_loss", [0.5, 0.4, 0.6, 0.3, 0.35]), check, recorder])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-01-0.50.npz", "w-02-0.40.npz",
                                                           "w-04-0.30.npz"]
    for epoch, name in ((0, "w-01-0.50.npz"), (1, "w-02-0.40.npz"), (3, "w-04-0.30.npz")):
        arrays, meta = load_arrays(tmp_path / name)          # allow_pickle=False inside
        assert meta["format"] == "symrnn-weights"
        assert_weights_equal([arrays["lin.W"], arrays["lin.b"]], recorder.at_epoch_end[epoch])


def test_checkpoint_saves_a_whole_model_every_epoch_by_default(tmp_path):
    model = linear_model()
    x, y = data()
    check = ModelCheckpoint(str(tmp_path / "m{epoch}.npz"), monitor="loss")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[check])
    assert check.saved == [str(tmp_path / "m1.npz"), str(tmp_path / "m2.npz")]
    assert_weights_equal(load_model(tmp_path / "m2.npz").get_weights(), model.get_weights())


def test_checkpoint_write_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    model = linear_model()
    x, y = data()
    path = tmp_path / "best.npz"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(path), monitor="loss")])
    old = path.read_bytes()

    def crash(file, **arrays):        # dies half-way through writing the archive
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(symrnn.io.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(path), monitor="loss")])
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz"]   # no temporary left


def test_checkpoint_refuses_bad_paths_and_fields_before_training(tmp_path):
    model = linear_model()
    x, y = data()
    before = model.get_weights()
    with pytest.raises(ConfigError, match=r"cannot be filled \(KeyError: 'val_acc'\)"):
        model.fit(x, y, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}.npz"))])
    with pytest.raises(CheckpointError, match="does not exist"):
        model.fit(x, y, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "no" / "w.npz"))])
    assert_weights_equal(model.get_weights(), before)


# -- EarlyStopping ---------------------------------------------------------------------
@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_stops_after_patience_and_restores_the_best_weights(restore):
    model, recorder = linear_model(), Recorder()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=restore)
    x, y = data()
    history = model.fit(x, y, epochs=10, verbose=0, validation_data=data(4, seed=1),
                        callbacks=[recorder, Script("val_loss", [1.0, 0.5, 0.7, 0.6, 0.1]), stop])
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert history.history["val_loss"] == [1.0, 0.5, 0.7, 0.6]
    expected = recorder.at_epoch_end[1] if restore else recorder.at_epoch_end[3]
    assert not np.array_equal(recorder.at_epoch_end[1][0], recorder.at_epoch_end[3][0])
    assert_weights_equal(model.get_weights(), expected)


def test_early_stopping_min_delta_and_max_mode():
    model = linear_model()
    stop = EarlyStopping(monitor="loss", mode="max", min_delta=0.1, patience=1)
    x, y = data()
    model.fit(x, y, epochs=10, verbose=0,
              callbacks=[Script("loss", [0.5, 0.55, 0.8, 0.85, 0.9]), stop])
    # 0.55 and 0.85 improve by less than min_delta: the first of them stops (patience 1)
    assert stop.stopped_epoch == 1 and stop.best == 0.5


# -- TerminateOnNaN ----------------------------------------------------------------------
def test_terminate_on_nan_stops_with_the_weights_from_before_the_bad_batch():
    model, recorder = linear_model(lr=3.0), Recorder()   # diverges: the loss overflows to inf
    x, y = data(200, scale=10.0)
    nan_stop = TerminateOnNaN()
    history = model.fit(x, y, batch_size=1, epochs=2, shuffle=False, verbose=0,
                        callbacks=[recorder, nan_stop])
    epoch, batch = nan_stop.stopped_batch
    assert (epoch, history.epoch) == (0, [0]) and 0 < batch < 199
    assert not np.isfinite(recorder.batch_losses[-1]) and len(recorder.batch_losses) == batch + 1
    assert all(np.isfinite(loss) for loss in recorder.batch_losses[:-1])
    assert_weights_equal(model.get_weights(), recorder.before_batch[batch])
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_fires_on_a_planted_non_finite_gradient():
    """The squared error through an identity whose gradient is NaN: the first update breaks
    the weights while its loss was finite, the next loss is NaN, and the guard restores the
    weights from before the first batch, with fit's position moved back to them."""
    template = pt.matrix("y_pred", dtype="float64")
    nan_gradient = OpFromGraph([template], [template],
                               pullback=lambda inputs, outputs, grads: [grads[0] * np.nan])

    def planted(y_pred, y_true):   # symrnn.graph.losses' order
        return pt.sqr(nan_gradient(y_pred) - y_true).mean(axis=-1)
    model = linear_model()
    model.compile(SGD(lr=0.1), planted, backend="py")
    before, nan_stop = model.get_weights(), TerminateOnNaN()
    x, y = data()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[nan_stop])
    assert nan_stop.stopped_batch == (0, 1) and nan_stop.stopped_step == 2
    assert nan_stop.restored_step == model.fit_state.step == 0 and model.fit_state.batch == 0
    assert_weights_equal(model.get_weights(), before)


def nan_stop_on_a_compiled_model():
    """A compiled linear model and a TerminateOnNaN already told training began, for
    driving the callback's hooks by hand."""
    model = linear_model()
    train_fn(model)
    nan_stop = TerminateOnNaN()
    nan_stop.set_model(model)
    nan_stop.on_train_begin()
    return model, nan_stop


def test_terminate_on_nan_falls_back_when_the_weights_before_the_batch_were_not_finite():
    """An update can overflow the weights while its own loss (computed before it) was
    finite; the next batch's loss is NaN and the copy before it is not finite either:
    the copy before the previous batch is restored."""
    model, nan_stop = nan_stop_on_a_compiled_model()
    w0 = model.get_weights()
    nan_stop.on_batch_begin(0)
    model.set_weights([w + 1.0 for w in w0])              # batch 0 trained: finite weights
    nan_stop.on_batch_end(0, {"loss": 1.0})
    w1 = model.get_weights()
    nan_stop.on_batch_begin(1)
    model.params[0].set_value(np.full_like(w1[0], np.inf))   # batch 1's update overflowed
    nan_stop.on_batch_end(1, {"loss": 2.0})
    nan_stop.on_batch_begin(2)                            # the copy before batch 2 holds inf
    nan_stop.on_batch_end(2, {"loss": float("nan")})
    assert model.stop_training and nan_stop.stopped_batch == (0, 2)
    assert_weights_equal(model.get_weights(), w1)


def test_terminate_on_nan_checks_the_weights_at_the_epoch_end():
    model, nan_stop = nan_stop_on_a_compiled_model()
    before = model.get_weights()
    nan_stop.on_batch_begin(0)
    model.params[1].set_value(np.array([np.nan]))         # the epoch's last update broke b
    nan_stop.on_batch_end(0, {"loss": 0.5})
    nan_stop.on_epoch_end(0, {"loss": 0.5})
    assert model.stop_training and nan_stop.stopped_batch == (0, None)
    assert_weights_equal(model.get_weights(), before)


# -- learning rates ---------------------------------------------------------------------------
def mse_grads(weights, x, y):
    W, b = weights
    err = x @ W + b - y
    return [2 * x.T @ err / len(x), 2 * err.mean(0)]


def test_scheduler_changes_the_compiled_functions_rate_without_recompiling():
    model, recorder = linear_model(lr=0.5), Recorder()
    x, y = data()
    fn = train_fn(model)
    rates = [0.1, 0.01, 0.2]
    history = model.fit(x, y, batch_size=len(x), epochs=3, shuffle=False, verbose=0,
                        callbacks=[recorder, LearningRateScheduler(lambda epoch: rates[epoch])])
    assert train_fn(model) is fn and list(model._functions) == ["train"]
    for epoch, lr in enumerate(rates):     # one SGD step per epoch: w - lr * g
        before = recorder.before_batch[epoch]
        grads = mse_grads(before, x, y)
        for w0, w1, g in zip(before, recorder.at_epoch_end[epoch], grads):
            np.testing.assert_allclose(w0 - w1, lr * g, rtol=1e-10)
    assert history.history["lr"] == pytest.approx(rates)


def test_scheduler_with_the_current_rate_and_a_bad_rate():
    model = linear_model(lr=0.1)
    x, y = data()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr / 2)])
    assert model.optimizer.lr == pytest.approx(0.1 / 8)
    with pytest.raises(ConfigError, match="learning rate nan"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: float("nan"))])


def test_reduce_lr_on_plateau_lowers_the_rate_after_patience_then_cools_down():
    model = linear_model(lr=0.4)
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.06)
    scripted = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    x, y = data()
    history = model.fit(x, y, epochs=9, verbose=0, validation_data=data(4, seed=1),
                        callbacks=[Script("val_loss", scripted), reduce])
    # the logged lr is the rate the epoch trained with. No improvement after epoch 0: the
    # second epoch without one (2) halves it; the cooldown epoch after a cut resets the
    # count and is itself the first epoch of the next wait (Keras' rule): cuts after
    # epochs 4 and 6; 0.1 * 0.5 stops at min_lr 0.06, which is never cut again
    assert history.history["lr"] == pytest.approx([0.4, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1, 0.06, 0.06])
    assert model.optimizer.lr == pytest.approx(0.06)
    assert float(model.optimizer._lr_var.get_value()) == pytest.approx(0.06)   # what fn reads


def test_reduced_rate_is_the_one_the_next_sgd_step_uses():
    model, recorder = linear_model(lr=0.4), Recorder()
    x, y = data()
    model.fit(x, y, batch_size=len(x), epochs=3, shuffle=False, verbose=0,
              callbacks=[recorder, Script("loss", [1.0, 1.0, 1.0]),
                         ReduceLROnPlateau(monitor="loss", factor=0.25, patience=1)])
    before = recorder.before_batch[2]      # epoch 1 cut the rate to 0.1 at its end
    for w0, w1, g in zip(before, model.get_weights(), mse_grads(before, x, y)):
        np.testing.assert_allclose(w0 - w1, 0.1 * g, rtol=1e-10)


# -- CSVLogger -----------------------------------------------------------------------------
def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    model = linear_model()
    x, y = data()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=data(4, seed=1),
                        callbacks=[CSVLogger(str(path))])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    for epoch, row in enumerate(rows[1:]):
        assert row == [str(epoch), repr(history.history["loss"][epoch]),
                       repr(history.history["val_loss"][epoch])]
    model.fit(x, y, epochs=1, verbose=0, validation_data=data(4, seed=1),
              callbacks=[CSVLogger(str(path), append=True)])
    assert [r[0] for r in read_rows(path)] == ["epoch", "0", "1", "0"]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(str(path))])   # a new file
    assert read_rows(path) == [["epoch", "loss"], ["0", repr(model.history.history["loss"][0])]]


def test_csv_logger_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    model = linear_model()
    x, y = data()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(str(path))])
    old = path.read_bytes()
    monkeypatch.setattr(symrnn.io.os, "replace",
                        lambda *a: (_ for _ in ()).throw(OSError("killed before the rename")))
    with pytest.raises(OSError, match="killed"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(str(path), append=True)])
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_callbacks_work_on_a_source_of_batches_with_metrics(tmp_path):
    from symrnn.data.mixer import BatchMixer
    x_in = Input((3,))
    model = Model(x_in, Dense(2, activation="softmax", seed=0, name="cls")(x_in))
    model.compile(SGD(lr=0.1), "sparse_categorical_crossentropy", metrics=["acc"], backend="py")
    rng = np.random.default_rng(0)
    real = (rng.normal(size=(40, 3)), np.zeros(40, dtype=int))
    pseudo = (rng.normal(size=(12, 3)) + 3.0, np.ones(12, dtype=int))
    mixer = BatchMixer([real, pseudo], [0.75, 0.25], batch_size=8, seed=3)
    log = Log()
    history = model.fit(mixer, epochs=2, verbose=0, validation_data=real,
                        callbacks=[log, CSVLogger(str(tmp_path / "m.csv"))])
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert log.calls[0] == ("set_params", 2, len(mixer), ("loss", "acc", "val_loss", "val_acc"))
    assert sum(1 for c in log.calls if c[0] == "batch_end") == 2 * len(mixer)
    assert read_rows(tmp_path / "m.csv")[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
