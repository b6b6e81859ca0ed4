"""The loop over time: ``pytensor.scan`` and a python-unrolled twin.

Both take the same arguments and return the same list of stacked outputs, so
a test can build one model both ways and compare forward and backward.
Sequences are time-major: ``[T, ...]``.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> xs = pt.vector("xs")
>>> total = lambda x_t, s_tm1: s_tm1 + x_t
>>> [sums] = scan_loop(total, [xs], [pt.constant(np.float64(0))], [])
>>> pytensor.function([xs], sums)(np.array([1.0, 2.0, 3.0])).tolist()
[1.0, 3.0, 6.0]
"""
import pytensor
import pytensor.tensor as pt

from ..errors import ConfigError


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def scan_loop(step, sequences, outputs_info, non_sequences=(), go_backwards=False,
              truncate_gradient=-1, n_steps=None, name=None):
    """Run ``step`` over time with ``pytensor.scan``.

    ``step`` receives ``(*sequences_t, *recurrent_tm1, *non_sequences)`` where
    recurrent entries are those of ``outputs_info`` that are not ``None``.
    ``strict=True`` makes a parameter missing from ``non_sequences`` an error
    instead of a silent closure.
    """
    outputs = pytensor.scan(
        step, sequences=_as_list(sequences), outputs_info=_as_list(outputs_info),
        non_sequences=_as_list(non_sequences), go_backwards=go_backwards,
        truncate_gradient=truncate_gradient, n_steps=n_steps, strict=True,
        return_updates=False, name=name)
    return _as_list(outputs)


def _static_length(sequences, n_steps):
    if n_steps is not None:
        return int(n_steps)
    lengths = {s.type.shape[0] for s in sequences}
    if len(lengths) != 1 or None in lengths:
        raise ConfigError("unrolled_loop needs the sequence length at graph-build "
                          "time: give the inputs a static shape or pass n_steps")
    return lengths.pop()


def unrolled_loop(step, sequences, outputs_info, non_sequences=(), go_backwards=False,
                  truncate_gradient=-1, n_steps=None, name=None):
    """The same loop written out step by step in python (one graph node per step).

    This is the "unrolled form" of the lesson; ``truncate_gradient`` is accepted
    for a matching signature but only ``-1`` (full BPTT) is supported here.
    """
    if truncate_gradient != -1:
        raise ConfigError("unrolled_loop does not truncate gradients; use scan_loop")
    sequences, outputs_info = _as_list(sequences), _as_list(outputs_info)
    steps = range(_static_length(sequences, n_steps))
    if go_backwards:
        steps = reversed(steps)
    state = [o for o in outputs_info if o is not None]
    stacked = [[] for _ in outputs_info]
    for t in steps:
        out_t = _as_list(step(*[s[t] for s in sequences], *state, *_as_list(non_sequences)))
        state = [o for o, info in zip(out_t, outputs_info) if info is not None]
        for acc, o in zip(stacked, out_t):
            acc.append(o)
    return [pt.stack(acc) for acc in stacked]


def loop(*args, unroll=False, **kwargs):
    """``scan_loop`` or, with ``unroll=True``, ``unrolled_loop``."""
    return (unrolled_loop if unroll else scan_loop)(*args, **kwargs)
