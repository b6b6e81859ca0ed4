"""The training loop: batches, progress, held-out loss, checkpoints, resume, NaN guard.

:class:`Trainer` drives a :class:`symrnn.app.models.CharModel` over id
windows. Each epoch visits the training windows in an order drawn from a numpy
``Generator``; a checkpoint records the generator's state at the start of the
epoch and how many batches of it were done, so a resumed run replays the same
order and, with the same parameters and optimizer state, the same arithmetic:
after resuming at step k, the parameters at step k+m equal those of an
uninterrupted run bit for bit (on the same backend).

Guards: a non-finite loss, gradient norm or parameter stops training with the
parameters from before the offending step restored and saved
(:class:`NonFiniteLoss`); Ctrl-C finishes the current step, saves and raises
:class:`TrainingInterrupted`.

>>> from symrnn.app.models import build_model
>>> from symrnn.data import Vocab
>>> text = "the cat sat on the mat. " * 20
>>> vocab = Vocab.from_text(text)
>>> x, y, hx, hy = prepare_windows(vocab.encode(text), seq_len=5)
>>> model = build_model(vocab, {"hidden": 6, "dtype": "float64", "seq_len": 5}, backend="py")
>>> trainer = Trainer(model, x, y, hx, hy, batch_size=4, epochs=1, log=None, progress=False)
>>> trainer.fit().step == len(x) // 4
True
"""
import math
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager

import numpy as np

from ..data import split_tail, windows
from ..errors import CheckpointError, ConfigError, CorpusError, SymrnnError
from .checkpoint import (
    list_checkpoints,
    pack_variables,
    restore_variables,
    save_checkpoint,
)
from .models import check_positive

HELDOUT_FRACTION = 0.1


class NonFiniteLoss(SymrnnError):
    """Training produced NaN or inf; the last finite parameters were restored."""


class CheckpointWriteError(SymrnnError):
    """A checkpoint could not be written (disk full, I/O error); the previous one is intact."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training; ``checkpoint`` is the file saved on the way out."""

    def __init__(self, step, checkpoint):
        super().__init__(f"interrupted at step {step}")
        self.step, self.checkpoint = step, checkpoint


def loss_summary(nats):
    """``nats`` per char as nats, bits (nats / ln 2) and perplexity (e^nats).

    >>> loss_summary(math.log(4))
    '1.3863 nats/char = 2.0000 bits/char, perplexity 4.00'
    """
    return f"{nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char, perplexity {math.exp(nats):.2f}"


def prepare_windows(ids, seq_len, heldout_fraction=HELDOUT_FRACTION, sequences=0):
    """Training and held-out windows ``(x, y, heldout_x, heldout_y)`` from the ids.

    The held-out part is the tail of the corpus (:func:`symrnn.data.split_tail`);
    ``sequences > 0`` keeps only the first that many training windows.
    Raises a CorpusError when either part is shorter than one window.
    """
    train_ids, heldout_ids = split_tail(ids, heldout_fraction)
    x, y = windows(train_ids, seq_len)
    try:
        heldout_x, heldout_y = windows(heldout_ids, seq_len)
    except CorpusError:
        raise CorpusError(f"the held-out tail ({len(heldout_ids)} characters, {heldout_fraction:.0%} of the "
                          f"corpus) is shorter than one window of {seq_len}; use a longer corpus or a "
                          "smaller --seq-len") from None
    if sequences:
        x, y = x[:sequences], y[:sequences]
    return x, y, heldout_x, heldout_y


