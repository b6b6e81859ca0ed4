"""Train at once on a quick-to-build backend; move to Numba when a child process has compiled it.

Numba compiles a training graph in about a minute on a cold cache (its
on-disk cache makes later runs start in seconds). ``symrnn train`` with the
``auto`` backend (its default) does not wait for that:

1. every function is first compiled for the ``py`` backend, which builds in
   a second or two, so the first loss appears almost at once;
2. :class:`BackgroundCompile` starts a child process that builds the same
   model with the same configuration and calls its Numba functions once,
   which fills PyTensor's Numba cache (on the other core);
3. when the child has finished, each :class:`TieredFunction` recompiles
   itself for Numba at its next call (a cache hit: about two seconds for the
   training step) and carries on with the same shared variables, so weights
   and optimizer state are untouched.

The switch happens at whatever step the child finishes, so an ``auto`` run
is not bit-for-bit repeatable (the two backends round differently); choose
``--backend numba`` (or ``py``) for that.

A child that succeeds leaves a marker in PyTensor's compile directory
(:func:`marker_path`), keyed by everything that shapes the graphs. The next
``auto`` run with a matching marker needs no child (:class:`WarmStart`): its
first step still runs on ``py`` (building for ``py`` skips most graph
rewrites and loading Numba's cache, so the first loss comes about half a
second sooner), and the second step builds the Numba function from the
cache (a pause of about two seconds) and runs on it. Deleting the compile
directory deletes the markers with the cache.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> w = pytensor.shared(np.ones(2), name="w")
>>> x = pt.dvector("x")
>>> f = TieredFunction([x], (w * x).sum(), updates={w: w * 2}, quick="py", fast="py",
...                    ready=lambda: True)
>>> f.backend, float(f(np.ones(2))), f.backend
('py', 2.0, 'py')
"""
import atexit
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytensor

from .backend import get_mode
from .childenv import with_package_on_path

QUICK_BACKEND, FAST_BACKEND = "py", "numba"
_background = []   # the BackgroundCompile of this process, if any
_upgrade_callbacks = []


def on_upgrade(callback):
    """Call ``callback(backend)`` once, at the first switch of any function to its fast backend."""
    _upgrade_callbacks.append(callback)


def _notify(backend):
    while _upgrade_callbacks:
        _upgrade_callbacks.pop(0)(backend)


def fast_ready():
    """True once this process's background compile has succeeded (False if none or not yet)."""
    return bool(_background) and _background[0].succeeded()


class TieredFunction:
    """A compiled PyTensor function that starts on ``quick`` and rebuilds itself on ``fast``.

    ``ready()`` is asked before every call while on ``quick``; once it returns
    True the function is compiled again from the same symbolic inputs,
    outputs and updates for ``fast`` and used from then on. Attributes other
    than :attr:`backend` are those of the current compiled function.
    """

    def __init__(self, inputs, outputs, updates=None, quick=None, fast=None, ready=None,
                 after_first_call=False, **kwargs):
        quick = quick or QUICK_BACKEND
        self._spec = (inputs, outputs, updates, kwargs)
        self._fast, self._ready = fast or FAST_BACKEND, ready or fast_ready
        if after_first_call:   # the fast code is cached: switch as soon as one result is out
            self._ready = lambda: self.calls > 0
        self._fn, self.backend, self.calls = self._compile(quick), quick, 0

    def _compile(self, backend):
        inputs, outputs, updates, kwargs = self._spec
        return pytensor.function(inputs, outputs, updates=updates, mode=get_mode(backend), **kwargs)

    def upgrade(self):
        """Compile for the fast backend now (no-op if already there)."""
        if self.backend != self._fast:
            self._fn, self.backend = self._compile(self._fast), self._fast
            _notify(self.backend)

    def __call__(self, *args, **kwargs):
        if self.backend != self._fast and self._ready():
            self.upgrade()
        self.calls += 1
        return self._fn(*args, **kwargs)

    def __getattr__(self, name):
        if "_fn" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["_fn"], name)


