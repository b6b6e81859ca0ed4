"""The run routine of `symrnn train` (symrnn.app.run): bit-exact resume through fit and
BackupAndRestore, SIGKILL during checkpoint writes, the divergence guard, refusals, windows."""
import os
import random
import shutil
import signal
import tempfile
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marks import heavy_beyond
from train_options import TEXT, options

from symrnn.app import run
from symrnn.data import Vocab, load_corpus, train_heldout_windows
from symrnn.errors import CheckpointError, CorpusError, ShapeError, SymrnnError
from symrnn.layers import BackupAndRestore, StopAtStep
from symrnn.layers.checkpoints import (
    KEEP,
    list_checkpoints,
    load_checkpoint,
    remove_stale_temporaries,
)

SMALL = dict(model="simplernn", hidden=7, seq_len=5, batch_size=4, epochs=3, seed=11, lr=0.01,
             dtype="float64", sequences=0)


def train(opts):
    return run.train(run.plan_training(opts), log=None)


def newest(run_dir):
    arrays, meta, _ = load_checkpoint(run_dir)
    return arrays, meta


def assert_same_arrays(want, got):
    assert sorted(want) == sorted(got) and any(k.startswith("state.") for k in want)  # adam's m, v, t
    for name in want:
        assert np.array_equal(want[name], got[name]), name


def test_interrupted_and_resumed_equals_uninterrupted_every_array(tmp_path):
    """k = 45, then 5 more: the continuation crosses an epoch's end (48 steps per epoch)."""
    backend, settings_ = "py", {**SMALL, "optimizer": "adam"}
    whole = train(options(tmp_path, "whole", max_steps=50, **settings_))
    assert whole.step == 50 and run.plan_training(options(tmp_path, "probe", **settings_)).steps_per_epoch == 48
    first = train(options(tmp_path, "split", max_steps=45, **settings_))
    assert first.status == "done" and first.step == 45
    resumed = train(options(tmp_path, "split", resume=str(tmp_path / "split"), max_steps=50,
                            backend=backend))
    assert resumed.step == 50 and resumed.epoch == 1
    (want, want_meta), (got, got_meta) = newest(tmp_path / "whole"), newest(tmp_path / "split")
    assert_same_arrays(want, got)
    assert want_meta["fit"] == got_meta["fit"] and want_meta["history"] == got_meta["history"]


@pytest.mark.heavy
def test_resume_on_numba_is_bit_for_bit(tmp_path):
    """The CLI's default: numba, float32. One compiled model (Numba compiles once): trained
    straight to step 50 with a checkpoint at 45; then the step-45 checkpoint, copied to a
    fresh directory, restored into it (weights, Adam's state, generators, position) and
    trained on to 50: every array as the straight run's."""
    plan = run.plan_training(options(tmp_path, **{**SMALL, "backend": "numba", "dtype": "float32"}))
    x, y, model = plan.windows[0], plan.windows[1].astype(np.int64), plan.model.model
    fit = lambda backup: model.fit(x, y, batch_size=4, epochs=3, seed=11, verbose=0,
                                   callbacks=[backup, StopAtStep(50)])
    fit(BackupAndRestore(tmp_path / "straight", save_freq=45, keep=5))
    (tmp_path / "resumed").mkdir()
    shutil.copy(tmp_path / "straight" / "ckpt-000000045.npz", tmp_path / "resumed")
    backup = BackupAndRestore(tmp_path / "resumed", save_freq=45, keep=5)
    fit(backup)
    assert backup.restored_step == 45 and model.fit_state.epoch == 1
    (want, want_meta), (got, got_meta) = newest(tmp_path / "straight"), newest(tmp_path / "resumed")
    assert want_meta["step"] == got_meta["step"] == 50
    assert_same_arrays(want, got)
    assert want_meta["fit"] == got_meta["fit"]


