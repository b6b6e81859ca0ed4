"""Alternating rounds: every implementation runs in turn, A B C A B C ..., in one process.

A shared, noisy machine slows whatever runs during a burst of load; taking
turns spreads such bursts over every implementation, and rotating who goes
first each round keeps any one of them from always following the same
neighbour. Each round is sized to last about the same wall time per
implementation, and a rate is measured per round (median, min and max over
rounds are what the bench reports).

>>> class Sleeper:
...     name = "sleeper"
...     def run(self, n):
...         return n
>>> rates = alternate([Sleeper()], lambda impl: impl.run, per_step=10, repeats=3, target=0)
>>> len(rates["sleeper"]), summary([1.0, 3.0, 2.0])["median"]
(3, 2.0)
"""
import time

import numpy as np


def timed(fn, *args):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def steps_per_round(run, target):
    """Steps so that one round lasts about ``target`` seconds (at least 1)."""
    if target <= 0:
        return 1
    seconds, _ = timed(run, 1)
    return max(1, int(round(target / max(seconds, 1e-7))))


def alternate(impls, run_of, per_step, repeats, target):
    """``{name: [units per second, one per round]}``: ``run_of(impl)(n)`` runs ``n`` steps
    of ``per_step`` units each (characters), ``repeats`` rounds, rotating the order."""
    counts = {impl.name: steps_per_round(run_of(impl), target) for impl in impls}
    rates = {impl.name: [] for impl in impls}
    for r in range(repeats):
        for impl in impls[r % len(impls):] + impls[:r % len(impls)]:
            n = counts[impl.name]
            seconds, _ = timed(run_of(impl), n)
            rates[impl.name].append(n * per_step / seconds)
    return rates


def summary(rates):
    """Median, min and max of per-round rates."""
    return {"median": float(np.median(rates)), "min": float(np.min(rates)),
            "max": float(np.max(rates)), "rounds": len(rates)}


def ratio(a, b):
    """``a / b``, or None when either is missing."""
    return a / b if a is not None and b else None
