"""Training that continues bit for bit after a crash or a stop: :class:`BackupAndRestore`.

The idea of Keras 3's callback of the same name. Into ``backup_dir`` it writes
checkpoints (:mod:`.checkpoints`: atomic, the newest ``keep`` kept) holding
everything the next step depends on: the weights, the optimizer's state, the
layers' random generators (dropout), where ``fit`` is (:class:`FitState`:
epoch, batches done in it, the shuffling generator's state at the epoch's
start, the step count) and the history so far. When ``fit`` starts and the
directory holds a checkpoint, it restores all of it (checked first: a
mismatched checkpoint changes nothing) and ``fit`` goes on from that batch, in
the same order: the weights after the run's last step equal those of a run
that was never stopped.

>>> import tempfile, numpy as np
>>> from symrnn.layers import Dense, Sequential
>>> def model():
...     m = Sequential([Dense(1, input_shape=(2,), seed=0)])
...     m.compile("adam", "mse", backend="py")
...     return m
>>> x = np.random.default_rng(0).normal(size=(40, 2)); y = x.sum(1, keepdims=True)
>>> run = tempfile.mkdtemp()
>>> first = model()
>>> _ = first.fit(x, y, epochs=3, batch_size=8, seed=1, verbose=0,
...               callbacks=[BackupAndRestore(run, save_freq=2), StopAtStep(7)])
>>> second = model()                       # a new process would do the same
>>> _ = second.fit(x, y, epochs=3, batch_size=8, seed=1, verbose=0,
...                callbacks=[BackupAndRestore(run, save_freq=2)])
>>> straight = model()
>>> _ = straight.fit(x, y, epochs=3, batch_size=8, seed=1, verbose=0)
>>> all(np.array_equal(a, b) for a, b in zip(second.get_weights(), straight.get_weights()))
True
"""
import math
import os

import numpy as np

from ..errors import CheckpointError, CheckpointWriteError, ConfigError
from .callbacks import Callback
from .checkpoints import (
    KEEP,
    list_checkpoints,
    load_checkpoint,
    pack_variables,
    prune_checkpoints,
    restore_variables,
    save_checkpoint,
)


def state_variables(model):
    """The optimizer's accumulators and the layers' random generators of a compiled model."""
    rngs = [layer.rng_var for layer in model.layers if hasattr(layer, "rng_var")]
    return list(getattr(model.optimizer, "accumulators", [])) + rngs


def _check_save_freq(save_freq):
    if save_freq == "epoch":
        return save_freq
    ok = isinstance(save_freq, (int, np.integer)) and not isinstance(save_freq, bool)
    if not ok or save_freq < 1:
        raise ConfigError(f"save_freq must be 'epoch' or a whole number of batches >= 1, "
                          f"got {save_freq!r}")
    return int(save_freq)


