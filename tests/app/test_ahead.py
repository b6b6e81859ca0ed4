"""The helper that compiles `symrnn train`'s after-training functions while it trains
(symrnn.app.ahead): what it calls, when the run waits for it, that the run's own calls then
find every function compiled (heavy: real Numba caches), and that a failing or slow helper
costs the run nothing but time."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from marks import heavy_beyond
from train_options import TEXT, options

from symrnn import runtime
from symrnn.app import ahead, cli, run
from symrnn.data import Vocab
from symrnn.runtime import isolated_caches, with_package_on_path

# The helper's worth rests on PyTensor's on-disk cache of Numba code, which changed across
# PyTensor 3.0-3.3: CI proves it on both ends of the supported range.
pytestmark = pytest.mark.proof

# a small run: the windows, batches and model of train_options' corpus
RUN = {"model": "simplernn", "hidden": 6, "seq_len": 5, "batch_size": 8, "sequences": 0}


@pytest.fixture
def corpus(tmp_path):
    """The corpus file that :func:`train_options.options` writes and reads."""
    return Path(options(tmp_path).corpus)


# the one-hot lesson model both ways of sampling and an embedded gated model by default;
# every model both ways with --heavy
REHEARSALS = [(model, window) for model in ("lesson", "lstm", "simplernn", "gru") for window in (4, None)]


@pytest.mark.parametrize("model, window", heavy_beyond(REHEARSALS, keep=REHEARSALS[:3]))
def test_rehearsal_calls_evaluation_prediction_and_sampling_of_every_model(model, window):
    spec = {"vocab": Vocab.from_text(TEXT).to_list(), "backend": "py", "window": window,
            "prime": "th", "config": {"model": model, "hidden": 5, "seq_len": 6, "layers": 1}}
    assert ahead.rehearse(spec) == ["evaluate", "predict", "sample"]


def test_made_up_text_uses_every_character_and_leaves_a_held_out_window():
    vocab = Vocab.from_text("xyz")
    text = ahead.made_up_text(vocab, seq_len=9)
    assert set(text) == set(vocab.chars) and len(text) == 10 * ahead.MADE_UP_WINDOWS


def test_wanted_only_for_numba_on_two_cores_unless_turned_off(monkeypatch):
    monkeypatch.setenv(runtime.COMPILE_AHEAD_SWITCH, "1")
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    assert ahead.wanted("numba") and not ahead.wanted("py") and not ahead.wanted("jax")
    monkeypatch.setattr(runtime, "usable_cores", lambda: 1)
    assert not ahead.wanted("numba")
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    monkeypatch.setenv(runtime.COMPILE_AHEAD_SWITCH, "0")
    assert not ahead.wanted("numba")


def spec_of(model="lesson", **config):
    return {"vocab": Vocab.from_text(TEXT).to_list(), "backend": "py", "window": 3, "prime": "t",
            "config": {"model": model, "hidden": 4, "seq_len": 3, **config}}


def test_the_helper_process_finishes_its_rehearsal():
    helper = ahead.Helper(spec_of())
    assert helper.wait() is True and helper.process.returncode == 0


def test_the_helper_reports_each_function_once_compiled():
    helper = ahead.Helper(spec_of())
    assert helper.wait_for("evaluate") is True and "evaluate" in helper.reported
    assert helper.wait() is True
    assert helper.wait_for("sample") is True
    assert helper.reported == {"evaluate", "predict", "sample"}


def test_a_failing_helper_reports_false_and_a_slow_one_is_stopped():
    failing = ahead.Helper(spec_of(model="no-such-model"))
    assert failing.wait_for("evaluate") is False
    assert failing.wait() is False and failing.process.returncode not in (0, None)
    assert failing.wait_for("evaluate") is False   # asked again after its end
    slow = ahead.Helper(spec_of())
    assert slow.wait(timeout=0.01) is False
    assert slow.process.returncode is not None   # killed, not left behind
    slower = ahead.Helper(spec_of())
    assert slower.wait_for("evaluate", timeout=0.01) is False
    assert slower.process.returncode is not None


def test_waiting_for_the_evaluation_does_not_wait_for_the_rest(monkeypatch):
    """A stand-in helper reports the evaluation, then works on: the run goes on at once."""
    def start_helper(module, spec, report=False):
        code = f"print({ahead.REPORT + 'evaluate'!r}, flush=True); import time; time.sleep(60)"
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)

    monkeypatch.setattr(ahead, "start_helper", start_helper)
    helper = ahead.Helper(spec_of())
    try:
        assert helper.wait_for("evaluate") is True
        assert helper.process.poll() is None   # still at work on the rest
    finally:
        helper.stop()


class FakeHelper(ahead.Helper):
    """A helper without a process: records when the run waits for it and stops it."""

    def __init__(self, events):
        self.events = events

    def wait(self, timeout=None):
        self.events.append("wait")
        return True

    def wait_for(self, step, timeout=None):
        self.events.append(f"wait for {step}")
        return True

    def stop(self):
        self.events.append("stop")


def test_the_run_waits_for_the_helper_before_each_held_out_evaluation(tmp_path, corpus):
    events = []
    result = run.train(run.plan_training(options(tmp_path, **RUN, epochs=2)), log=lambda line: events.append("evaluated"),
                       helper=FakeHelper(events))
    assert result.status == "done"
    assert events == ["wait for evaluate", "evaluated", "wait for evaluate", "evaluated"]


def test_a_run_stopped_inside_an_epoch_neither_evaluates_nor_waits(tmp_path, corpus):
    events = []
    result = run.train(run.plan_training(options(tmp_path, **RUN, max_steps=3)),
                       log=lambda line: events.append("evaluated"), helper=FakeHelper(events))
    assert result.step == 3 and events == []


@pytest.mark.parametrize("argv, code", [([], 0), (["--lr", "1e30", "--dtype", "float32"], 3)])
@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")   # the diverging run
def test_the_cli_waits_before_its_predictions_and_always_stops_the_helper(
        monkeypatch, capsys, tmp_path, corpus, argv, code):
    events, given = [], []

    def start(model, window, prime):
        given.append((model.config["seq_len"], window, prime))
        return FakeHelper(events)

    monkeypatch.setattr(ahead, "start", start)
    assert cli.main(["train", "--corpus", str(corpus), "--hidden", "6", "--seq-len", "5",
                     "--sequences", "200", "--sample", "3", "--prime", "th", "--no-progress",
                     "--run-dir", str(tmp_path / "run"), *argv]) == code
    assert given == [(5, 5, "th")]   # the window the sampling re-reads, and the prime
    assert events[-1] == "stop"
    if code == 0:
        # the epoch's end (the evaluation only), then the whole helper before the predictions
        assert events == ["wait for evaluate", "wait", "stop"]


REHEARSED_BY_THE_RUN = textwrap.dedent("""
    # The run's own after-training calls, on a real corpus: which Numba compiles they need.
    import json, sys
    from pathlib import Path
    tmp_path, run_dir, tests_dir, settings = sys.argv[1:]
    sys.path.insert(0, tests_dir)
    from train_options import options
    from symrnn.app import run
    from symrnn.bench.compiletable import CompileTable
    plan = run.plan_training(options(Path(tmp_path), run_dir, backend="numba", **json.loads(settings)))
    window = plan.settings["seq_len"]
    table = CompileTable()
    table.listen()
    _, _, heldout_x, heldout_y = plan.windows
    plan.model.model.evaluate(heldout_x, heldout_y, batch_size=256)   # as HeldOutEvaluation
    run.predictions(plan.model, plan.text, window)
    run.sample_text(plan.model, "the ", 20, 0.7, 1, window)
    print(json.dumps(sorted(row["function"] for row in table.rows())))
