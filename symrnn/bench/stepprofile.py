"""Where one training step's time goes: PyTensor's per-op profile of the compiled step, grouped.

``symrnn bench`` prints it beside the training rates (``--no-step-profile`` leaves it out)
and ``--profile`` prints PyTensor's own report of the same profile:

- :func:`profiled_copy`: the compiled function linked again with PyTensor's profiler on
  (a :class:`pytensor.compile.ProfileStats` of its own), sharing the function's rewritten
  graph (nothing is rewritten again) and its weights. PyTensor's Numba linker compiles the
  whole graph into one function, which a profiler sees as one node; the copy compiles each
  node on its own instead (:class:`NodewiseNumbaLinker`) and PyTensor's virtual machine
  runs and times them in turn. The other backends' machines run node by node already.
- :func:`profile_steps`: warm-up calls (Numba compiles each node at its first call), then
  ``steps`` profiled calls; per node, the median over them.
- :func:`breakdown`: seconds per op type into the groups of :data:`GROUPS` (class-name
  prefixes) and the rest; the groups sum to the total.

The profiled step runs the same code per node as the timed one; what it adds is the VM's
own work between nodes, outside the nodes' times (``call_ms`` counts it), and what Numba
no longer optimises across nodes. The bench prints the sum of the nodes' times beside
the step it timed without the profiler, so that the difference shows. Measured on an
idle moment of a 2-core machine, one BLAS thread, ``--cell lstm`` (H=256, T=40, B=64,
float32), steps alternating: 68-75 ms timed, 68-71 ms summed over the nodes, 69-71 ms
per profiled call; on a loaded machine any of the three can stray by tens of percent.

>>> seconds = {"Recurrence": 3e-3, "RecurrenceGrad": 5e-3, "BlasDot": 1.5e-3,
...            "SparseSoftmaxXent": 2e-4, "SparseSoftmaxXentGrad": 1e-4,
...            "Elemwise": 1.5e-4, "AdvancedIncSubtensor1": 5e-5}
>>> b = breakdown(seconds)
>>> {name: round(group["ms"], 2) for name, group in b["groups"].items()}
{'recurrence': 8.0, 'gemm': 1.5, 'loss': 0.3, 'rest': 0.2}
>>> round(b["total_ms"], 2), round(b["groups"]["recurrence"]["frac"], 2)
(10.0, 0.8)
>>> list(b["groups"]["rest"]["ops"])
['Elemwise', 'AdvancedIncSubtensor1']
>>> group_of("Dot22Scalar"), group_of("SoftmaxXentGrad"), group_of("DeepCopyOp")
('gemm', 'loss', 'rest')
"""
import sys
import time
from collections import defaultdict

import numpy as np
from pytensor.compile import ProfileStats
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.link.basic import JITLinker
from pytensor.link.vm import VMLinker

from .. import compat
from .report import print_step_profiles

#: The named groups, by the prefix of an op's class name; every other op is ``rest``.
#: recurrence: the recurrence ops, Recurrence forward and RecurrenceGrad backward
#: (symrnn.graph.recurrence; the backends without their kernels run them as Scan loops);
#: gemm: the matrix products (symrnn's BlasDot on Numba; PyTensor's Dot, Gemm, Gemv, Ger);
#: loss: the softmax cross-entropy ops (symrnn.graph.losses: SparseSoftmaxXent and its
#: gradient, SoftmaxXent...; expanded elsewhere, where PyTensor's softmax ops count and
#: the elementwise rest of the expansion is in ``rest``).
GROUPS = {
    "recurrence": ("Recurrence", "Scan"),
    "gemm": ("BlasDot", "Dot", "Gemm", "Gemv", "Ger", "CGemv", "CGer", "BatchedDot"),
    "loss": ("SparseSoftmaxXent", "SoftmaxXent", "Softmax", "LogSoftmax", "Crossentropy"),
}
REST = "rest"
#: Profiled calls after the warm-up, and warm-up calls, of one step profile.
STEPS, WARMUP = 5, 2


def group_of(op_name):
    """The group of an op type (its class name): a key of :data:`GROUPS`, or ``rest``."""
    for group, prefixes in GROUPS.items():
        if op_name.startswith(prefixes):
            return group
    return REST


def breakdown(op_seconds):
    """``{"total_ms", "groups"}`` of seconds per step by op type: for each group (all of
    :data:`GROUPS` and ``rest``, in that order) its ``ms``, its ``frac`` of the total and
    its ``ops`` (ms per op type, largest first)."""
    total = sum(op_seconds.values())
    groups = {name: {"ms": 0.0, "frac": 0.0, "ops": {}} for name in (*GROUPS, REST)}
    for op, seconds in sorted(op_seconds.items(), key=lambda item: -item[1]):
        group = groups[group_of(op)]
        group["ms"] += 1e3 * seconds
        group["ops"][op] = 1e3 * seconds
    for group in groups.values():
        group["frac"] = group["ms"] / (1e3 * total) if total > 0 else 0.0
    return {"total_ms": 1e3 * total, "groups": groups}


