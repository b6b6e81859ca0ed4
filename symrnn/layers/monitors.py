"""Callbacks that watch a character model train: held-out loss per epoch, Ctrl-C.

:class:`HeldOutEvaluation` evaluates held-out data at each epoch's end and
reports it in nats, bits and perplexity (:func:`loss_summary`), adding
``heldout_loss`` and ``step`` to the epoch's logs (so ``History`` and
:class:`symrnn.layers.backup.BackupAndRestore` keep them). :class:`StopOnInterrupt`
turns the first Ctrl-C into a stop after the current batch (a checkpointing
callback then saves on the way out) and the second into ``KeyboardInterrupt``.

>>> import math
>>> loss_summary(math.log(4))
'1.3863 nats/char = 2.0000 bits/char, perplexity 4.00'
"""
import math
import signal
import threading

from tqdm.auto import tqdm

from ..errors import ConfigError
from .callbacks import Callback


def loss_summary(nats):
    """``nats`` per char as nats, bits (nats / ln 2) and perplexity (e^nats)."""
    return (f"{nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char, "
            f"perplexity {math.exp(nats):.2f}")


class HeldOutEvaluation(Callback):
    """At each epoch's end: the mean loss on ``(x, y)`` divided by ``per`` (e.g. the
    window length, for a loss summed over a window), logged as ``heldout_loss`` and
    printed with ``log`` as ``epoch e/E step s: held-out <nats, bits, perplexity>``
    (``tqdm.write`` by default: above a progress bar that is still open)."""

    def __init__(self, x, y, per=1, batch_size=256, log=tqdm.write):
        super().__init__()
        if not (isinstance(per, (int, float)) and per > 0):
            raise ConfigError(f"per must be a number > 0, got {per!r}")
        self.x, self.y, self.per, self.batch_size, self.log = x, y, per, batch_size, log

    def on_epoch_end(self, epoch, logs=None):
        state = self.model.fit_state
        nats = math.nan   # stopped inside the epoch: not an epoch's result (rows stay aligned)
        if state.batch == 0:
            result = self.model.evaluate(self.x, self.y, batch_size=self.batch_size)
            nats = (result[0] if isinstance(result, list) else result) / self.per
        if logs is not None:
            logs["heldout_loss"], logs["step"] = nats, state.step
        if self.log is not None and not math.isnan(nats):
            self.log(f"epoch {epoch + 1}/{self.params.get('epochs')} step {state.step}: "
                     f"held-out {loss_summary(nats)}")


class StopOnInterrupt(Callback):
    """First Ctrl-C: stop after the current batch (``interrupted`` becomes True);
    second: ``KeyboardInterrupt`` at once. Only in the main thread, which receives
    signals; the previous handler is back when ``fit`` returns, however it ends."""

    def __init__(self):
        super().__init__()
        self.interrupted, self._previous = False, None

    def on_train_begin(self, logs=None):
        self.interrupted = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request_stop)

    def _request_stop(self, signum, frame):
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted, self.model.stop_training = True, True

    def close(self):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
