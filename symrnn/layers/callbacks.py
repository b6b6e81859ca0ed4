"""Keras' callbacks for ``model.fit(..., callbacks=[...])``.

``fit`` calls every callback's hooks in list order, with Keras' names:
``set_model``, ``set_params``, ``on_train_begin``, then per epoch
``on_epoch_begin(epoch)``, per batch ``on_batch_begin(batch)`` /
``on_batch_end(batch, logs)`` and ``on_epoch_end(epoch, logs)``, and
``on_train_end``. Batch logs hold ``batch``, ``size`` (rows) and the batch's
loss and metrics; epoch logs hold the epoch means and the ``val_`` values.
Setting ``model.stop_training = True`` ends training after the current batch.

A callback that monitors a value (``monitor='val_loss'``) checks in
``on_train_begin`` that ``fit`` will log it, so a typo or a missing
``validation_data`` is refused before the first batch changes anything.

>>> import numpy as np
>>> from symrnn.graph.optimizers import SGD
>>> from symrnn.layers import Dense, Sequential
>>> model = Sequential([Dense(1, input_shape=(2,), seed=0)])
>>> model.compile(SGD(lr=0.1), "mse", backend="py")
>>> x = np.random.default_rng(0).normal(size=(8, 2)); y = x.sum(1, keepdims=True)
>>> stop = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
>>> history = model.fit(x, y, epochs=5, verbose=0, callbacks=[stop])
>>> len(history.epoch), stop.stopped_epoch, model.history is history
(2, 1, True)
"""
import inspect
import math
import os
import warnings

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..io import check_writable, save_text


class Callback:
    """Base class: every hook does nothing; ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self):
        self.model, self.params = None, {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass


class CallbackList:
    """Calls one hook on every callback, in order."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def set_model(self, model):
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def close(self):
        """After ``fit``, however it ended: a callback's ``close()``, where it has one, lets go
        of what it holds (a signal handler, a file)."""
        for cb in self.callbacks:
            getattr(cb, "close", lambda: None)()


def check_callbacks(callbacks):
    """``callbacks`` as a list of Callback objects, or a ConfigError naming the odd one."""
    callbacks = [] if callbacks is None else list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(f"callbacks must be Callback objects (e.g. EarlyStopping(...)), "
                              f"got {type(cb).__name__}; subclass symrnn.layers.Callback")
    return callbacks


class History(Callback):
    """Per-epoch logs: ``history["loss"][e]`` is epoch e's mean training loss.

    ``fit`` returns it and also keeps it as ``model.history`` (as Keras does).
    """

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def on_epoch_end(self, epoch, logs=None):
        self.append(epoch, dict(logs or {}))


# -- monitoring a logged value --------------------------------------------------
def _mode_is_max(monitor, mode, who):
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":   # Keras: accuracies grow, everything else (losses) shrinks
        return "acc" in monitor
    return mode == "max"


def _require_logged(monitor, params, who):
    logged = params.get("metrics", [])
    if monitor not in logged:
        hint = (" (pass validation_data=(x_val, y_val) or validation_split= for val_ values)"
                if monitor.startswith("val_") else "")
        raise ConfigError(f"{who} monitors {monitor!r}, which this fit does not log; logged: "
                          f"{', '.join(logged)}{hint}")


