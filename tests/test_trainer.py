"""The trainer: bit-exact resume, SIGKILL during checkpoint writes, the NaN guard, refusals."""
import os
import random
import shutil
import signal
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symrnn.app.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    pack_variables,
    remove_stale_temporaries,
)
from symrnn.app.models import build_model
from symrnn.app.trainer import NonFiniteLoss, Trainer, loss_summary, prepare_windows
from symrnn.data import Vocab
from symrnn.errors import CheckpointError, CorpusError, ShapeError

TEXT = "the cat sat on the mat; a dog ate the hat. " * 25


def make_trainer(run_dir=None, optimizer="adam", lr=0.01, dtype="float64", clipnorm=None, kind="lesson",
                 **kwargs):
    vocab = Vocab.from_text(TEXT)
    x, y, hx, hy = prepare_windows(vocab.encode(TEXT), seq_len=5)
    config = dict(model=kind, hidden=7, optimizer=optimizer, lr=lr, dtype=dtype, clipnorm=clipnorm, seed=3,
                  seq_len=5)
    model = build_model(vocab, config, backend="py")
    settings = dict(batch_size=4, epochs=3, seed=11, log=None, progress=False)
    return Trainer(model, x, y, hx, hy, run_dir=run_dir and str(run_dir), **{**settings, **kwargs})


def all_arrays(trainer):
    return trainer.state_dict()[0]


# The lesson adapter's resume is tested through the CLI (tests/test_cli.py); here the layer-API model.
@pytest.mark.parametrize("kind, k, m", [("simplernn", 45, 5)])
def test_resume_gives_bit_identical_parameters(tmp_path, kind, k, m):
    # the continuation crosses an epoch boundary (48 steps per epoch)
    uninterrupted = make_trainer(tmp_path / "a", max_steps=k, kind=kind).fit()
    assert uninterrupted.n_batches == 48
    saved_at_k = shutil.copy(uninterrupted.last_checkpoint, tmp_path / "at_k.npz")
    uninterrupted.max_steps = k + m
    uninterrupted.fit()

    resumed = make_trainer(tmp_path / "b", max_steps=k + m, kind=kind)
    before = all_arrays(resumed)
    resumed.restore(*load_checkpoint(saved_at_k))
    first = sorted(before)[0]
    assert resumed.step == k and not np.array_equal(before[first], all_arrays(resumed)[first])
    resumed.fit()

    want, got = all_arrays(uninterrupted), all_arrays(resumed)
    assert sorted(want) == sorted(got) and any(k.startswith("state.") for k in want)  # adam's m, v, t
    assert all(name in want for name in ("history.loss",))
    for name in want:
        assert np.array_equal(want[name], got[name]), name
    assert resumed.step == uninterrupted.step == k + m and resumed.epoch == 1


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_gated_models_replay_bit_identically_from_a_checkpoint(tmp_path, kind):
    """One compiled model: run k -> k+m, rewind to the checkpoint at k, run again to k+m."""
    trainer = make_trainer(tmp_path / "run", max_steps=3, kind=kind, dtype="float32").fit()  # the CLI default
    at_k = load_checkpoint(trainer.last_checkpoint)
    trainer.max_steps = 6
    first = all_arrays(trainer.fit())
    trainer.restore(*at_k)
    assert trainer.step == 3 and not np.array_equal(all_arrays(trainer)["param.0.embedding.W"],
                                                    first["param.0.embedding.W"])
    second = all_arrays(trainer.fit())
    assert sorted(first) == sorted(second) and len([k for k in first if k.startswith("state.")]) > 3
    for name in first:
        assert np.array_equal(first[name], second[name]), name


