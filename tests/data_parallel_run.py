"""Run by tests/graph/test_jax.py in a fresh process with two XLA host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``, which must be set before
jax is imported): one model trained on one device and on two, what reached the
compiled function, and the refusals. Prints one JSON object.

Run it by hand (from the repository root) to time one device against two:
``XLA_FLAGS=--xla_force_host_platform_device_count=2 python tests/data_parallel_run.py 64 40 256 20``
(batch, steps per window, hidden units, steps).
"""
import json
import sys
import time

import jax
import numpy as np

from symrnn.errors import ConfigError
from symrnn.layers import fitting
from symrnn.layers.charmodels import compiled_char_model

V = 11


def build(hidden, seq_len):
    config = dict(model="simplernn", hidden=hidden, seq_len=seq_len, dtype="float32", seed=1)
    return compiled_char_model(V, config, backend="jax")


def train(devices, batches, hidden, seq_len):
    """Per-step losses (one fit call per batch), final weights, seconds per step after the first."""
    model, losses = build(hidden, seq_len), []
    for i, (x, y) in enumerate(batches):
        if i == 1:
            start = time.perf_counter()
        history = model.fit(x, y, batch_size=len(x), shuffle=False, verbose=0, devices=devices)
        losses.append(history.history["loss"][0])
    per_step = (time.perf_counter() - start) / max(len(batches) - 1, 1)
    return model, losses, [np.asarray(w) for w in model.get_weights()], per_step


def sharding_report(model, x, y):
    """What one more 2-device step hands the jitted function: each argument's sharding and the
    rows each device holds, and the input shardings XLA compiled the step for."""
    compiled = fitting.train_fn(model).function_for(x, y.astype("int64"))
    compiled.vm.allow_gc = False        # keep the arguments in the thunk's input storage
    model.fit(x, y, batch_size=len(x), shuffle=False, verbose=0, devices=2)
    args = [cell[0] for cell in compiled.vm.inputs]
    xla = compiled.vm.jit_fn.lower(*args).compile().input_shardings[0]
    return [{"spec": str(a.sharding.spec), "replicated": a.sharding.is_fully_replicated,
             "rows": sorted((s.device.id, s.data.shape[0] if s.data.ndim else None)
                            for s in a.addressable_shards),
             "compiled_spec": str(getattr(c, "spec", c))}
            for a, c in zip(args, xla)]


def refusals(model, x, y):
    found = {}
    for name, kwargs in {"three devices": dict(devices=3, batch_size=len(x)),
                         "odd batch": dict(devices=2, batch_size=3),
                         "odd last batch": dict(devices=2, batch_size=4)}.items():
        rows = slice(0, 7) if name == "odd last batch" else slice(None)
        try:
            model.fit(x[rows], y[rows], shuffle=False, verbose=0, **kwargs)
            found[name] = None
        except ConfigError as err:
            found[name] = str(err)
    return found


def main(batch=8, seq_len=5, hidden=8, steps=20):
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, V, (batch, seq_len)).astype("int32"),
                rng.integers(0, V, (batch, seq_len))) for _ in range(steps)]
    _, one, w_one, t_one = train(None, batches, hidden, seq_len)
    model, two, w_two, t_two = train(2, batches, hidden, seq_len)
    x, y = batches[0]
    print(json.dumps({
        "devices": [str(d) for d in jax.devices()],
        "losses": [one, two], "seconds_per_step": [t_one, t_two],
        "weight_diff": max(float(np.max(np.abs(a - b) / (np.abs(b) + 1e-6)))
                           for a, b in zip(w_one, w_two)),
        "weight_abs_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w_one, w_two)),
        "weights_replicated": all(w.sharding.is_fully_replicated and len(w.sharding.device_set) == 2
                                  for w in (p.get_value(borrow=True) for p in model.params)),
        "arguments": sharding_report(model, x, y),
        "refusals": refusals(model, x, y),
    }))


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
