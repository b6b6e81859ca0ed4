"""Ctrl-C on a real `symrnn train` process: exit 130, a checkpoint, a working resume."""
import os
import signal
import subprocess
import sys
import time

from imports import REPO_ROOT
from waiting import wait_for

from symrnn.app.cli import main
from symrnn.layers.checkpoints import load_checkpoint

ROOT = REPO_ROOT


def test_sigint_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    corpus, run = tmp_path / "c.txt", tmp_path / "run"
    corpus.write_text("the cat sat on the mat. " * 40)
    argv = [sys.executable, "-m", "symrnn", "train", "--corpus", str(corpus), "--run-dir", str(run),
            "--hidden", "6", "--seq-len", "5", "--batch-size", "4", "--epochs", "100000",
            "--checkpoint-every", "100000", "--no-progress", "--sample", "0"]
    env = {**os.environ, "SYMRNN_BACKEND": "py", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # the first epoch-end checkpoint proves the loop is running (not compiling)
        assert wait_for(lambda: any(run.glob("ckpt-*.npz")) or proc.poll() is not None)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"resume with: symrnn train --resume {run}" in err
    _, meta, _ = load_checkpoint(run)
    stopped_at = meta["step"]
    assert stopped_at > 0
    assert main(["train", "--resume", str(run), "--max-steps", str(stopped_at + 3), "--sample", "0",
                 "--no-progress"]) == 0
    assert load_checkpoint(run)[1]["step"] == stopped_at + 3
