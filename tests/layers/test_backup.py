"""BackupAndRestore, StopAtStep, StopOnInterrupt and HeldOutEvaluation: the callbacks `symrnn
train` trains with, on models of the layer API."""
import os
import signal

import numpy as np
import pytest

from symrnn.errors import CheckpointError, ConfigError
from symrnn.layers import (
    BackupAndRestore,
    Callback,
    Dense,
    Dropout,
    Embedding,
    HeldOutEvaluation,
    Sequential,
    SimpleRNN,
    StopAtStep,
    StopOnInterrupt,
)
from symrnn.layers.checkpoints import list_checkpoints, load_checkpoint

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

V, T, N = 9, 4, 50


def model():
    """Dropout and Adam: a resume must bring back the dropout generator and the moments."""
    m = Sequential([Embedding(V, 5, input_length=T, seed=1), SimpleRNN(6, seed=2),
                    Dropout(0.3, seed=3), Dense(V, activation="softmax", seed=4)])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], backend="py")
    return m


def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, V, (N, T)), rng.integers(0, V, N)


def fit(m, callbacks, epochs=3):
    x, y = data()
    return m.fit(x, y, batch_size=8, epochs=epochs, seed=5, verbose=0, callbacks=callbacks)


def test_stopped_inside_an_epoch_and_resumed_equals_one_run(tmp_path):
    """7 batches per epoch; stopped at step 10 (inside epoch 2), resumed in a new model."""
    straight = model()
    history = fit(straight, [])
    first = model()
    fit(first, [BackupAndRestore(tmp_path, save_freq=4), StopAtStep(10)])
    assert load_checkpoint(tmp_path)[1]["fit"]["batch"] == 3
    resumed, backup = model(), BackupAndRestore(tmp_path, save_freq=4)
    resumed_history = fit(resumed, [backup])
    assert backup.restored_step == 10 and resumed.fit_state.step == 21
    for want, got in zip(straight.get_weights(), resumed.get_weights()):
        assert np.array_equal(want, got)
    assert resumed_history.history == history.history and resumed_history.epoch == [0, 1, 2]
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-000000020.npz", "ckpt-000000021.npz"]


def test_a_finished_run_resumed_with_more_epochs_goes_on(tmp_path):
    straight = model()
    fit(straight, [], epochs=3)
    part = model()
    fit(part, [BackupAndRestore(tmp_path)], epochs=2)
    more = model()
    fit(more, [BackupAndRestore(tmp_path)], epochs=3)
    assert more.fit_state.step == 21
    for want, got in zip(straight.get_weights(), more.get_weights()):
        assert np.array_equal(want, got)


def test_a_resumed_run_first_removes_the_extra_files_a_killed_writer_left(tmp_path):
    """Killed between a write and its pruning, twice: four files; the resume keeps the newest
    two before training (a kill in its first step must not leave five)."""
    fit(model(), [BackupAndRestore(tmp_path, save_freq=1, keep=4), StopAtStep(4)])
    assert len(list_checkpoints(tmp_path)) == 4

    class Checks(Callback):
        def on_train_begin(self, logs=None):   # runs after BackupAndRestore's
            self.seen = [p.name for p in list_checkpoints(tmp_path)]

    checks = Checks()
    fit(model(), [BackupAndRestore(tmp_path, save_freq=1), checks, StopAtStep(5)])
    assert checks.seen == ["ckpt-000000003.npz", "ckpt-000000004.npz"]
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-000000004.npz", "ckpt-000000005.npz"]


def test_a_checkpoint_from_another_data_size_or_a_corrupt_position_changes_nothing(tmp_path):
    fit(model(), [BackupAndRestore(tmp_path), StopAtStep(3)])
    fresh = model()
    before = fresh.get_weights()
    x, y = data()
    with pytest.raises(CheckpointError, match="saved with 7 batches of 8 per epoch, this fit has 4"):
        fresh.fit(x[:30], y[:30], batch_size=8, epochs=1, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path)])
    arrays, meta, file = load_checkpoint(tmp_path)
    meta["fit"]["batch"] = 99
    backup = BackupAndRestore(tmp_path)
    backup.set_model(fresh)
    backup.set_params({"steps": 7, "batch_size": 8})
    with pytest.raises(CheckpointError, match="corrupt training position"):
        backup.restore(arrays, meta, file)
    assert all(np.array_equal(a, b) for a, b in zip(before, fresh.get_weights()))


@pytest.mark.parametrize("kwargs, message", [
    (dict(save_freq=0), "save_freq must be 'epoch' or a whole number"),
    (dict(save_freq="batch"), "save_freq must be 'epoch' or a whole number"),
    (dict(keep=0), "keep must be a whole number >= 1"),
])
def test_bad_arguments_are_refused_when_the_callback_is_made(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BackupAndRestore(tmp_path, **kwargs)
    with pytest.raises(ConfigError, match="max_steps must be a whole number"):
        StopAtStep(-1)


def test_stop_at_step_counts_the_steps_of_the_whole_run(tmp_path):
    m = model()
    fit(m, [BackupAndRestore(tmp_path), StopAtStep(5)])
    assert m.fit_state.step == 5
    again = model()
    fit(again, [BackupAndRestore(tmp_path), StopAtStep(5)])   # already there: no batch
    assert again.fit_state.step == 5 and again.history.epoch == []


class SendSigint(Callback):
    def on_batch_end(self, batch, logs=None):
        if self.model.fit_state.step == 3:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_after_the_batch_and_the_backup_saves_it(tmp_path):
    m, stop = model(), StopOnInterrupt()
    handler = signal.getsignal(signal.SIGINT)
    fit(m, [BackupAndRestore(tmp_path), SendSigint(), stop])
    assert stop.interrupted and m.fit_state.step == 3
    assert load_checkpoint(tmp_path)[1]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler   # given back when fit ended


def test_held_out_evaluation_logs_nats_per_unit_and_the_step():
    m, lines = model(), []
    x, y = data()
    history = m.fit(x, y, batch_size=8, epochs=2, verbose=0,
                    callbacks=[HeldOutEvaluation(x[:16], y[:16], per=2, log=lines.append)])
    expected = m.evaluate(x[:16], y[:16])[0] / 2
    assert history.history["heldout_loss"][-1] == pytest.approx(expected, rel=1e-12)
    assert history.history["step"] == [7, 14]
    assert lines[0].startswith("epoch 1/2 step 7: held-out ") and "perplexity" in lines[1]
