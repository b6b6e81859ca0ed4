"""Checkpoint files in a run directory: write atomically, keep two, load with checks.

A run directory holds ``ckpt-<step>.npz`` files written by
:func:`symrnn.io.save_arrays` (temporary file, fsync, ``os.replace``: a crash
leaves the old file or the new one, never half of one). After each write all
but the newest :data:`KEEP` are removed, so the latest and the previous one
survive. Shared variables are stored as arrays named ``<group>.<i>.<name>``;
a variable holding a numpy ``Generator`` (PyTensor's RNG variables) is stored
as its bit generator's state in the JSON metadata.

>>> import tempfile, numpy as np, pytensor
>>> run = tempfile.mkdtemp()
>>> w = pytensor.shared(np.arange(3.0), name="w")
>>> arrays, rngs = pack_variables("param", [w])
>>> path = save_checkpoint(run, 7, arrays, {"rng_states": rngs})
>>> arrays, meta, _ = load_checkpoint(run)
>>> meta["step"], sorted(arrays)
(7, ['param.0.w'])
"""
import os
import re
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..io import check_shapes, load_arrays, save_arrays

FORMAT = "symrnn-checkpoint"
# 2: the lesson model is made of layers (format 1's --model lesson weights cannot load)
# 3: where training is lives in meta["fit"] (symrnn.layers.backup); 2's trainer fields are read
VERSION = 3
KEEP = 2
_NAME = re.compile(r"^ckpt-(\d+)\.npz$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def checkpoint_path(run_dir, step):
    return Path(run_dir) / f"ckpt-{step:09d}.npz"


def list_checkpoints(run_dir):
    """Checkpoint paths in ``run_dir``, oldest step first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), run_dir / n) for n in os.listdir(run_dir) if (m := _NAME.match(n))]
    return [path for _, path in sorted(found)]


def save_checkpoint(run_dir, step, arrays, meta, keep=KEEP):
    """Write ``ckpt-<step>.npz`` atomically, then drop all but the newest ``keep``."""
    path = checkpoint_path(run_dir, step)
    save_arrays(path, arrays, {**meta, "format": FORMAT, "version": VERSION, "step": int(step)})
    prune_checkpoints(run_dir, keep, spare=path)
    return path


def prune_checkpoints(run_dir, keep=KEEP, spare=None):
    """Delete all but the newest ``keep`` checkpoints (never ``spare``, the one just written).

    A writer killed between its write and this leaves one extra file; a resumed run prunes
    before its first write, so a run directory never holds more than ``keep + 1``.
    """
    for old in list_checkpoints(run_dir)[:-keep]:
        if old != spare:
            old.unlink(missing_ok=True)


def remove_stale_temporaries(run_dir):
    """Delete half-written temporaries a killed writer left (never a finished checkpoint)."""
    for name in os.listdir(run_dir):
        if name.startswith(".tmp-") and name.endswith(".npz"):
            (Path(run_dir) / name).unlink(missing_ok=True)


def resolve(path):
    """A checkpoint file: ``path`` itself, or the newest one in a run directory."""
    path = Path(path)
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise CheckpointError(f"run directory {str(path)!r} holds no checkpoint (ckpt-*.npz); "
                                  "train into it first with: symrnn train --run-dir " + str(path))
        return found[-1]
    if not path.exists():
        raise CheckpointError(f"{str(path)!r} does not exist; pass a run directory or a ckpt-*.npz file")
    return path


def load_checkpoint(path):
    """``(arrays, meta, file)`` of the checkpoint at ``path`` (file or run directory).

    Refuses files that are truncated, corrupt, pickled or not symrnn
    checkpoints; when the newest file of a run directory is bad, the message
    names the previous one to try instead.
    """
    file = resolve(path)
    try:
        arrays, meta = load_arrays(file)
        if meta.get("format") != FORMAT or not isinstance(meta.get("step"), int):
            raise CheckpointError(f"{str(file)!r} is a symrnn file but not a training checkpoint "
                                  f"(format {meta.get('format')!r}); was it saved by another tool?")
        version = meta.get("version")
        if not isinstance(version, int) or not 1 <= version <= VERSION:
            raise CheckpointError(f"{str(file)!r} is checkpoint format version {version!r}; this "
                                  f"symrnn reads versions 1 to {VERSION}: load it with the (newer) "
                                  "symrnn that wrote it")
    except CheckpointError as err:
        older = [p for p in list_checkpoints(file.parent) if p != file]
        hint = f"; the previous checkpoint {str(older[-1])!r} may be intact: pass it instead" if older else ""
        raise CheckpointError(f"{err}{hint}") from None
    return arrays, _upgraded(meta), file


def _upgraded(meta):
    """Format 2's training position (written by the old trainer) in format 3's terms."""
    if meta["version"] >= 3 or "fit" in meta or "position" not in meta:
        return meta
    trainer = meta.get("trainer", {})
    heldout = meta.get("heldout") or []
    return {**meta, "fit": {"epoch": meta.get("epoch"), "batch": meta.get("position"),
                            "step": meta["step"], "epoch_rng_state": meta.get("epoch_rng_state"),
                            "steps": trainer.get("n_batches"), "batch_size": trainer.get("batch_size")},
            "history": {"epoch": [int(e) - 1 for _, e, _ in heldout],
                        "step": [s for s, _, _ in heldout],
                        "heldout_loss": [n for _, _, n in heldout]}}


def _key(group, i, var):
    return f"{group}.{i}.{var.name or 'unnamed'}"


def _is_rng(value):
    return isinstance(value, np.random.Generator)


def pack_variables(group, variables):
    """Copies of the variables' values: ``(arrays, rng_states)`` for a checkpoint."""
    arrays, rng_states = {}, {}
    for i, var in enumerate(variables):
        value = var.get_value(borrow=True)
        if _is_rng(value):
            rng_states[_key(group, i, var)] = value.bit_generator.state
        else:
            arrays[_key(group, i, var)] = np.array(value)
    return arrays, rng_states


def _generator_from_state(state, key, file):
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise CheckpointError(f"{file}: RNG state {key!r} names bit generator {name!r}; "
                              "the checkpoint is corrupt or from another tool")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{file}: RNG state {key!r} is corrupt ({err})") from None
    return np.random.Generator(bit_generator)


_AUTO_NUMBER = re.compile(r"_\d+(?=\.)")   # "dense_3.W" -> "dense.W"


def _by_expected_names(saved, expected):
    """``saved`` (name -> value) under the ``expected`` names: a saved name that differs only
    in a layer's automatic number (``dense_3`` in one process, ``dense_7`` in the next)
    stands for the expected one, so a model rebuilt by the same code matches."""
    plain = {_AUTO_NUMBER.sub("", k): k for k in saved}
    renamed = {}
    for name in expected:
        if name in saved:
            renamed[name] = saved[name]
        elif plain.get(_AUTO_NUMBER.sub("", name)) is not None:
            renamed[name] = saved[plain[_AUTO_NUMBER.sub("", name)]]
    taken = {id(v) for v in renamed.values()}
    renamed.update((k, v) for k, v in saved.items() if id(v) not in taken and k not in renamed)
    return renamed


def _check_group(group, variables, arrays, rng_states, file):
    """Validate one group; returns the values to set, in order."""
    plain = {i for i, v in enumerate(variables) if not _is_rng(v.get_value(borrow=True))}
    expected = {_key(group, i, v): v.get_value(borrow=True).shape for i, v in enumerate(variables) if i in plain}
    mine = _by_expected_names({k: a for k, a in arrays.items() if k.startswith(group + ".")}, expected)
    rng_states = _by_expected_names(rng_states, [_key(group, i, v) for i, v in enumerate(variables)])
    check_shapes(expected, mine, str(file))
    values = []
    for i, var in enumerate(variables):
        key = _key(group, i, var)
        if i in plain:
            want = var.get_value(borrow=True).dtype
            if mine[key].dtype != want:
                raise CheckpointError(f"{file}: {key} has dtype {mine[key].dtype}, this model uses {want}; "
                                      "build the model with the saved configuration")
            values.append(np.array(mine[key]))
        elif key not in rng_states:
            raise CheckpointError(f"{file}: RNG state {key!r} is missing; was it saved from another model?")
        else:
            values.append(_generator_from_state(rng_states[key], key, file))
    return values


def check_variables(groups, arrays, rng_states, file="<checkpoint>"):
    """Raise a CheckpointError unless every variable of ``groups`` has a value in the
    checkpoint of its name, shape and dtype; changes nothing."""
    for group, variables in groups.items():
        _check_group(group, variables, arrays, rng_states, file)


def restore_variables(groups, arrays, rng_states, file="<checkpoint>"):
    """Set shared variables from checkpoint arrays after checking every name, shape and dtype.

    ``groups`` maps a group name to its variables (as given to
    :func:`pack_variables`). Nothing is set unless every group matches, so a
    refused checkpoint leaves the model as it was.
    """
    checked = [(variables, _check_group(group, variables, arrays, rng_states, file))
               for group, variables in groups.items()]
    for variables, values in checked:
        for var, value in zip(variables, values):
            var.set_value(value)
