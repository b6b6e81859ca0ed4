"""A run directory has one writer, and a failed checkpoint write loses nothing.

Real `symrnn train` processes (py backend, tiny model) for the lock; a write
that raises ENOSPC (the disk-full path) simulated in-process.
"""
import errno
import json
import os
import signal
import subprocess
import sys

import pytest
from imports import REPO_ROOT
from waiting import wait_for

import symrnn.io
from symrnn.app.cli import main
from symrnn.app.rundir import LOCK_NAME, RunDirBusy, RunDirLock
from symrnn.layers.checkpoints import list_checkpoints, load_checkpoint

ROOT = REPO_ROOT
TEXT = "the cat sat on the mat; a dog ate the hat. " * 40


def small_train(corpus, run, *extra):
    return ["train", "--corpus", str(corpus), "--run-dir", str(run), "--hidden", "6", "--seq-len", "5",
            "--batch-size", "4", "--no-progress", "--sample", "0", *extra]


def start_training(tmp_path, run):
    """A live `symrnn train` that runs until stopped, checkpointing every 20 steps."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    argv = [sys.executable, "-m", "symrnn",
            *small_train(corpus, run, "--epochs", "100000", "--checkpoint-every", "20")]
    env = {**os.environ, "SYMRNN_BACKEND": "py", "PYTHONPATH": str(ROOT)}
    return corpus, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)


def lock_holder(run):
    try:
        return json.loads((run / LOCK_NAME).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_a_second_lock_on_the_same_directory_is_refused_with_the_holder(tmp_path):
    with RunDirLock(tmp_path):
        with pytest.raises(RunDirBusy, match=f"pid {os.getpid()} on "):
            RunDirLock(tmp_path).acquire()
    with RunDirLock(tmp_path) as again:   # released: free to take
        assert again.holder() == os.getpid()


def test_two_trains_into_one_directory_one_refused_the_other_finishes(tmp_path, capsys):
    run = tmp_path / "run"
    corpus, proc = start_training(tmp_path, run)
    try:
        assert wait_for(lambda: list_checkpoints(run) and lock_holder(run) == proc.pid), \
            proc.stderr.read() if proc.poll() is not None else "no checkpoint yet"
        for argv in (small_train(corpus, run), ["train", "--resume", str(run), "--no-progress"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert f"is being trained by another symrnn process (pid {proc.pid}" in err \
                or "already holds a run" in err, err
        proc.send_signal(signal.SIGINT)   # the holder finishes cleanly, with a checkpoint
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    arrays, meta, _ = load_checkpoint(run)
    assert meta["step"] > 0 and arrays
    assert main(["train", "--resume", str(run), "--max-steps", str(meta["step"] + 3),
                 "--no-progress", "--sample", "0"]) == 0
    assert load_checkpoint(run)[1]["step"] == meta["step"] + 3


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    run = tmp_path / "run"
    _, proc = start_training(tmp_path, run)
    try:
        assert wait_for(lambda: list_checkpoints(run) and lock_holder(run) == proc.pid)
        proc.send_signal(signal.SIGKILL)   # no cleanup runs: the lock file stays behind
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert (run / LOCK_NAME).exists() and lock_holder(run) == proc.pid
    step = load_checkpoint(run)[1]["step"]
    assert main(["train", "--resume", str(run), "--max-steps", str(step + 2), "--no-progress",
                 "--sample", "0"]) == 0
    assert lock_holder(run) == os.getpid() and load_checkpoint(run)[1]["step"] == step + 2


def test_a_full_disk_stops_training_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    corpus, run = tmp_path / "c.txt", tmp_path / "run"
    corpus.write_text(TEXT)
    real_fsync, calls = os.fsync, []

    def fsync_until_the_disk_fills(fd):
        calls.append(fd)
        if len(calls) > 2:   # the first checkpoint (file and directory) gets through
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(symrnn.io.os, "fsync", fsync_until_the_disk_fills)
    assert main(small_train(corpus, run, "--checkpoint-every", "5", "--max-steps", "20")) == 4
    err = capsys.readouterr().err
    assert "could not write the checkpoint of step 10" in err and "No space left on device" in err
    assert "ckpt-000000005.npz' is intact" in err and f"--resume {run}" in err
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000005.npz"]
    assert not [p for p in run.iterdir() if p.name.startswith(".tmp-")]   # no half-written file
    monkeypatch.setattr(symrnn.io.os, "fsync", real_fsync)   # space again: resume from step 5
    assert main(["train", "--resume", str(run), "--max-steps", "20", "--no-progress",
                 "--sample", "0"]) == 0
    assert load_checkpoint(run)[1]["step"] == 20