@contextmanager
def _stop_on_sigint(trainer):
    """First Ctrl-C: finish the step, save, stop. Second: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.stop_requested = True

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Mini-batch training of ``model`` on ``[N, T]`` id windows.

    Parameters
    ----------
    model : CharModel
        See :mod:`symrnn.app.models`.
    x, y, heldout_x, heldout_y : int arrays ``[N, T]``
    batch_size, epochs : int
    seed : int
        Seeds the numpy Generator that shuffles each epoch.
    run_dir : path or None
        Where checkpoints go (``None``: keep nothing on disk).
    checkpoint_every : int
        Steps between checkpoints (one is also written at each epoch end).
    max_steps : int or None
        Stop after this global step (counts across resumes).
    run_meta : dict
        Extra JSON stored in every checkpoint (the CLI puts the corpus there).
    log : callable or None
        Receives one line per event (epoch losses, checkpoints).
    """

    def __init__(self, model, x, y, heldout_x, heldout_y, batch_size=32, epochs=1, seed=42,
                 run_dir=None, checkpoint_every=500, max_steps=None, run_meta=None, log=print,
                 progress=True):
        check_positive(batch_size=batch_size, epochs=epochs, checkpoint_every=checkpoint_every)
        if max_steps is not None and max_steps < 0:
            raise ConfigError(f"max steps must be >= 0, got {max_steps}")
        x, y = model.check_pair(x, y)
        heldout_x, heldout_y = model.check_pair(heldout_x, heldout_y)
        if len(x) < batch_size:
            raise CorpusError(f"only {len(x)} training windows, fewer than one batch of {batch_size}; "
                              "use a smaller --batch-size, a shorter --seq-len or a longer corpus")
        self.model, self.x, self.y, self.heldout_x, self.heldout_y = model, x, y, heldout_x, heldout_y
        self.batch_size, self.epochs, self.seed = int(batch_size), int(epochs), int(seed)
        self.run_dir, self.checkpoint_every, self.max_steps = run_dir, int(checkpoint_every), max_steps
        self.run_meta, self.log, self.progress = dict(run_meta or {}), log or (lambda line: None), progress
        self.n_batches = len(x) // self.batch_size
        self.step = self.epoch = self.position = 0
        self.losses, self.heldout = [], []  # loss per step; [step, epoch, nats] per epoch
        self.rng = np.random.default_rng(self.seed)
        self.stop_requested = False
        self.last_checkpoint, self._saved_step = None, None
        self._begin_epoch()

    # ---------------------------------------------------------------- order
    def _begin_epoch(self):
        self.epoch_rng_state = self.rng.bit_generator.state  # a fresh dict: replay point
        self.order = self.rng.permutation(len(self.x))[:self.n_batches * self.batch_size]

    def _batch(self):
        idx = self.order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def finished(self):
        return self.epoch >= self.epochs or (self.max_steps is not None and self.step >= self.max_steps)

    # ---------------------------------------------------------------- loop
    def fit(self):
        """Train until ``epochs`` or ``max_steps``; returns ``self``."""
        self.stop_requested = False
        with _stop_on_sigint(self):
            while not self.finished():
                self._run_epoch()
                if self.stop_requested:
                    raise TrainingInterrupted(self.step, self.save())
        if self._saved_step != self.step:
            self.save()
        return self

    def _run_epoch(self):
        from tqdm import tqdm
        chars_per_step = self.batch_size * self.x.shape[1]
        running, start, start_step = None, time.perf_counter(), self.step
        with tqdm(total=self.n_batches, initial=self.position, unit="step", mininterval=0.5,
                  desc=f"epoch {self.epoch + 1}/{self.epochs}", disable=not self.progress,
                  dynamic_ncols=True) as bar:
            while not self.finished() and not self.stop_requested and self.position < self.n_batches:
                loss = self._train_step()
                first = running is None
                if first:  # time from here: the first call may include JIT compilation
                    start, start_step = time.perf_counter(), self.step
                running = loss if first else 0.98 * running + 0.02 * loss
                bar.update(1)
                if first:   # show the first loss at once, not after tqdm's next refresh
                    bar.set_postfix(loss=f"{running:.3f}")
                elif self.step % 10 == 0 or self.position == self.n_batches:
                    rate = (self.step - start_step) * chars_per_step / max(time.perf_counter() - start, 1e-9)
                    bar.set_postfix(loss=f"{running:.3f}", chars_s=f"{rate:,.0f}", refresh=False)
                if self.position < self.n_batches and self.step % self.checkpoint_every == 0:
                    self.save()
        # after the bar closes: one bar per epoch, and the held-out line on a line of its own
        if self.position == self.n_batches:
            self._end_epoch()

    def _train_step(self):
        snapshot = self._snapshot()  # the last finite state, for the NaN guard
        x, y = self._batch()
        loss = self.model.train_batch(x, y)
        if not self._finite(loss):
            self._diverged(loss, snapshot)
        self.step += 1
        self.position += 1
        self.losses.append(loss)
        return loss

    def _end_epoch(self):
        nats = self.model.evaluate(self.heldout_x, self.heldout_y)
        self.heldout.append([self.step, self.epoch + 1, nats])
        self.log(f"epoch {self.epoch + 1}/{self.epochs} step {self.step}: held-out {loss_summary(nats)}")
        self.epoch, self.position = self.epoch + 1, 0
        self._begin_epoch()
        self.save()

    # ---------------------------------------------------------------- NaN guard
    def _finite(self, loss):
        if not (np.isfinite(loss) and np.isfinite(self.model.last_grad_norm())):
            return False
        return all(np.isfinite(p.get_value(borrow=True)).all() for p in self.model.params)

    def _groups(self):
        return {"param": self.model.params, "state": self.model.state_vars}

    def _snapshot(self):
        return pack_variables("param", self.model.params)[0], pack_variables("state", self.model.state_vars)

    def _diverged(self, loss, snapshot):
        params, (state, rng_states) = snapshot
        restore_variables(self._groups(), {**params, **state}, rng_states)
        bad_step, config = self.step + 1, self.model.config
        where = f"saved them to {self.save()}" if self.run_dir else "kept them in memory (no run directory)"
        cause = f"the learning rate {config['lr']:g} is probably too high (try --lr {config['lr'] / 10:g})"
        if config.get("clipnorm") is None:
            cause += " and gradients are not clipped (add --clipnorm 5)"
        raise NonFiniteLoss(
            f"training diverged at step {bad_step}: loss {loss}, gradient norm "
            f"{self.model.last_grad_norm()}. Restored the parameters from step {self.step} "
            f"(the last finite ones) and {where}. Likely cause: {cause}")

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self):
        """``(arrays, meta)`` of everything a bit-exact resume needs."""
        params, _ = pack_variables("param", self.model.params)
        state, rng_states = pack_variables("state", self.model.state_vars)
        arrays = {**params, **state, "history.loss": np.asarray(self.losses, dtype=np.float64)}
        meta = {**self.run_meta, "model": self.model.config, "vocab": self.model.vocab.to_list(),
                "epoch": self.epoch, "position": self.position, "epoch_rng_state": self.epoch_rng_state,
                "rng_states": rng_states, "heldout": self.heldout,
                "trainer": {"batch_size": self.batch_size, "epochs": self.epochs, "seed": self.seed,
                            "n_batches": self.n_batches, "checkpoint_every": self.checkpoint_every}}
        return arrays, meta

    def save(self):
        """Write a checkpoint for the current step (no-op without a run directory)."""
        if not self.run_dir:
            return None
        arrays, meta = self.state_dict()
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            self.last_checkpoint = save_checkpoint(self.run_dir, self.step, arrays, meta)
        except (OSError, CheckpointError) as err:
            raise CheckpointWriteError(self._write_failure(err)) from err
        self._saved_step = self.step
        return self.last_checkpoint

    def _write_failure(self, err):
        # the write is atomic (temporary file, fsync, rename): a failed one leaves the last
        # good checkpoint as it was, so say which one that is and how to continue from it
        saved = list_checkpoints(self.run_dir)
        kept = (f"the previous checkpoint {str(saved[-1])!r} is intact; resume from it with "
                f"'symrnn train --resume {self.run_dir}' once the problem is fixed" if saved
                else "no earlier checkpoint exists in it")
        return (f"could not write the checkpoint of step {self.step} to {str(self.run_dir)!r} "
                f"({err}); training stopped. Nothing on disk was damaged: {kept}")

    def restore(self, arrays, meta, file="<checkpoint>"):
        """Continue from a checkpoint; checks everything before changing anything."""
        saved = meta.get("trainer", {})
        if saved.get("n_batches") != self.n_batches or saved.get("batch_size") != self.batch_size:
            raise CheckpointError(f"{file}: saved with {saved.get('n_batches')} batches of "
                                  f"{saved.get('batch_size')} per epoch, this run has {self.n_batches} of "
                                  f"{self.batch_size}; resume with the run's own corpus and settings")
        if "history.loss" not in arrays or not isinstance(meta.get("epoch_rng_state"), dict):
            raise CheckpointError(f"{file}: no training history or RNG state; the checkpoint is incomplete")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = meta["epoch_rng_state"]
        except (ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{file}: corrupt shuffling RNG state ({err})") from None
        restore_variables(self._groups(), arrays, meta.get("rng_states", {}), file)  # checks, then sets
        self.rng = rng
        self.step, self.epoch, self.position = meta["step"], meta["epoch"], meta["position"]
        self.losses, self.heldout = arrays["history.loss"].tolist(), meta.get("heldout", [])
        self._begin_epoch()
        self._saved_step = self.step
        return self


def write_loss_curve(path, losses, heldout, steps_per_epoch):
    """A PNG of the training loss (smoothed) and held-out loss per epoch.

    Returns ``path``, or ``None`` when matplotlib is not installed. Written to a
    temporary file and renamed, like the checkpoints.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    losses = np.asarray(losses, dtype=float)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="0.8", lw=0.8, label="training loss per step")
    width = max(1, min(len(losses) // 20, max(steps_per_epoch // 10, 1)))
    if len(losses) >= width > 1:
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        ax.plot(steps[width - 1:], smooth, color="C0", label=f"mean of {width} steps")
    if heldout:
        h = np.asarray(heldout, dtype=float)
        ax.plot(h[:, 0], h[:, 2], "o-", color="C1", label="held-out")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title="symrnn training")
    ax.legend()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    with os.fdopen(fd, "wb") as f:
        fig.savefig(f, format="png")
    os.replace(tmp, path)
    return path