class BackupAndRestore(Callback):
    """Save the whole training state to ``backup_dir``; restore it when ``fit`` starts.

    Parameters
    ----------
    backup_dir : path
        Where the ``ckpt-<step>.npz`` files go (created when the first is written).
    save_freq : ``"epoch"`` or int
        A checkpoint every that many batches, besides the one at each epoch's end
        and the one when training stops.
    keep : int
        Checkpoints kept (the newest ones).
    meta : dict
        JSON-able facts stored in every checkpoint (``symrnn train`` keeps the corpus,
        the model's settings and the vocabulary there).

    After a run, ``last_checkpoint`` is the newest file written, ``batch_losses`` the
    loss of every batch trained in the whole run (resumed ones included) and
    ``restored_step`` the step training continued from (None for a new run).
    """

    def __init__(self, backup_dir, save_freq="epoch", keep=KEEP, meta=None):
        super().__init__()
        self.backup_dir, self.save_freq = os.fspath(backup_dir), _check_save_freq(save_freq)
        if not isinstance(keep, (int, np.integer)) or keep < 1:
            raise ConfigError(f"keep must be a whole number >= 1, got {keep!r}")
        self.keep, self.meta = int(keep), dict(meta or {})
        self.last_checkpoint = self.restored_step = None
        self.batch_losses, self._saved_step = [], None

    def _groups(self):
        return {"param": self.model.params, "state": state_variables(self.model)}

    # ---------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self.batch_losses, self._saved_step, self.restored_step = [], None, None
        if list_checkpoints(self.backup_dir):
            self.restore(*load_checkpoint(self.backup_dir))
            # a run killed after a write and before its pruning left one file too many; pruning
            # only after the restore worked keeps an older file while the newest might be bad
            prune_checkpoints(self.backup_dir, self.keep)

    def on_batch_end(self, batch, logs=None):
        self.batch_losses.append(float((logs or {}).get("loss", math.nan)))
        state = self.model.fit_state
        inside = state.batch < self.params.get("steps", math.inf)   # the epoch's end saves anyway
        if self.save_freq != "epoch" and state.step % self.save_freq == 0 and inside:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        finished = self.model.fit_state.batch == 0   # else stopped inside it: no history row
        self.save(epoch_logs=(epoch, logs or {}) if finished else None)

    def on_train_end(self, logs=None):
        if self._saved_step != self.model.fit_state.step:
            self.save()

    # ---------------------------------------------------------------- saving
    def save(self, epoch_logs=None):
        """Write a checkpoint of the current step; returns its path."""
        state = self.model.fit_state
        params, _ = pack_variables("param", self.model.params)
        accumulators, rng_states = pack_variables("state", state_variables(self.model))
        arrays = {**params, **accumulators,
                  "history.loss": np.asarray(self.batch_losses, dtype=np.float64)}
        meta = {**self.meta, "fit": {**state.as_dict(), "steps": self.params.get("steps"),
                                     "batch_size": self.params.get("batch_size")},
                "rng_states": rng_states, "history": self._history(epoch_logs)}
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            self.last_checkpoint = save_checkpoint(self.backup_dir, state.step, arrays, meta,
                                                   self.keep)
        except (OSError, CheckpointError) as err:
            raise CheckpointWriteError(self._write_failure(state.step, err)) from err
        self._saved_step = state.step
        return self.last_checkpoint

    def _history(self, epoch_logs):
        """``{"epoch": [...], key: [...]}`` so far, with the epoch ending now (History hears
        of it after this callback)."""
        history = self.model.history
        rows = {"epoch": list(history.epoch), **{k: list(v) for k, v in history.history.items()}}
        if epoch_logs is not None:
            epoch, logs = epoch_logs
            rows["epoch"].append(epoch)
            for key, value in logs.items():
                rows.setdefault(key, []).append(float(value))
        return rows

    def _write_failure(self, step, err):
        # the write is atomic (temporary file, fsync, rename): a failed one leaves the last
        # good checkpoint as it was, so say which one that is and how to continue from it
        saved = list_checkpoints(self.backup_dir)
        kept = (f"the previous checkpoint {str(saved[-1])!r} is intact; training continues from "
                "it when fit is called again with this callback once the problem is fixed"
                if saved else "no earlier checkpoint exists in it")
        return (f"could not write the checkpoint of step {step} to {self.backup_dir!r} ({err}); "
                f"training stopped. Nothing on disk was damaged: {kept}")

    # ---------------------------------------------------------------- restoring
    def restore(self, arrays, meta, file="<checkpoint>"):
        """Continue from a checkpoint; checks everything before changing anything."""
        fit = meta.get("fit")
        if not isinstance(fit, dict) or "history.loss" not in arrays:
            raise CheckpointError(f"{file}: no training position or history; it was not written "
                                  "by BackupAndRestore, or it is incomplete")
        steps, batch_size = self.params.get("steps"), self.params.get("batch_size")
        if fit.get("steps") != steps or fit.get("batch_size") != batch_size:
            raise CheckpointError(f"{file}: saved with {fit.get('steps')} batches of "
                                  f"{fit.get('batch_size')} per epoch, this fit has {steps} of "
                                  f"{batch_size}; continue with the run's own data and settings")
        position = self._checked_position(fit, file)
        restore_variables(self._groups(), arrays, meta.get("rng_states", {}), file)  # checks, sets
        state = self.model.fit_state
        state.epoch, state.batch, state.step, state.epoch_rng_state, state.sums, state.seen = position
        self.batch_losses = arrays["history.loss"].tolist()
        self._restore_history(meta.get("history") or {})
        self.restored_step = self._saved_step = state.step

    def _checked_position(self, fit, file):
        try:
            epoch, batch, step = (int(fit[k]) for k in ("epoch", "batch", "step"))
            rng_state = fit.get("epoch_rng_state")
            if rng_state is not None:
                np.random.default_rng().bit_generator.state = rng_state   # a valid PCG64 state?
            n_logged = len(self.model.metrics_names)
            # format 2 kept no sums: the epoch's means then start at the resume
            sums = [float(v) for v in fit.get("sums", [0.0] * n_logged)]
            seen = int(fit.get("seen", 0))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{file}: corrupt training position ({err})") from None
        if min(epoch, batch, step, seen) < 0 or batch >= (self.params.get("steps") or math.inf) \
                or (batch and len(sums) != n_logged):
            raise CheckpointError(f"{file}: corrupt training position (epoch {epoch}, batch {batch})")
        return epoch, batch, step, rng_state, sums, seen

    def _restore_history(self, rows):
        history = self.model.history
        history.epoch = list(rows.get("epoch", []))
        history.history = {k: list(v) for k, v in rows.items() if k != "epoch"}


class StopAtStep(Callback):
    """Stop once ``fit`` has trained ``max_steps`` batches in all (resumed runs count theirs)."""

    def __init__(self, max_steps):
        super().__init__()
        if not isinstance(max_steps, (int, np.integer)) or isinstance(max_steps, bool) \
                or max_steps < 0:
            raise ConfigError(f"max_steps must be a whole number >= 0, got {max_steps!r}")
        self.max_steps = int(max_steps)

    def _check(self):
        if self.model.fit_state.step >= self.max_steps:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):   # after a restore: perhaps there already
        self._check()

    def on_batch_end(self, batch, logs=None):
        self._check()
