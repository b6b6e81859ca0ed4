"""Compile a graph's kernel bodies in a helper process while the graph's own function compiles.

A cold Numba compile of a training function types its graph node by node, and
compiles each node's code on the way; the recurrence kernels' bodies are the
biggest of it. A body's argument types are known before that typing starts
(:mod:`.bodies`), so when :func:`symrnn.graph.backend.compile_function` has
built a Numba function, :func:`start` hands the bodies its graph uses, and that
are not on disk yet, to a helper process (``python -m
symrnn.graph.numba.precompile``). The helper compiles them, in the graph's
order (but see :func:`helper_order`), into PyTensor's on-disk Numba cache.
When the function's own compile reaches a kernel, Numba finds the body there
and loads it instead of compiling it, if the helper got there first; if not, it compiles it itself, as without a
helper: that costs time, never a result.

The helper runs at a lower priority, prints nothing and writes nothing but the
cache; it exits when done (a few seconds), so nothing waits for it. It starts
only on two or more usable cores, and ``SYMRNN_COMPILE_AHEAD=0`` turns it off
(:func:`symrnn.runtime.compile_ahead_wanted`).

>>> import pytensor.tensor as pt
>>> from pytensor.graph.fg import FunctionGraph
>>> from symrnn.graph.recurrence import recurrence
>>> xw, h0, W_h = pt.tensor3("xw"), pt.matrix("h0"), pt.matrix("W_h")
>>> [hs] = recurrence("simple", xw, [h0], W_h, act="tanh")
>>> hs.dtype
'float64'
>>> specs(FunctionGraph([xw, h0, W_h], [hs], clone=False))
[['forward', ['simple', 'tanh', None, False, False, 'float64']]]
"""
import json
import sys

from ...runtime import compile_ahead_wanted, lower_priority, start_helper
from ..lookup import LookupProjection, LookupProjectionGrad
from ..losses import (
    SoftmaxXent,
    SoftmaxXentGrad,
    SparseSoftmaxXent,
    SparseSoftmaxXentGrad,
)
from ..recurrence import Recurrence, RecurrenceGrad
from . import blas_dot, bodies, direct_gemm, xent
from .blas_dot import BlasDot
from .dispatch import enable, ids_node_dtypes, kernel_dtype

# The helpers started, kept (and reaped once done) so that none is left a zombie.
_helpers = []
# The ops that take integer ids (input 1, :func:`.dispatch.ids_node_dtypes`), by the kind
# of body each runs.
IDS_KINDS = {SparseSoftmaxXent: "xent_forward", SparseSoftmaxXentGrad: "xent_backward",
             LookupProjection: "lookup_forward", LookupProjectionGrad: "lookup_backward"}


def specs(fgraph):
    """``[kind, config]`` of each kernel body ``fgraph``'s nodes run, in the graph's order
    (JSON-able: :func:`body_for` builds the body)."""
    found = []
    for node in fgraph.toposort():
        spec = _spec(node)
        if spec is not None and spec not in found:
            found.append(spec)
    return found


def _spec(node):
    """``[kind, config]`` of the body ``node`` runs on its kernel, or None (no kernel, or a
    node that runs its inner graph: :mod:`.dispatch` decides so by the same dtypes)."""
    op = node.op
    if isinstance(op, BlasDot):
        return ["blas_dot", [node.outputs[0].type.dtype]]
    if isinstance(op, (Recurrence, RecurrenceGrad)):
        dtype = kernel_dtype(node)
        config = [op.cell, op.act, op.inner_act, op.has_mask, op.has_step_mask]
        if isinstance(op, RecurrenceGrad):
            kind, config = "backward", [*config, op.grad_clip, op.truncate_gradient, dtype]
        else:
            kind, config = "forward", [*config, dtype]
    elif type(op) in IDS_KINDS:
        dtype, ids_dtype = ids_node_dtypes(node, ids_at=1)
        kind, config = IDS_KINDS[type(op)], [dtype, ids_dtype]
    elif isinstance(op, (SoftmaxXent, SoftmaxXentGrad)):
        dtype = kernel_dtype(node)
        kind = "onehot_backward" if isinstance(op, SoftmaxXentGrad) else "onehot_forward"
        config = [dtype]
    else:
        return None
    return None if dtype is None else [kind, config]


# The lookup projection's bodies: its forward is a graph's first kernel, which the graph's
# own compile reaches before a helper has started up, and its gradient the last.
LAST_KINDS = ("lookup_forward", "lookup_backward")


def helper_order(body_specs):
    """``body_specs`` in the order the helper compiles them: the graph's, but the lookup
    projection's last. The graph's compile reaches an embedding's lookup within a second,
    sooner than a helper process can start up and compile it; taken first, the helper
    would reach the recurrence's bodies (seconds each) too late for the graph's compile
    (measured: the LSTM's forward body then compiled in the run, not loaded)."""
    return sorted(body_specs, key=lambda spec: spec[0] in LAST_KINDS)


def body_for(kind, config):
    """The :class:`~.bodies.Body` a spec (:func:`specs`) names."""
    from . import kernels, lookup  # import Numba: only a helper, or a Numba compile, loads them
    builders = {"blas_dot": blas_dot.body,
                "forward": kernels.forward_body, "backward": kernels.backward_body,
                "xent_forward": xent.forward_body, "xent_backward": xent.backward_body,
                "onehot_forward": xent.onehot_forward_body,
                "onehot_backward": xent.onehot_backward_body,
                "lookup_forward": lookup.forward_body, "lookup_backward": lookup.backward_body}
    return builders[kind](*config)


def start(fgraph):
    """Start the helper for the bodies of ``fgraph`` that are not on disk yet; the helper's
    ``subprocess.Popen``, or None where there is nothing to do or it would not help."""
    _helpers[:] = [h for h in _helpers if h.poll() is None]
    if not (compile_ahead_wanted() and enable()):
        return None
    missing = [s for s in specs(fgraph) if not bodies.is_on_disk(body_for(*s).function)]
    if not missing or not bodies.numba_cache_enabled():
        return None
    try:
        _helpers.append(start_helper(__name__, helper_order(missing)))
    except OSError:   # no process to spare: the function compiles its bodies itself
        return None
    return _helpers[-1]


def compile_bodies(body_specs):
    """Compile each body of ``body_specs`` (as :func:`specs` gives them), in order."""
    for kind, config in body_specs:
        body_for(kind, config).compile()


def main():
    lower_priority(5)   # before symrnn.app.ahead's helper (10): the run needs these sooner
    body_specs = json.loads(sys.stdin.buffer.read())
    compile_bodies(body_specs)
    if any(kind in ("forward", "backward") and config[-1] == "float32"
           for kind, config in body_specs):
        direct_gemm.is_enabled()   # the packed product's self-test, recorded for the run
    return 0


if __name__ == "__main__":
    sys.exit(main())