""")


GRU_RUN = {**RUN, "model": "gru"}


@pytest.mark.heavy   # compiles a gru's evaluation, prediction and sampling for Numba, cold
def test_after_the_helper_the_runs_own_calls_compile_only_what_a_warm_process_does(tmp_path):
    base = with_package_on_path(dict(os.environ))
    base.pop("SYMRNN_BACKEND", None)

    def compiled_by_the_runs_calls(caches, run_dir):
        env = isolated_caches(dict(base), str(tmp_path / caches))
        out = subprocess.run([sys.executable, "-c", REHEARSED_BY_THE_RUN, str(tmp_path), run_dir,
                              str(Path(__file__).parents[1]), json.dumps(GRU_RUN)],
                             env=env, capture_output=True, text=True, check=True).stdout
        return json.loads(out.splitlines()[-1])

    # the helper's spec as the CLI makes it, from the same options' plan
    plan = run.plan_training(options(tmp_path, "p", **GRU_RUN))
    spec = {**ahead.spec_for(plan.model, window=5, prime="the "), "backend": "numba"}
    cold = compiled_by_the_runs_calls("cold", "r0")
    helper = subprocess.run([sys.executable, "-m", "symrnn.app.ahead"], input=json.dumps(spec),
                            env=isolated_caches(dict(base), str(tmp_path / "c")),
                            capture_output=True, text=True, check=False)
    assert helper.returncode == 0, helper.stderr
    after_helper = compiled_by_the_runs_calls("c", "r1")
    warm = compiled_by_the_runs_calls("c", "r2")   # what every process compiles (BLAS pointers)
    assert after_helper == warm
    assert any("fgraph" in name for name in cold) and len(cold) > len(warm) + 10
