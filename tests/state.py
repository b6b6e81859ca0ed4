"""Snapshots of everything a refused call must leave alone, compared bit for bit."""
import numpy as np


def _value_bytes(var):
    value = var.get_value(borrow=True)
    if isinstance(value, np.random.Generator):       # layers' dropout RNGs
        return repr(value.bit_generator.state)
    value = np.asarray(value)
    return (value.dtype.str, value.shape, value.tobytes())


def shared_variables(model):
    """Weights, optimizer accumulators and lr, layer RNGs, stateful states and every shared
    variable a compiled function of the model reads or updates."""
    found = list(model.params)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        found += list(optimizer.accumulators)
        if optimizer._lr_var is not None:
            found.append(optimizer._lr_var)
    for layer in model.layers:
        found += [v for v in (getattr(layer, "rng_var", None),) if v is not None]
        found += list(getattr(layer, "states", []))
    for fn in model._functions.values():
        found += list(fn.get_shared())
    return list({id(v): v for v in found}.values())


def snapshot(model):
    """``{variable name#id: value bytes}`` plus the model's history and its contents."""
    state = {f"{v.name}#{id(v)}": _value_bytes(v) for v in shared_variables(model)}
    history = getattr(model, "history", None)
    state["history"] = (id(history), repr(getattr(history, "history", None)),
                        repr(getattr(history, "epoch", None)))
    return state


def changed(before, after):
    """Names of the entries that differ (an empty list: bit-identical)."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
