"""Time to the first printed loss of the README's main job (``symrnn train``), cold and warm.

Run with ``symrnn bench --main-job`` (or ``python -m symrnn.bench.mainjob``).
Each run is a subprocess whose PyTensor ``base_compiledir`` (where PyTensor 3
keeps its Numba cache) and ``NUMBA_CACHE_DIR`` live in a fresh temporary
directory, so "cold" means nothing compiled yet, on this machine, for this
process tree:

1. ``auto, cold``: the default ``symrnn train`` on an empty cache. Reports the
   first loss, when numba took over (if it did before the job ended) and the
   whole job.
2. ``background compile``: the same configuration's numba functions compiled
   to completion (``python -m symrnn.tiering`` with the request the first run
   logged), as a finished first run would have.
3. ``auto, warm``: ``symrnn train`` again on that cache (numba from the start).
4. ``numba, cold``: ``symrnn train --backend numba`` on another empty cache:
   the behaviour without tiers, for comparison.

The job's output is read in raw chunks (tqdm redraws with ``\\r``), and a loss
counts as printed when ``loss=<number>`` first arrives.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from .runner import probe_env

LOSS = re.compile(rb"loss[=:]\s*\d+\.\d")
SWITCH = re.compile(rb"switched to the numba backend")


def cache_env(cache_dir):
    """A probe's environment (caches under ``cache_dir``) for the README's command as a
    newcomer runs it: no ``SYMRNN_BACKEND``, unbuffered output."""
    env = probe_env(cache_dir)
    env.pop("SYMRNN_BACKEND", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def timed_job(cmd, env):
    """Run ``cmd``; seconds to the first loss, to the switch to numba, and to the end."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    seen, first_loss, switch = b"", None, None
    while True:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        now = time.perf_counter() - start
        seen = (seen + chunk)[-4096:]
        if first_loss is None and LOSS.search(seen):
            first_loss = now
        if switch is None and SWITCH.search(seen):
            switch = now
    code = proc.wait()
    return {"exit": code, "first_loss_s": first_loss, "switch_s": switch,
            "total_s": time.perf_counter() - start, "tail": seen.decode(errors="replace")[-300:]}


def train_cmd(run_dir, *extra):
    return [sys.executable, "-m", "symrnn.app.cli", "train", "--run-dir", run_dir, *extra]


def logged_request(run_dir):
    """The background compile's request, from the first line of its log."""
    with open(os.path.join(run_dir, "background-compile.log")) as f:
        return json.loads(f.readline())


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="symrnn-mainjob-") as tmp:
        env = cache_env(f"{tmp}/cache-auto")
        rows.append({"run": "auto, cold", **timed_job(train_cmd(f"{tmp}/run-cold"), env)})
        request = logged_request(f"{tmp}/run-cold")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "symrnn.tiering", json.dumps(request)],
                              env=env, capture_output=True, text=True)
        rows.append({"run": "background compile", "exit": done.returncode,
                     "total_s": time.perf_counter() - start, "tail": done.stdout[-300:] + done.stderr[-300:]})
        rows.append({"run": "auto, warm", **timed_job(train_cmd(f"{tmp}/run-warm"), env)})
        env_numba = cache_env(f"{tmp}/cache-numba")
        rows.append({"run": "numba, cold", **timed_job(train_cmd(f"{tmp}/run-numba", "--backend", "numba"),
                                                      env_numba)})
    print_rows(rows)
    return 0 if all(r["exit"] == 0 for r in rows) else 1


def print_rows(rows):
    fmt = lambda v: "-" if v is None else f"{v:.1f} s"
    print("README main job (symrnn train), each in a fresh process; caches in a fresh temporary dir")
    print(f"  {'run':<20} {'first loss':>11} {'numba from':>11} {'whole job':>10}")
    for r in rows:
        print(f"  {r['run']:<20} {fmt(r.get('first_loss_s')):>11} {fmt(r.get('switch_s')):>11} "
              f"{fmt(r['total_s']):>10}" + ("" if r["exit"] == 0 else f"  FAILED ({r['exit']}): {r['tail']}"))


if __name__ == "__main__":
    sys.exit(main())
