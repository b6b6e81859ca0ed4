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

The helper reports each function once it is compiled (a line on a pipe,
:data:`REPORT`). Before the run evaluates for the first time it waits until the
helper has reported the evaluation (:class:`AwaitHelper`,
:meth:`Helper.wait_for`), not for the other two, which the helper compiles
while the run trains on; before its predictions the run waits for the whole
helper (:meth:`Helper.wait`). The helper started long before and is further
along than a fresh compile in the run would be. It writes nothing but those
caches and its reports, and runs at a lower priority with one BLAS thread. If
it fails, or takes longer than :data:`WAIT_LIMIT_S` after the run reaches it,
the run compiles for itself: it costs time, never a result.
``SYMRNN_COMPILE_AHEAD=0`` turns it off.

>>> spec = {"vocab": ["a", "b"], "config": {"model": "lesson", "hidden": 4, "seq_len": 3},
...         "backend": "py", "window": 3, "prime": "a"}
>>> rehearse(spec)  # what the helper does, here in-process on the fast-compiling backend
['evaluate', 'predict', 'sample']
>>> wanted("py"), wanted("jax")   # only Numba keeps compiled code on disk
(False, False)
"""
import json
import queue
import subprocess
import sys
import threading
import time

from ..data import Vocab, train_heldout_windows
from ..layers import Callback
from ..runtime import compile_ahead_wanted, lower_priority, start_helper
from . import run
from .models import build_model

# The longest the run waits for a helper still compiling, in seconds (then it compiles itself).
WAIT_LIMIT_S = 300
# What the helper prints once it has compiled one of the functions, then the step's name.
REPORT = "symrnn.app.ahead compiled: "
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


def rehearsals(spec):
    """Build the model ``spec`` describes and call what the run calls after training, each
    once, in the run's own ways: the held-out evaluation (as
    :class:`symrnn.layers.HeldOutEvaluation` calls it), the predictions and one sampled
    character. Yields each step's name once it is done."""
    vocab = Vocab.from_list(spec["vocab"])
    model = build_model(vocab, spec["config"], backend=spec["backend"])
    seq_len = model.config["seq_len"]
    text = made_up_text(vocab, seq_len)
    *_, heldout_x, heldout_y = train_heldout_windows(vocab.encode(text), seq_len)
    model.model.evaluate(heldout_x, heldout_y, batch_size=len(heldout_x))
    yield "evaluate"
    run.predictions(model, text, seq_len)
    yield "predict"
    run.sample_text(model, spec["prime"], 1, 1.0, 0, spec["window"])
    yield "sample"


def rehearse(spec):
    """:func:`rehearsals`, all of them: the names of the steps done."""
    return list(rehearsals(spec))


class Helper:
    """The helper process of one run (see the module docstring)."""

    def __init__(self, spec):
        self.process = start_helper(__name__, spec, report=True)
        self.reported = set()
        self._reports = queue.Queue()   # step names as the helper prints them; None at its end
        threading.Thread(target=self._read_reports, daemon=True).start()

    def _read_reports(self):
        with self.process.stdout as lines:
            for line in lines:
                text = line.decode(errors="replace")
                if text.startswith(REPORT):
                    self._reports.put(text[len(REPORT):].strip())
        self._reports.put(None)

    def wait_for(self, step, timeout=WAIT_LIMIT_S):
        """Wait until the helper reports ``step`` compiled (True), or ends without it
        (False); after ``timeout`` seconds, stop it (False)."""
        deadline = time.monotonic() + timeout
        while step not in self.reported:
            try:
                name = self._reports.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                self.stop()
                return False
            if name is None:   # the helper ended (or was stopped)
                self._reports.put(None)   # for a later wait
                return False
            self.reported.add(name)
        return True

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
    """At the end of each whole epoch, before its held-out evaluation: wait for the helper's
    evaluation function (not after a stop inside an epoch, which evaluates nothing)."""

    def __init__(self, helper):
        super().__init__()
        self.helper = helper

    def on_epoch_end(self, epoch, logs=None):
        if self.model.fit_state.batch == 0:
            self.helper.wait_for("evaluate")


def main():
    lower_priority(10)   # the run's own work comes first
    for step in rehearsals(json.loads(sys.stdin.buffer.read())):
        print(REPORT + step, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
