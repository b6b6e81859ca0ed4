"""Compile probes: each model's time from process start to its first compiled training step.

Every probe is a fresh ``python -m symrnn.bench --probe IMPL`` process that
builds one model as ``symrnn train`` does, takes one training step (Numba
compiles the training function at its first call), prints a line, takes a
second step and reports in JSON. The parent times the process from its start
to that line. For each symrnn backend, two probes share one fresh cache
directory (:func:`symrnn.runtime.isolated_caches`: PyTensor's
``base_compiledir``, which holds its Numba cache, and ``NUMBA_CACHE_DIR``):

- ``cold``: nothing compiled yet, on this machine, for this process tree;
- ``warm``: the same directories in a new process, as a second ``symrnn train`` finds them.

Peak memory is the child's peak RSS (``VmHWM``). A Numba child also reports
its compile table (:mod:`symrnn.bench.compiletable`): seconds per compiled function. PyTorch compiles nothing;
its one probe is the reference for the time to a first step.

>>> env = probe_env("/tmp/c")
>>> env["NUMBA_CACHE_DIR"], env["PYTENSOR_FLAGS"].split(",")[-1]
('/tmp/c/numba', 'base_compiledir=/tmp/c/pytensor')
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..runtime import isolated_caches, with_package_on_path
from .compiletable import CompileTable
from .impls import SymrnnTrainer, TorchImpl, initial_weights
from .torch_twins import load_torch

FIRST_STEP = "first step done"


def batch_ids(vocab, batch, seq, seed):
    """A seeded batch: int32 ids ``[B, T]`` and their int64 next-character targets."""
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    ids = rng.integers(0, vocab, size=(batch, seq + 1))
    return np.ascontiguousarray(ids[:, :-1], "int32"), np.ascontiguousarray(ids[:, 1:], "int64")


def probe_impl(args):
    """The implementation a probe child builds: ``symrnn-BACKEND`` or ``torch``."""
    model = args.models[0]
    if args.probe == "torch":
        weights = initial_weights(model, args.vocab, args.hidden, args.embed, args.dtype)
        return TorchImpl(load_torch(), model, weights)
    return SymrnnTrainer(model, args.vocab, args.hidden, args.embed, args.dtype,
                         args.probe.split("-", 1)[1])


def probe_main(args):
    """Child mode: one model, one implementation, two steps (see the module docstring)."""
    start = time.perf_counter()
    table = CompileTable().listen() if args.probe == "symrnn-numba" else None
    impl = probe_impl(args)
    impl.prepare(*batch_ids(args.vocab, max(args.batch), max(args.seq), args.seed))
    impl.train(1)
    first_s = time.perf_counter() - start
    print(FIRST_STEP, flush=True)
    start = time.perf_counter()
    impl.train(1)
    print(json.dumps({"in_process_first_step_s": first_s, "next_step_s": time.perf_counter() - start,
                      "maxrss_mb": peak_rss_mb(),
                      "compile_table": table.rows(top=40) if table else None}), flush=True)
    return 0


def peak_rss_mb():
    """This process's peak RSS. Linux' VmHWM starts afresh at exec, whereas ru_maxrss
    keeps the forking parent's peak (every probe would report the parent's size)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe_env(cache_dir):
    """The environment of a probe whose caches all live under ``cache_dir``."""
    return isolated_caches(with_package_on_path(dict(os.environ)), cache_dir)


def probe_command(args, model, impl):
    sizes = ["--vocab", str(args.vocab), "--hidden", str(args.hidden), "--embed", str(args.embed),
             "--seq", str(max(args.seq)), "--batch", str(max(args.batch)), "--dtype", args.dtype,
             "--seed", str(args.seed)]
    return [sys.executable, "-m", "symrnn.bench", "--probe", impl, "--model", model, *sizes,
            *(["--system-malloc"] if args.system_malloc else [])]


def run_probe(command, env):
    """Seconds from the child's start to its first step, and its JSON report (or an error)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    first_step_s, report = None, {}
    for line in proc.stdout:
        if line.startswith(FIRST_STEP) and first_step_s is None:
            first_step_s = time.perf_counter() - start
        elif line.startswith("{"):
            report = json.loads(line)
    err = proc.stderr.read()
    if proc.wait() != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1]}
    return {"first_step_s": first_step_s, **report}


def run_probes(args, model, torch_too):
    """Cold and warm probes of every symrnn backend for ``model``, then PyTorch's."""
    rows = []
    for backend in args.backend:
        with tempfile.TemporaryDirectory(prefix="symrnn-bench-") as cache:
            env = probe_env(cache)
            for state in ("cold", "warm"):
                result = run_probe(probe_command(args, model, f"symrnn-{backend}"), env)
                rows.append({"model": model, "impl": f"symrnn-{backend}", "cache": state, **result})
    if torch_too:
        result = run_probe(probe_command(args, model, "torch"), with_package_on_path(dict(os.environ)))
        rows.append({"model": model, "impl": "torch", "cache": "-", **result})
    return rows