class _Monitor(Callback):
    """A callback that follows one logged value and knows when it improved."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        self.monitor, self.min_delta = monitor, abs(float(min_delta))
        self.maximize = _mode_is_max(monitor, mode, type(self).__name__)
        self.best = -math.inf if self.maximize else math.inf

    def improved(self, current):
        """True for a finite ``current`` better than ``best`` by more than ``min_delta``."""
        if current is None or not math.isfinite(current):
            return False
        if self.maximize:
            return current - self.min_delta > self.best
        return current + self.min_delta < self.best

    def on_train_begin(self, logs=None):
        _require_logged(self.monitor, self.params, type(self).__name__)
        self.best = -math.inf if self.maximize else math.inf


# -- the callbacks ----------------------------------------------------------------
class ModelCheckpoint(_Monitor):
    """Save the model (or only its weights) after epochs, atomically and pickle-free.

    ``filepath`` may hold Keras-style fields filled from the epoch's logs:
    ``"weights.{epoch:02d}-{val_loss:.2f}.npz"`` (``epoch`` counts from 1).
    With ``save_best_only`` a file is written only when ``monitor`` improved.
    Files are written by :func:`symrnn.io.save_arrays` (temporary file,
    fsync, rename), so a crash never leaves half a checkpoint; load them with
    :func:`symrnn.layers.load_model` or ``model.load_weights``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", period=1):
        super().__init__(monitor, mode, 0.0)
        self.filepath, self.verbose = os.fspath(filepath), int(verbose)
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        if int(period) < 1:
            raise ConfigError(f"ModelCheckpoint period must be >= 1 epoch, got {period}")
        self.period, self.saved = int(period), []

    def on_train_begin(self, logs=None):
        # best is not reset: fit(epochs=1) in a loop (as the lessons do) keeps the best so far
        if self.save_best_only:
            _require_logged(self.monitor, self.params, "ModelCheckpoint")
        example = self._path(0, {k: 0.0 for k in self.params.get("metrics", [])})
        check_writable(example)   # a missing directory fails now, not after an epoch
        self._since_save = 0

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ConfigError(f"ModelCheckpoint filepath {self.filepath!r} cannot be filled "
                              f"({type(err).__name__}: {err}); fields are epoch and the logged "
                              f"values: {', '.join(self.params.get('metrics', []))}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._since_save += 1
        if self._since_save < self.period:
            return
        if self.save_best_only:
            current = logs.get(self.monitor)
            if not self.improved(current):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1:05d}: {self.monitor} improved from {self.best:.5f} "
                      f"to {current:.5f}, saving to {self._path(epoch, logs)}")
            self.best = current
        self._since_save = 0
        path = self._path(epoch, logs)
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)
        self.saved.append(path)


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (at least one). With ``restore_best_weights``, the weights of the best epoch are put back
    when it stops training (as Keras does; a run that ends on its last epoch keeps
    its last weights). ``stopped_epoch`` is the epoch it stopped at (0: it did not)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        if int(patience) < 0:
            raise ConfigError(f"EarlyStopping patience must be >= 0 epochs, got {patience}")
        self.patience, self.verbose, self.baseline = int(patience), int(verbose), baseline
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, None
        if self.baseline is not None:
            self.best = float(self.baseline)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if self.improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:       # Keras: patience 0 and 1 both stop at the first
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1:05d}: early stopping")


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or inf, with the last finite weights.

    Before every batch it copies the weights and the optimizer's accumulators
    into one of two preallocated buffers (``np.copyto``: no allocation, one
    pass over memory; the buffers alternate). When a batch's loss is not
    finite it restores the copy taken before that batch, or, if those weights
    were already non-finite (the previous update overflowed but its loss was
    still finite), the copy before the previous batch. The same check runs on
    the weights at each epoch's end, for an update that broke the weights on
    an epoch's last batch. ``stopped_batch`` is ``(epoch, batch)`` or None;
    ``stopped_step`` the step count of the batch that failed and ``restored_step`` the one
    the restored weights belong to (``fit`` moves back to it).
    """

    def __init__(self):
        super().__init__()
        self.stopped_batch = self.stopped_step = self.restored_step = None

    def _variables(self):
        optimizer = self.model.optimizer
        return list(self.model.params) + list(getattr(optimizer, "accumulators", []))

    def on_train_begin(self, logs=None):
        self.stopped_batch = self.stopped_step = self.restored_step = None
        self._epoch = 0
        self._vars = self._variables()
        self._buffers = [[np.empty_like(v.get_value(borrow=True)) for v in self._vars]
                         for _ in range(2)]
        self._filled = []                          # buffer indices, newest last

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        index = 0 if not self._filled or self._filled[-1] == 1 else 1
        for buffer, var in zip(self._buffers[index], self._vars):
            np.copyto(buffer, var.get_value(borrow=True))
        self._filled = [i for i in self._filled if i != index] + [index]

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self._terminate(batch, f"loss {loss}")

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped_batch is None and not self._all_finite(self._vars, borrow=True):
            self._terminate(None, "non-finite weights")

    def _move_back(self, steps):
        """fit's position goes back with the weights (a checkpoint then says which step they
        are from); a step back across an epoch's start stays at that start."""
        state = getattr(self.model, "fit_state", None)
        if state is not None:
            state.step, state.batch = state.step - steps, max(state.batch - steps, 0)
        self.restored_step = None if state is None else state.step

    def _all_finite(self, values, borrow=False):
        arrays = [v.get_value(borrow=True) for v in values] if borrow else values
        return all(np.isfinite(a).all() for a in arrays if a.dtype.kind == "f")

    def _terminate(self, batch, what):
        state = getattr(self.model, "fit_state", None)
        self.stopped_step = None if state is None else state.step
        for steps_back, index in enumerate(reversed(self._filled), start=1):   # newest first
            if self._all_finite(self._buffers[index]):
                for buffer, var in zip(self._buffers[index], self._vars):
                    var.set_value(buffer.copy())
                self._move_back(steps_back)
                break
        else:
            warnings.warn("TerminateOnNaN: no finite copy of the weights to restore", stacklevel=2)
        self.stopped_batch = (self._epoch, batch)
        self.model.stop_training = True
        where = f"batch {batch}" if batch is not None else "the end of the epoch"
        print(f"Epoch {self._epoch + 1}, {where}: {what}; training stopped with the last "
              "finite weights")


