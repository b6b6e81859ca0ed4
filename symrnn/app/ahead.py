"""Compile what ``symrnn train`` needs after training in a second process, while it trains.

A cold ``symrnn train`` on Numba compiles its training function before the
first step and then, after the last step, three more: the evaluation function
(the held-out loss at each epoch's end), the prediction function (the
predicted characters it prints) and the sampling function (the sampled text).
None of them depends on what training learns, only on the model's settings and
vocabulary. So on a machine with two or more cores, :func:`start` launches a
helper process (``python -m symrnn.app.ahead``) that builds the same model and
calls those three functions once, through the same code paths, on a made-up
text of the same vocabulary (:func:`rehearse`). Numba and PyTensor keep what
it compiles in their on-disk caches, where the run finds it.

Before the run evaluates for the first time it waits for the helper
(:class:`AwaitHelper`, :meth:`Helper.wait`): the helper started long before
and is further along than a fresh compile in the run would be. The helper
writes nothing but those caches, runs at a lower priority with one BLAS
thread, and prints nothing. If it fails, or takes longer than
:data:`WAIT_LIMIT_S` after the run reaches it, the run compiles for itself:
it costs time, never a result. ``SYMRNN_COMPILE_AHEAD=0`` turns it off.

>>> spec = {"vocab": ["a", "b"], "config": {"model": "lesson", "hidden": 4, "seq_len": 3},
...         "backend": "py", "window": 3, "prime": "a"}
>>> rehearse(spec)  # what the helper does, here in-process on the fast-compiling backend
['evaluate', 'predict', 'sample']
>>> wanted("py"), wanted("jax")   # only Numba keeps compiled code on disk
(False, False)
"""
import json
import subprocess
import sys

from ..data import Vocab, train_heldout_windows
from ..layers import Callback
from ..runtime import compile_ahead_wanted, lower_priority, start_helper
from . import run
from .models import build_model

# The longest the run waits for a helper still compiling, in seconds (then it compiles itself).
WAIT_LIMIT_S = 300
# Windows of the made-up text: enough that the held-out tail (a tenth) holds one.
MADE_UP_WINDOWS = 20


def wanted(backend):
    """Whether a run on ``backend`` gains from a helper: Numba (whose compiled code is cached
    on disk), two or more usable cores, and not turned off with ``SYMRNN_COMPILE_AHEAD=0``
    (:func:`symrnn.runtime.compile_ahead_wanted`)."""
    return backend == "numba" and compile_ahead_wanted()


def spec_for(model, window, prime):
    """What the helper needs to build ``model`` (a :class:`symrnn.app.models.CharModel`) and
    call its functions as the run will: JSON-able."""
    return {"vocab": model.vocab.to_list(), "config": model.config, "backend": model.backend,
            "window": window, "prime": prime}


def made_up_text(vocab, seq_len):
    """Every character of ``vocab`` in turn, repeated to :data:`MADE_UP_WINDOWS` windows."""
    chars = "".join(vocab.chars)
    length = (seq_len + 1) * MADE_UP_WINDOWS
    return (chars * (length // len(chars) + 1))[:length]


def rehearse(spec):
    """Build the model ``spec`` describes and call what the run calls after training, each
    once, in the run's own ways: the held-out evaluation (as
    :class:`symrnn.layers.HeldOutEvaluation` calls it), the predictions and one sampled
    character. Returns the names of the steps done."""
    vocab = Vocab.from_list(spec["vocab"])
    model = build_model(vocab, spec["config"], backend=spec["backend"])
    seq_len = model.config["seq_len"]
    text = made_up_text(vocab, seq_len)
    *_, heldout_x, heldout_y = train_heldout_windows(vocab.encode(text), seq_len)
    model.model.evaluate(heldout_x, heldout_y, batch_size=len(heldout_x))
    run.predictions(model, text, seq_len)
    run.sample_text(model, spec["prime"], 1, 1.0, 0, spec["window"])
    return ["evaluate", "predict", "sample"]


class Helper:
    """The helper process of one run (see the module docstring)."""

    def __init__(self, spec):
        self.process = start_helper(__name__, spec)

    def wait(self, timeout=WAIT_LIMIT_S):
        """Wait until the helper is done (at most ``timeout`` seconds, then stop it);
        True if it finished its work."""
        try:
            return self.process.wait(timeout) == 0
        except subprocess.TimeoutExpired:
            self.stop()
            return False

    def callback(self):
        """The callback that waits for this helper before a held-out evaluation."""
        return AwaitHelper(self)

    def stop(self):
        """Stop the helper if it still runs (the run ended early, or gave up waiting)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start(model, window, prime):
    """A :class:`Helper` compiling ``model``'s after-training functions, or None where it
    would not help (:func:`wanted`)."""
    if not wanted(model.backend):
        return None
    try:
        return Helper(spec_for(model, window, prime))
    except OSError:   # no process to spare: the run compiles for itself
        return None


class AwaitHelper(Callback):
    """At the end of each whole epoch, before its held-out evaluation: wait for the helper
    (not after a stop inside an epoch, which evaluates nothing)."""

    def __init__(self, helper):
        super().__init__()
        self.helper = helper

    def on_epoch_end(self, epoch, logs=None):
        if self.model.fit_state.batch == 0:
            self.helper.wait()


def main():
    lower_priority(10)   # the run's own work comes first
    rehearse(json.loads(sys.stdin.buffer.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
