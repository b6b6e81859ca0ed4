"""``symrnn bench``: the models users train, timed against PyTorch and numpy in one process.

For every model asked for (``--model lesson simplernn gru lstm``, or
``--cell simple gru lstm``; default ``simplernn gru lstm``, one per cell),
built exactly as ``symrnn train --model NAME --optimizer sgd`` builds it
(:mod:`symrnn.bench.spec`), and the same model in PyTorch eager
(:mod:`symrnn.bench.torch_twins`) and by hand in numpy
(:mod:`symrnn.bench.numpy_twins`), all three starting from symrnn's initial
weights, it measures, alternating the implementations (A B C A B C ...,
rotating who goes first; :mod:`symrnn.bench.timing`):

- training characters/s (forward + backward + SGD) for every ``--seq`` x
  ``--batch`` pair, with ratios to PyTorch and numpy and the fraction of the
  FLOP bound (:mod:`symrnn.bench.flops`);
- where symrnn's training step spends its time, case by case
  (:mod:`symrnn.bench.stepprofile`): PyTensor's per-op profile of a few steps, in
  ms per step and % of the step for the recurrence ops, the GEMMs, the loss ops
  and the rest (its top op types), the profiled step beside the timed one
  (``--no-step-profile`` leaves it out; ``--quick`` profiles the largest case);
- generation characters/s, greedy with the state carried: one character per
  call (symrnn's ``Generator.feed``, and the PyTorch and numpy loops) and
  ``n`` per call (``Generator.sample_ids``, a round in one compiled call;
  checked to draw the per-call loop's characters, greedy and with a fixed
  noise sequence);
- in-process build + first-call seconds, and compile probes
  (:mod:`symrnn.bench.probes`): cold and warm caches, peak memory.

``--main-job`` times ``symrnn train`` itself instead (:mod:`symrnn.bench.mainjob`), and
``--masked`` masked variable-length training against PyTorch's packed sequences
(:mod:`symrnn.bench.masked`: its own table, and the JSON's ``masked`` key).

PyTorch is optional: without it its rows are left out. A symrnn backend that
fails (``--backend jax`` without jax, say) is reported as a failed row. Set
the BLAS threads before starting (``python -m symrnn.bench`` defaults them to
1, as ``symrnn train`` does); PyTorch gets the same number.

A smoke run::

    python -m symrnn.bench --quick --backend py --vocab 11 --hidden 7 --embed 3 --seq 3 --batch 2
"""
import json
import os
import platform
import sys

import numpy as np
import pytensor

from ..runtime import keep_freed_memory
from . import learning, mainjob
from .compiletable import print_compile_tables
from .flops import flop_bound
from .impls import (
    NumpyImpl,
    SymrnnPerCall,
    SymrnnSampler,
    SymrnnTrainer,
    TorchImpl,
    failure,
    initial_weights,
    sampler_matches_per_call,
)
from .masked import profile_masked, run_masked
from .options import parse_args
from .probes import batch_ids, probe_main, run_probes
from .report import print_header, print_masked, print_model, print_probes
from .stepprofile import STEPS, WARMUP, print_profile
from .timing import alternate, ratio, summary, timed
from .torch_twins import TORCH_PIN, load_torch