def _set_lr(model, lr, who):
    lr = float(lr)
    if not math.isfinite(lr) or lr < 0:
        raise ConfigError(f"{who} gave the learning rate {lr}; it must be a finite number >= 0")
    model.optimizer.lr = lr     # the optimizer's shared lr: the compiled function reads it


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch)`` (or
    ``schedule(epoch, lr)``), through the optimizer's shared ``lr``: the compiled
    training function reads the new rate without recompiling."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"LearningRateScheduler needs a function epoch -> lr, got "
                              f"{type(schedule).__name__}")
        self.schedule, self.verbose = schedule, int(verbose)
        try:
            params = inspect.signature(schedule).parameters.values()
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self._takes_lr = len(positional) >= 2
        except (TypeError, ValueError):      # builtins without a signature: epoch only
            self._takes_lr = False

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.model.optimizer.lr
        new = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        _set_lr(self.model, new, "LearningRateScheduler's schedule")
        if self.verbose:
            print(f"Epoch {epoch + 1:05d}: learning rate {float(new):.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.model.optimizer.lr


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` once ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs (never below ``min_lr``), then wait
    ``cooldown`` epochs before counting again. Through the optimizer's shared ``lr``:
    no recompile."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, epsilon=None):
        super().__init__(monitor, mode, min_delta if epsilon is None else epsilon)  # Keras 2.0's name
        if not 0.0 < float(factor) < 1.0:
            raise ConfigError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor}")
        if int(patience) < 0 or int(cooldown) < 0 or not float(min_lr) >= 0:
            raise ConfigError(f"ReduceLROnPlateau needs patience >= 0, cooldown >= 0 and "
                              f"min_lr >= 0, got {patience}, {cooldown}, {min_lr}")
        self.factor, self.patience, self.cooldown = float(factor), int(patience), int(cooldown)
        self.min_lr, self.verbose = float(min_lr), int(verbose)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.wait, self.cooldown_counter = 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["lr"] = self.model.optimizer.lr
        current = logs.get(self.monitor)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce(epoch)

    def _reduce(self, epoch):
        old = self.model.optimizer.lr
        if old <= self.min_lr:
            return
        new = max(old * self.factor, self.min_lr)
        _set_lr(self.model, new, "ReduceLROnPlateau")
        self.cooldown_counter, self.wait = self.cooldown, 0
        if self.verbose:
            print(f"Epoch {epoch + 1:05d}: reducing the learning rate to {new:.6g}")


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` (from 0, as Keras) and the logged values, sorted.

    Every write replaces the whole file atomically (:func:`symrnn.io.save_text`),
    so an existing file is never left half-written. With ``append=True`` the
    rows follow an existing file's rows and columns; a value its header lacks
    is left out with a warning, a column it has that is not logged stays empty.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)

    def on_train_begin(self, logs=None):
        check_writable(self.filename)
        self._lines, self._columns = [], None
        if self.append and os.path.isfile(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self._lines = f.read().splitlines()
            if self._lines:
                self._columns = self._lines[0].split(self.sep)[1:]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._columns is None:
            self._columns = sorted(logs)
            self._lines.append(self.sep.join(["epoch"] + self._columns))
        left_out = sorted(set(logs) - set(self._columns))
        if left_out:
            warnings.warn(f"CSVLogger: {left_out} are not columns of {self.filename!r}; "
                          "not written", stacklevel=2)
        cells = [str(epoch)] + [_cell(logs.get(key)) for key in self._columns]
        self._lines.append(self.sep.join(cells))
        save_text(self.filename, "\n".join(self._lines) + "\n")


def _cell(value):
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def _shown(value):
    """A logged value as the bar shows it: counts as counts, the rest to 4 decimals."""
    value = float(value)
    return f"{value:.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:.4f}"


class ProgressBar(Callback):
    """fit's progress display: a tqdm bar per epoch (``verbose=1``) or one line per
    epoch (``verbose=2``); added by fit itself, not by users."""

    def __init__(self, verbose):
        super().__init__()
        self.verbose = int(verbose)

    def on_epoch_begin(self, epoch, logs=None):
        steps, samples = self.params.get("steps"), self.params.get("samples")
        self._by_samples = samples is not None
        self._seen, self._loss = 0, 0.0
        self.bar = tqdm(total=samples if self._by_samples else steps,
                        desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                        unit="sample" if self._by_samples else "batch",
                        disable=self.verbose != 1, leave=True)

    def on_batch_end(self, batch, logs=None):
        size = logs.get("size", 1)
        self._seen += size
        self._loss += logs.get("loss", 0.0) * size
        self.bar.update(size if self._by_samples else 1)
        # refresh=False: tqdm redraws at most every mininterval; a redraw per batch costs
        # more than a small model's whole training step
        self.bar.set_postfix(loss=f"{self._loss / self._seen:.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        text = {k: _shown(v) for k, v in (logs or {}).items()}
        self.bar.set_postfix(text)
        self.bar.close()
        if self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - "
                  + " - ".join(f"{k}: {v}" for k, v in text.items()))
