"""The auto backend: start on py, move to the fast backend when a background compile is done."""
import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from symrnn import cli, tiering
from symrnn.adapters import LessonAdapter
from symrnn.data import Vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def no_background(monkeypatch):
    """Each test starts without a background compile and stops any it started."""
    monkeypatch.setattr(tiering, "_background", [])
    monkeypatch.setattr(tiering, "_upgrade_callbacks", [])
    yield
    for background in tiering._background:
        background.stop()


def sgd_graph(seed):
    """A least-squares step on a shared weight vector (float64)."""
    w = pytensor.shared(np.random.default_rng(seed).standard_normal(3), name="w")
    x, y = pt.dmatrix("x"), pt.dvector("y")
    loss = ((pt.dot(x, w) - y) ** 2).mean()
    return w, [x, y], loss, {w: w - 0.1 * pytensor.grad(loss, w)}


def test_tiered_function_switches_once_ready_and_keeps_the_shared_state():
    w, inputs, loss, updates = sgd_graph(0)
    ready, switched = [False], []
    tiering.on_upgrade(switched.append)
    tiered = tiering.TieredFunction(inputs, loss, updates, quick="py", fast="numba",
                                    ready=lambda: ready[0])
    w_ref, inputs_ref, loss_ref, updates_ref = sgd_graph(0)
    reference = pytensor.function(inputs_ref, loss_ref, updates=updates_ref, mode="FAST_COMPILE")
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((5, 3)), rng.standard_normal(5)) for _ in range(6)]
    for i, (xb, yb) in enumerate(batches):
        ready[0] = i >= 3
        np.testing.assert_allclose(tiered(xb, yb), reference(xb, yb), rtol=1e-12)
        assert tiered.backend == ("numba" if i >= 3 else "py")
    np.testing.assert_allclose(w.get_value(), w_ref.get_value(), rtol=1e-12)
    assert switched == ["numba"]                       # told once, at the switch
    assert tiered.maker.fgraph is not None             # attributes of the current function


def test_compile_tiered_follows_the_background_compile(monkeypatch):
    class Background:
        backend, after_first_call = "py", False

        def __init__(self, state):
            self.state = state

        def succeeded(self):
            return self.state == "done"

        def failed(self):
            return self.state == "failed"

        def stop(self):
            pass

    w, inputs, loss, updates = sgd_graph(0)
    plain = tiering.compile_tiered(inputs, loss, updates=updates)    # no background: numba
    assert type(plain.maker.linker).__name__ == "NumbaLinker"
    for state, expected in (("running", tiering.TieredFunction), ("done", pytensor.compile.Function),
                            ("failed", pytensor.compile.Function)):
        monkeypatch.setattr(tiering, "_background", [Background(state)])
        fn = tiering.compile_tiered(inputs, loss, updates=updates)
        assert isinstance(fn, expected), state
        if state != "running":
            assert type(fn.maker.linker).__name__ != "NumbaLinker"   # py, as the background says


def test_warm_start_switches_at_the_second_call_then_compiles_fast_directly():
    warm = tiering.start_warm(backend="numba")
    w, inputs, loss, updates = sgd_graph(0)
    first = tiering.compile_tiered(inputs, loss, updates=updates)
    assert isinstance(first, tiering.TieredFunction) and first.backend == "py"
    xb, yb = np.ones((2, 3)), np.zeros(2)
    first(xb, yb)
    assert first.backend == "py" and not warm.succeeded()
    first(xb, yb)
    assert first.backend == "numba" and warm.succeeded()
    later = tiering.compile_tiered(inputs, loss)
    assert type(later.maker.linker).__name__ == "NumbaLinker"


def test_background_child_builds_the_model_and_leaves_a_marker(tmp_path):
    config = LessonAdapter(Vocab(list("abcde")), hidden=4, dtype="float64").config
    marker = tiering.marker_path(config, 5, backend="py")
    if marker.exists():
        marker.unlink()
    assert not tiering.already_compiled(config, 5, backend="py")
    background = tiering.start_background_compile(config, 5, (2, 3), backend="py",
                                                  log_path=str(tmp_path / "log.txt"))
    assert background.proc.wait(timeout=300) == 0, (tmp_path / "log.txt").read_text()
    assert background.succeeded() and not background.failed() and tiering.fast_ready()
    try:
        assert tiering.already_compiled(config, 5, backend="py")
        # lr and seed do not shape the graph; the optimizer does
        assert tiering.already_compiled({**config, "lr": 0.5, "seed": 7}, 5, backend="py")
        assert not tiering.already_compiled({**config, "optimizer": "sgd"}, 5, backend="py")
        assert not tiering.already_compiled(config, 6, backend="py")
    finally:
        marker.unlink()


def test_train_on_auto_starts_on_py_with_a_background_compile(tmp_path, monkeypatch, capsys):
    """The CLI's auto path end to end, with py standing in for numba so the test stays quick."""
    monkeypatch.setattr(tiering, "FAST_BACKEND", "py")
    monkeypatch.delenv("SYMRNN_BACKEND", raising=False)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    run_dir = tmp_path / "run"
    code = cli.main(["train", "--corpus", str(corpus), "--run-dir", str(run_dir), "--hidden", "8",
                     "--sequences", "400", "--batch-size", "8", "--no-progress", "--sample", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "backend auto: training starts on py" in out
    assert os.path.exists(run_dir / "background-compile.log")
    background = tiering._background[0]
    assert background.proc.wait(timeout=300) == 0, (run_dir / "background-compile.log").read_text()
    for path in tiering.marker_path({}, 0).parent.glob("*.done"):   # this test's py child's marker
        if '"backend": "py"' in path.read_text():
            path.unlink()
