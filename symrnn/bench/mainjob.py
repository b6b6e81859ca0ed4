"""The README main job (``symrnn train``, default model) timed to its first loss and to its end.

Run with ``symrnn bench --main-job``. Each run is a fresh ``python -m symrnn
train`` process whose caches (PyTensor's ``base_compiledir``, which holds its
Numba cache, and ``NUMBA_CACHE_DIR``) live in one temporary directory:

1. ``cold``: nothing compiled yet: the job compiles its Numba training
   function before its first step;
2. ``warm``: the same caches again, in a new process and run directory, as a
   second ``symrnn train`` of the same configuration finds them.

The job's output is read in raw chunks (its progress bar redraws with
``\\r``), and a loss counts as printed when ``loss=<number>`` first arrives.

>>> train_command("/tmp/run")[1:4]
['-m', 'symrnn', 'train']
"""
import os
import re
import subprocess
import sys
import tempfile
import time

from .probes import probe_env

LOSS = re.compile(rb"loss[=:]\s*\d+\.\d")


def cache_env(cache_dir):
    """A probe's environment (caches under ``cache_dir``) for the README's command as a
    newcomer runs it: no ``SYMRNN_BACKEND``, unbuffered output."""
    env = probe_env(cache_dir)
    env.pop("SYMRNN_BACKEND", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def timed_job(command, env):
    """Run ``command``: seconds to the first loss and to the end, exit code, output tail."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    seen, first_loss = b"", None
    while True:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        seen = (seen + chunk)[-4096:]
        if first_loss is None and LOSS.search(seen):
            first_loss = time.perf_counter() - start
    code = proc.wait()
    return {"exit": code, "first_loss_s": first_loss, "total_s": time.perf_counter() - start,
            "tail": seen.decode(errors="replace")[-300:]}


def train_command(run_dir, *extra):
    """``symrnn train`` with its defaults, writing into ``run_dir``."""
    return [sys.executable, "-m", "symrnn", "train", "--run-dir", run_dir, *extra]


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="symrnn-mainjob-") as tmp:
        env = cache_env(f"{tmp}/cache")
        for state in ("cold", "warm"):
            rows.append({"caches": state, **timed_job(train_command(f"{tmp}/run-{state}"), env)})
    print_rows(rows)
    return 0 if all(r["exit"] == 0 for r in rows) else 1


def print_rows(rows):
    fmt = lambda v: "-" if v is None else f"{v:.1f} s"
    print("README main job (python -m symrnn train: default model and settings), each in a fresh "
          "process; caches in a fresh temporary directory")
    print(f"  {'caches':<8} {'first loss':>11} {'whole job':>10}")
    for r in rows:
        print(f"  {r['caches']:<8} {fmt(r.get('first_loss_s')):>11} {fmt(r['total_s']):>10}"
              + ("" if r["exit"] == 0 else f"  FAILED ({r['exit']}): {r['tail']}"))