def blas_threads():
    """BLAS threads numpy uses: the usual variables, else all cores (OpenBLAS' default)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


# ------------------------------------------------------------------- training

def start_case(live, symrnn, x, y, first_steps, failures):
    """Give every implementation this batch; time the first step of each new window length;
    return those ready to run it. A symrnn backend that fails sits this case out with a
    failed row (JAX on a batch of one row, say) and tries the next; anything else is a bug."""
    seq, ready = x.shape[1], []
    for impl in live:
        try:
            seconds, _ = timed(impl.prepare, x, y)
            times = first_steps.setdefault(impl.name, {})
            if f"T={seq}" not in times:
                times[f"T={seq}"] = seconds + timed(impl.train, 1)[0]
            ready.append(impl)
        except Exception as err:   # noqa: BLE001 (a backend's own error, reported as a row)
            if impl not in symrnn:
                raise
            failures.append(failure(impl, f"training T={seq} B={x.shape[0]}", err))
    return ready


def train_rows(rates, bound, batch, seq):
    medians = {name: float(np.median(r)) for name, r in rates.items()}
    rows = []
    for name, r in rates.items():
        s = summary(r)
        rows.append({"seq": seq, "batch": batch, "impl": name, **s,
                     "x_torch": ratio(s["median"], medians.get("torch")),
                     "x_numpy": ratio(s["median"], medians.get("numpy")),
                     "frac_bound": s["median"] / bound["chars_per_s"]})
    return rows


def run_training(args, model, live, symrnn, failures):
    rows, bounds, first_steps, profiles, ran = [], [], {}, [], set()
    for seq in args.seq:
        for batch in args.batch:
            x, y = batch_ids(args.vocab, batch, seq, args.seed)
            ready = start_case(live, symrnn, x, y, first_steps, failures)
            ran.update(ready)
            bound = {"seq": seq, "batch": batch, **flop_bound(
                model, args.vocab, args.hidden, args.embed, batch, seq, args.dtype)}
            rates = alternate(ready, lambda impl: impl.train, batch * seq, args.repeats,
                              args.round_seconds) if ready else {}
            rows += train_rows(rates, bound, batch, seq)
            bounds.append(bound)
            if profiles_case(args, seq, batch):
                profiles += step_profiles(args, [i for i in symrnn if i in ready], rows, seq, batch)
    live[:] = [impl for impl in live if impl in ran]   # one that never trained cannot generate
    return rows, bounds, first_steps, profiles


def profiles_case(args, seq, batch):
    """Whether the step of this case is profiled: every case, --quick the largest only,
    --no-step-profile none."""
    largest = seq == max(args.seq) and batch == max(args.batch)
    return args.step_profile and (largest or not args.quick)


def step_profiles(args, trainers, rows, seq, batch):
    """Where a step of each symrnn trainer spends its time on this case's batch
    (:mod:`symrnn.bench.stepprofile`), beside its timed step (``timed_ms``: from the median
    rate of its rounds; ``timed_min_ms``: from the fastest) and what profiling took
    (``profile_s``: on Numba, compiling each node on its own the first time a ``T`` is
    profiled); a trainer that cannot be profiled gets a row with the ``error``."""
    steps, warmup = (2, 1) if args.quick else (STEPS, WARMUP)
    out = []
    for trainer in trainers:
        rates = next(r for r in rows
                     if (r["impl"], r["seq"], r["batch"]) == (trainer.name, seq, batch))
        row = {"seq": seq, "batch": batch, "impl": trainer.name,
               "timed_ms": 1e3 * batch * seq / rates["median"],
               "timed_min_ms": 1e3 * batch * seq / rates["max"]}
        try:
            seconds, profile = timed(trainer.step_profile, steps, warmup)
            row.update(profile, profile_s=seconds)
        except Exception as err:   # noqa: BLE001 (a backend's own error, reported in the row)
            row["error"] = failure(trainer, "step profile", err)["error"]
        out.append(row)
    return out


# ----------------------------------------------------------------- generation

def symrnn_generators(args, trainers, first_steps, failures):
    """Per-call and n-per-call generators of every working symrnn backend, compiled and
    checked: ``{sampler name: whether it draws the per-call loop's characters}``."""
    impls, same = [], {}
    for trainer in trainers:
        try:
            seconds, gen = timed(trainer.generator)
            pair = [SymrnnPerCall(gen, trainer.backend), SymrnnSampler(gen, trainer.backend)]
            for impl in pair:
                first_steps[impl.name] = {"build + 2 chars": seconds + timed(impl.generate, 2)[0]}
                seconds = 0.0   # the Generator's build counts once, with the per-call step
            same[pair[1].name] = sampler_matches_per_call(gen, args.gen_chars, seed=args.seed)
            impls += pair
        except Exception as err:   # noqa: BLE001 (a backend's own error, reported as a row)
            failures.append(failure(trainer, "generation", err))
    return impls, same


def run_generation(args, trainers, others, first_steps, failures):
    impls, same = symrnn_generators(args, trainers, first_steps, failures)
    impls += others
    for impl in others:
        impl.generate(2)   # warm up
    # every round generates --gen-chars characters from zero states (an untrained relu
    # IRNN's state grows without bound over thousands of steps)
    rates = alternate(impls, lambda impl: (lambda n: impl.generate(args.gen_chars)),
                      args.gen_chars, 3 * args.repeats, 0)
    medians = {name: float(np.median(r)) for name, r in rates.items()}
    return [{"impl": name, **summary(r), "x_torch": ratio(medians[name], medians.get("torch")),
             "x_numpy": ratio(medians[name], medians.get("numpy")), "same_chars": same.get(name)}
            for name, r in rates.items()]


# ----------------------------------------------------------------------- main

def run_model(args, model, torch):
    """Every row of one model: training, FLOP bounds, generation, first calls, failures."""
    weights = initial_weights(model, args.vocab, args.hidden, args.embed, args.dtype)
    symrnn = [SymrnnTrainer(model, args.vocab, args.hidden, args.embed, args.dtype, backend)
              for backend in args.backend]
    others = [NumpyImpl(model, weights)] + ([TorchImpl(torch, model, weights)] if torch else [])
    live, failures = symrnn + others, []
    train, bounds, first_steps, profiles = run_training(args, model, live, symrnn, failures)
    working = [impl for impl in symrnn if impl in live]
    generate = run_generation(args, working, others, first_steps, failures)
    sizes = {k: getattr(args, k) for k in ("vocab", "embed", "hidden", "dtype")}
    return {"model": model, "sizes": sizes, "train": train, "bounds": bounds, "generate": generate,
            "first_step_s": first_steps, "failures": failures, "step_profile": profiles}


def machine_info(args, torch):
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "numpy": np.__version__,
            "pytensor": pytensor.__version__, "threads": blas_threads(),
            "torch": torch.__version__ if torch else None,
            "torch_threads": torch.get_num_threads() if torch else None,
            "malloc_keeps_freed_memory": args.kept_freed_memory}