@pytest.mark.parametrize("kind", heavy_beyond(["gru", "lstm"], keep=["lstm"]))
def test_gated_models_replay_bit_identically_from_a_checkpoint(tmp_path, kind):
    """One compiled model: train to step 3, on to 6; rewind to the copy of step 3; on to 6 again."""
    plan = run.plan_training(options(tmp_path, **{**SMALL, "model": kind, "dtype": "float32"}))
    x, y = plan.windows[0], plan.windows[1].astype(np.int64)
    model = plan.model.model

    def fit(backup_dir, steps):
        model.fit(x, y, batch_size=4, epochs=3, seed=11, verbose=0,
                  callbacks=[BackupAndRestore(backup_dir, save_freq=1), StopAtStep(steps)])
        return newest(backup_dir)[0]

    fit(tmp_path / "a", 3)
    shutil.copytree(tmp_path / "a", tmp_path / "at3")
    first = fit(tmp_path / "a", 6)
    assert not np.array_equal(newest(tmp_path / "at3")[0]["param.0.embedding.W"],
                              first["param.0.embedding.W"])
    second = fit(tmp_path / "at3", 6)
    assert len([k for k in first if k.startswith("state.")]) > 3
    assert_same_arrays(first, second)


# The suite's workers import jax (collecting tests/graph/test_jax.py), which warns that forking a
# multithreaded process may deadlock (Python 3.12+ says so as a DeprecationWarning); the child
# here runs only numpy and py-backend code.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning",
                            "ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sigkill_during_checkpoint_writes_always_leaves_a_loadable_checkpoint(tmp_path):
    """Fork a training child (already compiled) that checkpoints every step, SIGKILL it at
    random moments; each next child continues from what the last one left."""
    plan = run.plan_training(options(tmp_path, **{**SMALL, "model": "lesson"}))
    x, y, model, backup_dir = plan.windows[0], plan.windows[1].astype(np.int64), plan.model.model, tmp_path / "run"
    model.make_train_function()
    rng, steps_seen, torn_writes = random.Random(0), [], 0
    for _ in range(15):
        pid = os.fork()
        if pid == 0:  # child: train, a checkpoint after every step, until killed
            try:
                model.fit(x, y, batch_size=4, epochs=1000, seed=11, verbose=0,
                          callbacks=[BackupAndRestore(backup_dir, save_freq=1)])
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        if not backup_dir.exists():
            continue   # killed before its first checkpoint
        torn_writes += any(n.startswith(".tmp-") for n in os.listdir(backup_dir))
        remove_stale_temporaries(backup_dir)
        _, meta = newest(backup_dir)  # must never fail
        # one extra file when killed between a write and its pruning; a resume prunes first
        assert 1 <= len(list_checkpoints(backup_dir)) <= KEEP + 1
        steps_seen.append(meta["step"])
    assert steps_seen == sorted(steps_seen) and steps_seen[-1] > 0
    print(f"steps after each kill: {steps_seen}; kills that left a half-written temporary: {torn_writes}")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_saves_the_last_finite_parameters_and_says_what_to_do(tmp_path):
    diverging = {**SMALL, "optimizer": "sgd", "lr": 1e30, "dtype": "float32"}
    with pytest.raises(run.NonFiniteLoss) as info:
        train(options(tmp_path, "nan", **diverging))
    message = str(info.value)
    saved, meta = newest(tmp_path / "nan")
    step = meta["step"]
    assert f"parameters from step {step} " in message and "--clipnorm 5" in message
    assert "--lr 1e+29" in message and step >= 1  # a real run of finite steps before the blow-up
    stopped_before = train(options(tmp_path, "ok", max_steps=step, **diverging))
    expected, _ = newest(tmp_path / "ok")
    assert stopped_before.step == step
    for name in (n for n in expected if n.startswith("param.")):
        assert np.all(np.isfinite(saved[name])), name
        assert np.array_equal(saved[name], expected[name]), name


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_the_divergence_message_does_not_suggest_clipping_when_it_is_on(tmp_path):
    with pytest.raises(run.NonFiniteLoss) as info:
        train(options(tmp_path, **{**SMALL, "optimizer": "sgd", "lr": 1e30, "dtype": "float32",
                                   "clipnorm": 1e30}))
    assert "--clipnorm" not in str(info.value) and "--lr" in str(info.value)


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 5)), "integer character ids, got dtype float64"),
    (np.zeros(5, dtype=int), "2-D array"),
    (np.full((2, 5), 99), "outside [0, 15)"),
    (np.full((2, 5), -1), "outside [0, 15)"),
])
def test_the_model_refuses_bad_ids_by_name(tmp_path, x, message):
    model = run.plan_training(options(tmp_path, **SMALL)).model
    with pytest.raises(ShapeError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        model.evaluate(x, np.zeros_like(x, dtype=int))


def test_a_mismatched_checkpoint_is_refused_and_changes_nothing(tmp_path):
    train(options(tmp_path, "a", max_steps=2, **{**SMALL, "batch_size": 3}))
    plan = run.plan_training(options(tmp_path, "b", **SMALL))
    model, x, y = plan.model.model, plan.windows[0], plan.windows[1].astype(np.int64)
    before = model.get_weights()
    with pytest.raises(CheckpointError, match="batches of 3 per epoch"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[BackupAndRestore(tmp_path / "a")])
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    train(options(tmp_path, "c", max_steps=2, **SMALL))
    arrays, meta, file = load_checkpoint(tmp_path / "c")
    del arrays[next(k for k in sorted(arrays) if k.startswith("state.") and k.endswith(".m"))]
    backup = BackupAndRestore(tmp_path / "c")
    backup.set_model(model)
    backup.set_params({"steps": 48, "batch_size": 4})
    model.fit_state.step = 0
    with pytest.raises(CheckpointError, match="missing"):
        backup.restore(arrays, meta, file)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.fit_state.step == 0


def test_resume_refuses_changed_settings_and_another_corpus(tmp_path):
    train(options(tmp_path, max_steps=2, **SMALL))
    resume = dict(resume=str(tmp_path / "run"))
    with pytest.raises(SymrnnError, match="--hidden 9 differs from the run's 7"):
        run.plan_training(options(tmp_path, hidden=9, **resume))
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper())
    with pytest.raises(CorpusError, match="vocabulary differs"):
        run.plan_training(options(tmp_path, corpus=str(other), **resume))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=1, max_value=12))