def compile_tiered(inputs, outputs, updates=None, **kwargs):
    """The ``auto`` backend's function: tiered while this process's background compile runs;
    Numba when there is none or it has finished; ``py`` if it failed."""
    background = _background[0] if _background else None
    if background is not None and background.failed():
        backend = QUICK_BACKEND
    elif background is None or background.succeeded():
        backend = background.backend if background is not None else FAST_BACKEND
    else:
        return TieredFunction(inputs, outputs, updates, fast=background.backend,
                              after_first_call=background.after_first_call, **kwargs)
    return pytensor.function(inputs, outputs, updates=updates, mode=get_mode(backend), **kwargs)


class WarmStart:
    """The background of an ``auto`` run whose Numba code is cached already: each
    tiered function switches to Numba at its second call; once one has switched,
    functions built later go to Numba directly."""

    after_first_call = True

    def __init__(self, backend=None):
        self.backend = backend or FAST_BACKEND
        self.switched = False
        on_upgrade(self._mark)

    def _mark(self, backend):
        self.switched = True

    def succeeded(self):
        return self.switched

    def failed(self):
        return False

    def stop(self):
        pass


def start_warm(backend=None):
    """Use :class:`WarmStart` as this process's background; returns it."""
    for old in _background:
        old.stop()
    _background[:] = [WarmStart(backend)]
    return _background[0]


class BackgroundCompile:
    """A child process that builds ``config``'s model for ``backend`` and runs each function once.

    Same configuration and vocabulary size give the same graphs, hence the
    same cache keys: the parent then finds the compiled code on disk. The
    child is stopped when the parent exits (what it compiled so far stays
    cached); its output goes to ``log_path`` if given.
    """

    after_first_call = False

    def __init__(self, config, vocab_size, batch_shape, backend=None, log_path=None):
        self.backend = backend = backend or FAST_BACKEND
        request = {"config": config, "vocab_size": int(vocab_size),
                   "batch_shape": [int(n) for n in batch_shape], "backend": backend}
        self.log_path = log_path
        out = open(log_path, "w") if log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "symrnn.tiering", json.dumps(request)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=with_package_on_path(dict(os.environ)))
        finally:
            if log_path:
                out.close()
        atexit.register(self.stop)

    def succeeded(self):
        """True once the child has exited cleanly (never blocks)."""
        return self.proc.poll() == 0

    def failed(self):
        code = self.proc.poll()
        return code is not None and code != 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_background_compile(config, vocab_size, batch_shape, **kwargs):
    """Start this process's background compile (replacing a previous one); returns it."""
    for old in _background:
        old.stop()
    _background[:] = [BackgroundCompile(config, vocab_size, batch_shape, **kwargs)]
    return _background[0]


# Configuration entries that do not change the graphs (only shared values or initial weights).
_NOT_IN_GRAPH = ("lr", "seed")


def marker_path(config, vocab_size, backend=None):
    """Where a finished background compile of this configuration leaves its marker."""
    import numba
    from pytensor import config as pytensor_config
    graph = {k: v for k, v in sorted(config.items()) if k not in _NOT_IN_GRAPH}
    backend = backend or FAST_BACKEND
    digest = hashlib.sha256()
    digest.update(json.dumps([graph, int(vocab_size), backend, pytensor.__version__, numba.__version__,
                              sys.version]).encode())
    for source in sorted(Path(__file__).parent.rglob("*.py")):   # symrnn's code builds the graphs
        digest.update(source.read_bytes())
    return Path(pytensor_config.base_compiledir) / "symrnn-tiering" / f"{digest.hexdigest()[:32]}.done"


def already_compiled(config, vocab_size, backend=None):
    """True if a background compile of this configuration finished with this cache."""
    return marker_path(config, vocab_size, backend).exists()


def child_main(request):
    """Build the model and call its train, eval and predict functions once on zeros."""
    import numpy as np
    print(json.dumps(request), flush=True)   # first line of the log: what was compiled

    from .adapters import build_model
    from .data import Vocab
    from .threads import limit_blas_threads
    limit_blas_threads()
    vocab = Vocab([chr(0x100 + i) for i in range(request["vocab_size"])])   # any distinct chars
    model = build_model(vocab, request["config"], backend=request["backend"])
    ids = np.zeros(request["batch_shape"], dtype=np.int32)
    model.train_batch(ids, ids)
    model.evaluate(ids, ids)
    model.predict_proba(ids[:1])
    marker = marker_path(request["config"], request["vocab_size"], request["backend"])
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(request) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(child_main(json.loads(sys.argv[1])))