# ------------------------------------------------------------------- profiling

class NodewiseNumbaLinker(VMLinker):
    """PyTensor's Python VM running every node as a Numba function of its own, so that
    a profile times each node (the Numba linker compiles the whole graph into one). Each
    node's function is PyTensor's Numba conversion of a graph holding that node alone, so
    it runs the same code as in the whole graph (and caches on disk the same way)."""

    def make_all(self, profiler=None, input_storage=None, output_storage=None,
                 storage_map=None):
        # The VM and its storage as for Python thunks (made, never called), then each
        # thunk replaced by its node's Numba function on the same storage cells.
        vm, inputs, outputs, thunks, order = super().make_all(
            profiler, input_storage, output_storage, storage_map)
        for i, node in enumerate(order):
            thunk = numba_node_thunk(node, vm.storage_map)
            thunk.inputs, thunk.outputs, thunk.lazy = thunks[i].inputs, thunks[i].outputs, False
            thunks[i] = vm.thunks[i] = thunk
        return vm, inputs, outputs, thunks, order


def numba_node_thunk(node, storage_map):
    """A thunk running ``node`` alone as a Numba function, reading and writing ``storage_map``."""
    inputs = [v for v in dict.fromkeys(node.inputs) if not isinstance(v, Constant)]
    graph = FunctionGraph(inputs, node.outputs, clone=True)
    run, graph_inputs, graph_outputs, _, _ = compat.NumbaLinker().accept(graph).make_all()
    pairs_in = [(storage_map[v], c.storage) for v, c in zip(inputs, graph_inputs, strict=True)]
    pairs_out = [(c.storage, storage_map[v])
                 for v, c in zip(node.outputs, graph_outputs, strict=True)]

    def thunk():
        for source, target in pairs_in:
            target[0] = source[0]
        run()
        for source, target in pairs_out:
            target[0] = source[0]
            source[0] = None
    return thunk


def profiled_copy(fn, message="symrnn step profile"):
    """A copy of the compiled ``fn`` with a profile of its own (see the module docstring);
    its ``profile`` is the :class:`pytensor.compile.ProfileStats`. NotImplementedError for
    a function no PyTensor virtual machine runs (JAX's)."""
    maker = getattr(fn, "maker", None)
    linker = getattr(maker, "linker", None)
    if isinstance(linker, compat.NumbaLinker):
        mode = Mode(linker=NodewiseNumbaLinker(use_cloop=False, c_thunks=False), optimizer=None)
    elif isinstance(linker, VMLinker):
        mode = maker.mode
    else:
        kind = type(linker).__name__ if isinstance(linker, JITLinker) else type(fn).__name__
        raise NotImplementedError(f"no per-op profile of a {kind} function (PyTensor's "
                                  "profiler times the nodes its virtual machine runs)")
    stats = ProfileStats(atexit_print=False, message=message)
    linked_by = maker.mode
    maker.mode = mode   # what Function.copy links the copy with; put back at once
    try:
        return fn.copy(profile=stats, name=message)
    finally:
        maker.mode = linked_by


def profile_steps(fn, args, steps=STEPS, warmup=WARMUP):
    """Call the profiled copy ``fn`` (:func:`profiled_copy`) on ``args``: ``warmup`` calls,
    then ``steps`` profiled ones (``fn.profile`` holds those). Returns :func:`breakdown` of
    each node's median seconds over the profiled calls, with ``steps``, ``nodes`` and
    ``call_ms`` (the median profiled call, the VM's own work included)."""
    for _ in range(warmup):
        fn(*args)
    profile = fn.profile
    profile.reset()
    calls, walls, before = [], [], {}
    for _ in range(steps):
        start = time.perf_counter()
        fn(*args)
        walls.append(time.perf_counter() - start)
        now = dict(profile.apply_time)
        calls.append({key: seconds - before.get(key, 0.0) for key, seconds in now.items()})
        before = now
    op_seconds = defaultdict(float)
    for key in before:
        _, node = key
        op_seconds[type(node.op).__name__] += float(np.median([c.get(key, 0.0) for c in calls]))
    return {"steps": steps, "nodes": len(before), "call_ms": 1e3 * float(np.median(walls)),
            **breakdown(op_seconds)}


def print_profile(trainer, steps=30):
    """``--profile``: PyTensor's report of ``steps`` profiled training steps of ``trainer``
    (a :class:`symrnn.bench.impls.SymrnnTrainer`, prepared) and the same grouped, beside
    as many steps timed one by one without the profiler (their median and the fastest)."""
    row = {"seq": trainer.x.shape[1], "batch": len(trainer.x), "impl": trainer.name,
           **trainer.step_profile(steps)}
    trainer.train(WARMUP)
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.train(1)
        seconds.append(time.perf_counter() - start)
    row["timed_ms"], row["timed_min_ms"] = 1e3 * float(np.median(seconds)), 1e3 * min(seconds)
    trainer.profiled_fn().profile.summary(file=sys.stdout, n_ops_to_print=15, n_apply_to_print=15)
    print_step_profiles([row])
    return row