def test_windows_of_arbitrary_text(text, seq_len):
    """Any unicode text: consistent windows of real text, or a clear CorpusError."""
    vocab = Vocab.from_text(text)
    try:
        x, y, hx, hy = train_heldout_windows(vocab.encode(text), seq_len)
    except CorpusError as err:
        assert "shorter than one window" in str(err) or "too short" in str(err) or "cannot split" in str(err)
        return
    for windows_x, windows_y in ((x, y), (hx, hy)):
        assert windows_x.shape == windows_y.shape and windows_x.shape[1] == seq_len
        assert np.array_equal(windows_x[:, 1:], windows_y[:, :-1])
    assert vocab.decode(x.ravel()) == text[:x.size]


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1"]), st.integers(min_value=1, max_value=8))
def test_arbitrary_bytes_give_windows_or_a_clear_error(raw, encoding, seq_len):
    """A file of any bytes either trains on consistent windows or is refused by name."""
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(raw)
    try:
        text = load_corpus(f.name, encoding=encoding)
        vocab = Vocab.from_text(text)
        x, y, _, _ = train_heldout_windows(vocab.encode(text), seq_len)
        assert vocab.decode(x.ravel()) == text[:x.size] and np.array_equal(x[:, 1:], y[:, :-1])
    except SymrnnError as err:
        assert f.name in str(err) or "window" in str(err) or "split" in str(err), err
    finally:
        os.unlink(f.name)


def test_each_epoch_has_its_own_progress_bar_and_held_out_line(tmp_path, capsys):
    """The bar of epoch 2 says so and counts its own windows from zero; each held-out line is
    a line of its own (tqdm draws on stderr, the log goes to stdout)."""
    lines = []
    plan = run.plan_training(options(tmp_path, **{**SMALL, "epochs": 2}, no_progress=False))
    run.train(plan, log=lines.append)
    bars = capsys.readouterr().err.replace("\r", "\n")
    assert "Epoch 2/2:" in bars
    assert "192/192" in bars.split("Epoch 2/2:")[-1]   # the second bar counts 192 windows of its own
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2 step 48", "epoch 2/2 step 96"]
    assert all("held-out" in line and "perplexity" in line for line in lines)