# The suite's workers import jax (collecting tests/test_jax.py), which warns that forking a
# multithreaded process may deadlock (Python 3.12+ says so as a DeprecationWarning); the child
# here runs only numpy and py-backend code.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning",
                            "ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sigkill_during_checkpoint_writes_always_leaves_a_loadable_checkpoint(tmp_path):
    """Fork a training child (already compiled), SIGKILL it at random moments, load, resume."""
    run = tmp_path / "run"
    os.mkdir(run)
    trainer = make_trainer(run, checkpoint_every=1, epochs=1000)
    trainer.model.compile()
    trainer.save()
    rng, steps_seen, torn_writes = random.Random(0), [], 0
    for _ in range(15):
        pid = os.fork()
        if pid == 0:  # child: train and write a checkpoint after every step until killed
            try:
                trainer.fit()
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.02, 0.3))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        torn_writes += any(n.startswith(".tmp-") for n in os.listdir(run))
        remove_stale_temporaries(run)
        arrays, meta, file = load_checkpoint(run)  # must never fail
        assert 1 <= len(list_checkpoints(run)) <= 3
        trainer.restore(arrays, meta, file)  # the next child continues from here
        steps_seen.append(trainer.step)
    assert steps_seen == sorted(steps_seen) and steps_seen[-1] > 0
    print(f"steps after each kill: {steps_seen}; kills that left a half-written temporary: {torn_writes}")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_nan_guard_saves_the_last_finite_parameters(tmp_path):
    diverging = make_trainer(tmp_path / "nan", optimizer="sgd", lr=1e30, dtype="float32")
    with pytest.raises(NonFiniteLoss) as info:
        diverging.fit()
    message = str(info.value)
    bad_step = diverging.step + 1
    assert f"diverged at step {bad_step}:" in message and "--clipnorm 5" in message and "--lr 1e+29" in message
    assert bad_step > 1  # a real run of finite steps before the blow-up
    saved, meta, _ = load_checkpoint(tmp_path / "nan")
    assert meta["step"] == bad_step - 1
    stopped_before = make_trainer(tmp_path / "ok", optimizer="sgd", lr=1e30, dtype="float32",
                                  max_steps=bad_step - 1).fit()
    expected = all_arrays(stopped_before)
    for name in (n for n in expected if n.startswith("param.")):
        assert np.all(np.isfinite(saved[name])), name
        assert np.array_equal(saved[name], expected[name]), name


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_nan_message_does_not_suggest_clipping_when_it_is_on(tmp_path):
    trainer = make_trainer(None, optimizer="sgd", lr=1e30, dtype="float32", clipnorm=1e30)
    with pytest.raises(NonFiniteLoss) as info:
        trainer.fit()
    assert "--clipnorm" not in str(info.value) and "kept them in memory" in str(info.value)


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((2, 5)), np.zeros((2, 5), dtype=int), "integer character ids, got dtype float64"),
    (np.zeros(5, dtype=int), np.zeros(5, dtype=int), "2-D array"),
    (np.zeros((2, 5), dtype=int), np.zeros((2, 4), dtype=int), "same shape"),
    (np.full((2, 5), 99), np.zeros((2, 5), dtype=int), "outside [0, 15)"),
    (np.full((2, 5), -1), np.zeros((2, 5), dtype=int), "outside [0, 15)"),
])
def test_adapter_refuses_bad_arrays_before_touching_parameters(x, y, message):
    model = make_trainer().model
    before = pack_variables("p", model.params + model.state_vars)[0]
    with pytest.raises(ShapeError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        model.train_batch(x, y)
    after = pack_variables("p", model.params + model.state_vars)[0]
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_restore_refuses_a_mismatched_checkpoint_and_changes_nothing(tmp_path):
    source = make_trainer(tmp_path / "a", max_steps=2, batch_size=3).fit()
    target = make_trainer(tmp_path / "b")
    before = all_arrays(target)
    with pytest.raises(CheckpointError, match="batches of 3 per epoch"):
        target.restore(*load_checkpoint(source.last_checkpoint))
    arrays, meta, file = load_checkpoint(source.last_checkpoint)
    meta["trainer"].update(batch_size=4, n_batches=target.n_batches)
    del arrays[next(k for k in sorted(arrays) if k.startswith("state.") and k.endswith(".m"))]
    with pytest.raises(CheckpointError, match="missing"):
        target.restore(arrays, meta, file)
    assert all(np.array_equal(v, all_arrays(target)[k]) for k, v in before.items()) and target.step == 0


def test_loss_summary_reports_bits_and_perplexity():
    assert loss_summary(np.log(2)) == "0.6931 nats/char = 1.0000 bits/char, perplexity 2.00"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=1, max_value=12))
def test_prepare_windows_on_arbitrary_text(text, seq_len):
    """Any unicode text: consistent windows of real text, or a clear CorpusError."""
    vocab = Vocab.from_text(text)
    try:
        x, y, hx, hy = prepare_windows(vocab.encode(text), seq_len)
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
    import tempfile

    from symrnn.data import load_corpus
    from symrnn.errors import SymrnnError
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(raw)
    try:
        text = load_corpus(f.name, encoding=encoding)
        vocab = Vocab.from_text(text)
        x, y, _, _ = prepare_windows(vocab.encode(text), seq_len)
        assert vocab.decode(x.ravel()) == text[:x.size] and np.array_equal(x[:, 1:], y[:, :-1])
    except SymrnnError as err:
        assert f.name in str(err) or "window" in str(err) or "split" in str(err), err
    finally:
        os.unlink(f.name)


def test_each_epoch_has_its_own_progress_bar_and_held_out_line(capsys):
    """The bar of epoch 2 says so and counts its own batches from zero; each held-out
    line starts a line of its own (tqdm draws on stderr, the log goes to stdout)."""
    lines = []
    make_trainer(epochs=2, progress=True, log=lines.append).fit()
    bars = capsys.readouterr().err.replace("\r", "\n")
    assert "epoch 2/2:" in bars
    assert "48/48" in bars.split("epoch 2/2:")[-1]   # the second bar counts 48 batches of its own
    assert not any("step/s" in line for line in lines)
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2 step 48", "epoch 2/2 step 96"]