def profile_train(args, steps=30):
    """PyTensor's op-level profile of the first model's training function (largest case)."""
    trainer = SymrnnTrainer(args.models[0], args.vocab, args.hidden, args.embed, args.dtype,
                            args.backend[0])
    trainer.prepare(*batch_ids(args.vocab, max(args.batch), max(args.seq), args.seed))
    print_profile(trainer, steps)
    return 0


def main(argv=None):
    args = parse_args(argv)
    args.kept_freed_memory = False if args.system_malloc else keep_freed_memory()
    if args.probe:
        return probe_main(args)
    if args.main_job:
        return mainjob.main()
    if args.learning:
        learning.main(args)
        return 0
    if args.profile:
        return profile_masked(args) if args.masked else profile_train(args)
    torch = None if args.no_torch else load_torch()
    if torch is None and not args.no_torch:
        print(f"PyTorch not installed: its rows are left out (pip install {TORCH_PIN})")
    if torch is not None:
        torch.set_num_threads(blas_threads())
    info = machine_info(args, torch)
    print_header(info)
    if args.masked:
        masked = run_masked(args, torch)
        print_masked(masked)
        if args.json:
            write_json(args, {"machine": info, "masked": masked})
        return 0
    models = []
    for model in args.models:
        models.append(run_model(args, model, torch))
        print_model(models[-1])
        sys.stdout.flush()
    probes = []
    if args.probes:
        for model in args.models:
            probes += run_probes(args, model, torch_too=torch is not None)
        print_probes(probes)
        print_compile_tables(probes)
    if args.json:
        write_json(args, {"machine": info, "models": models, "probes": probes})
    return 0


def write_json(args, results):
    config = {k: v for k, v in vars(args).items() if k != "probe"}
    with open(args.json, "w") as f:
        json.dump({"config": config, **results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