def test_the_embedding_init_is_a_setting_the_run_records_and_resume_keeps(tmp_path):
    plan = run.plan_training(options(tmp_path, "n", embed_init="standard_normal", **SMALL))
    E = plan.model.model.stack[0].W.get_value()
    # N(0, 1), not U(-0.05, 0.05): hundreds of N(0, 1) draws reach past 1, their std near 1
    assert abs(E).max() > 1 and 0.8 < E.std() < 1.2
    uniform = run.plan_training(options(tmp_path, "u", embed_init="uniform", **SMALL))
    assert abs(uniform.model.model.stack[0].W.get_value()).max() <= 0.05
    train(options(tmp_path, "r", max_steps=2, embed_init="standard_normal", **SMALL))
    resume = dict(resume=str(tmp_path / "r"))
    assert run.plan_training(options(tmp_path, **resume)).model.config["embed_init"] == "standard_normal"
    with pytest.raises(SymrnnError, match="--embed-init uniform differs from the run's standard_normal"):
        run.plan_training(options(tmp_path, embed_init="uniform", **resume))


def test_the_recurrent_init_is_a_setting_with_each_models_own_default(tmp_path):
    W_h = run.plan_training(options(tmp_path, "o", **SMALL)).model.model.stack[1].W_h.get_value()
    assert np.allclose(W_h.T @ W_h, np.eye(7)) and not np.allclose(W_h, np.eye(7))  # orthogonal
    lesson = run.plan_training(options(tmp_path, "l", **{**SMALL, "model": "lesson"}))
    assert np.array_equal(lesson.model.model.stack[1].W_h.get_value(), np.eye(7))   # the IRNN
    uniform = run.plan_training(options(tmp_path, "u", inner_init="uniform", **SMALL))
    W_h = uniform.model.model.stack[1].W_h.get_value()
    assert abs(W_h).max() <= 0.05 and not np.array_equal(W_h, np.eye(7))
    assert uniform.model.config["inner_init"] == "uniform"


def test_runs_saved_before_the_embedding_init_was_a_setting_say_keras_uniform():
    from symrnn.app.models import saved_config
    assert saved_config({"model": "lstm"}, 2)["embed_init"] == "uniform"
    assert saved_config({"model": "lstm"}, 2)["inner_init"] is None   # the model's own
    assert saved_config({"model": "simplernn"}, 2)["inner_init"] == "identity"   # as it was
    assert saved_config({"model": "lstm", "embed_init": "standard_normal"}, 2)["embed_init"] \
        == "standard_normal"


@pytest.mark.parametrize("setting", ["embed_init", "inner_init"])
def test_an_unknown_initialiser_is_refused_by_name(tmp_path, setting):
    with pytest.raises(SymrnnError, match="unknown initialiser 'gaussian'"):
        run.plan_training(options(tmp_path, **{setting: "gaussian"}, **SMALL))
    assert not (tmp_path / "run").exists()


def test_gated_models_default_to_the_keras1_gates_and_the_cli_can_ask_for_logistic_ones(tmp_path):
    from symrnn.app.cli import build_parser
    parse = lambda *flags: build_parser().parse_args(["train", *flags]).keras1_gates
    assert (parse(), parse("--keras1-gates"), parse("--sigmoid-gates")) == (None, True, False)
    with pytest.raises(SymrnnError, match="not allowed with"):
        parse("--keras1-gates", "--sigmoid-gates")
    lstm = {**SMALL, "model": "lstm"}
    layer = run.plan_training(options(tmp_path, "k", **lstm)).model.model.stack[1]
    assert (layer.inner_activation, layer.unit_forget_bias) == ("hard_sigmoid", False)
    layer = run.plan_training(options(tmp_path, "s", keras1_gates=False, **lstm)).model.model.stack[1]
    assert (layer.inner_activation, layer.unit_forget_bias) == ("sigmoid", True)
