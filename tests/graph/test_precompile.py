"""Kernel bodies compiled ahead in a helper process (symrnn.graph.numba.precompile, bodies.py):
which bodies a graph runs, that the signatures written down before any compile are exactly
those the graph's own compile asks for (else the helper's work would never be found), when
the helper starts, and (heavy: real cold caches) that after it ran the training function
compiles none of the bodies itself."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from backend_models import ids

from symrnn import runtime
from symrnn.graph.backend import compile_function
from symrnn.graph.losses import softmax_crossentropy
from symrnn.graph.numba import bodies, precompile
from symrnn.layers import (
    GRU,
    LSTM,
    Dense,
    Embedding,
    Sequential,
    SimpleRNN,
    TimeDistributed,
    fitting,
)
from symrnn.layers.charmodels import char_model
from symrnn.runtime import isolated_caches, with_package_on_path

pytestmark = pytest.mark.proof   # rests on PyTensor's Numba cache, which changed across 3.0-3.3

V, T, B = 7, 4, 3


LAYERS = {"simplernn": SimpleRNN, "gru": GRU, "lstm": LSTM}


def training_fn(kind, dtype="float32", **rnn_options):
    """A character model's training function on Numba, not called yet (Numba compiles it at
    the first call; its graph is final): ``symrnn train``'s model, or with ``rnn_options``
    its recurrent layer built so."""
    if rnn_options:
        model = Sequential([Embedding(V, 3, input_length=T, dtype=dtype),
                            LAYERS[kind](5, return_sequences=True, dtype=dtype, **rnn_options),
                            TimeDistributed(Dense(V, activation="softmax", dtype=dtype))])
    else:
        model = char_model(V, kind, hidden=5, seq_len=T, dtype=dtype, seed=3)
    model.compile("sgd", "sparse_categorical_crossentropy", backend="numba")
    return fitting.train_fn(model)


def compiled_training_fn(kind, dtype="float32", **rnn_options):
    """:func:`training_fn`, called once (so compiled)."""
    fn = training_fn(kind, dtype, **rnn_options)
    fn(ids((B, T), 1).astype("int32") % V, ids((B, T), 2) % V)
    return fn


def test_the_specs_name_each_body_once_in_the_graphs_order_and_survive_json():
    fn = training_fn("lstm")
    specs = precompile.specs(fn.maker.fgraph)
    kinds = [kind for kind, _ in specs]
    assert kinds.index("forward") < kinds.index("xent_forward") < kinds.index("xent_backward")
    assert kinds.index("forward") < kinds.index("backward") and "blas_dot" in kinds
    assert kinds.index("lookup_forward") < kinds.index("forward")   # xw comes first
    assert kinds.index("backward") < kinds.index("lookup_backward")
    assert len(kinds) == len(set(kinds))   # the three products share one body
    assert json.loads(json.dumps(specs)) == specs
    assert specs[kinds.index("forward")] == ["forward", ["lstm", "tanh", "hard_sigmoid", False,
                                                         False, "float32"]]


@pytest.mark.heavy   # compiles each training function for Numba in this process
@pytest.mark.parametrize("kind, dtype, options", [
    ("lstm", "float32", {}), ("gru", "float64", {"grad_clip": 1.0}),
    ("simplernn", "float32", {"truncate_gradient": 2})])
def test_each_body_was_compiled_for_exactly_the_signature_written_down(kind, dtype, options):
    # without PyTensor's cache, so that the graph's function compiles here (not loaded whole
    # from disk) and asks each body for the types it has
    with pytensor.config.change_flags(numba__cache=False):
        fn = compiled_training_fn(kind, dtype, **options)
    specs = precompile.specs(fn.maker.fgraph)
    # forward, backward, both cross-entropies, the product, the lookup projection both ways
    assert len(specs) == 7
    for spec in specs:
        body = precompile.body_for(*spec)
        assert body.function.signatures == [body.signature], spec


def one_hot_xent_fn():
    z, y = pt.fmatrix("z"), pt.fmatrix("y")
    loss = softmax_crossentropy(z, y).sum()
    return compile_function([z, y], [loss, pt.grad(loss, z)], backend="numba")


def test_the_helper_compiles_in_the_graphs_order_but_the_lookup_bodies_last():
    specs = precompile.specs(training_fn("lstm").maker.fgraph)
    ordered = precompile.helper_order(specs)
    assert [kind for kind, _ in ordered[-2:]] == ["lookup_forward", "lookup_backward"]
    assert ordered[:-2] == [s for s in specs if not s[0].startswith("lookup")]
    assert ordered[0][0] == "forward"


def test_the_specs_of_the_one_hot_cross_entropy():
    specs = precompile.specs(one_hot_xent_fn().maker.fgraph)
    assert specs == [["onehot_forward", ["float32"]], ["onehot_backward", ["float32"]]]


@pytest.mark.heavy
def test_the_one_hot_cross_entropy_bodies_have_the_signature_written_down():
    with pytensor.config.change_flags(numba__cache=False):
        fn = one_hot_xent_fn()
        rows = np.random.default_rng(0).random((3, 4), dtype="float32")
        fn(rows, rows)
    for spec in precompile.specs(fn.maker.fgraph):
        body = precompile.body_for(*spec)
        assert body.function.signatures == [body.signature], spec


class Started:
    """Stands in for runtime.start_helper: records what a helper would be given."""

    def __init__(self):
        self.given = []

    def __call__(self, module, spec):
        self.given.append((module, spec))
        return subprocess.Popen([sys.executable, "-c", "pass"])


def test_a_helper_starts_for_bodies_not_on_disk_unless_switched_off_or_on_one_core(monkeypatch):
    fn = training_fn("lstm")
    started = Started()
    monkeypatch.setattr(precompile, "start_helper", started)
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    monkeypatch.setenv(runtime.COMPILE_AHEAD_SWITCH, "1")
    monkeypatch.setattr(bodies, "is_on_disk", lambda function: False)
    helper = precompile.start(fn.maker.fgraph)
    assert helper is not None and helper.wait() == 0
    assert started.given == [("symrnn.graph.numba.precompile",
                              precompile.helper_order(precompile.specs(fn.maker.fgraph)))]
    monkeypatch.setattr(bodies, "is_on_disk", lambda function: True)   # warm: nothing to do
    assert precompile.start(fn.maker.fgraph) is None
    monkeypatch.setattr(bodies, "is_on_disk", lambda function: False)
    monkeypatch.setattr(runtime, "usable_cores", lambda: 1)
    assert precompile.start(fn.maker.fgraph) is None
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    monkeypatch.setenv(runtime.COMPILE_AHEAD_SWITCH, "0")
    assert precompile.start(fn.maker.fgraph) is None
    assert len(started.given) == 1


COMPILED_BY_THE_RUN = textwrap.dedent("""
    # A training function's first call on these caches: which Numba compiles it needs.
    import json, os, sys
    sys.path[:0] = [sys.argv[1], os.path.dirname(sys.argv[1])]   # tests/graph, tests
    from test_precompile import compiled_training_fn, training_fn
    from symrnn.bench.compiletable import CompileTable
    from symrnn.graph.numba import bodies, precompile
    table = CompileTable().listen()
    fn = training_fn(*json.loads(sys.argv[2]))
    specs = precompile.specs(fn.maker.fgraph)
    on_disk = lambda: [bodies.is_on_disk(precompile.body_for(*s).function) for s in specs]
    before = on_disk()
    compiled_training_fn(*json.loads(sys.argv[2]))
    print(json.dumps({"specs": specs, "compiled": [r["function"] for r in table.rows()],
                      "on_disk_before": before, "on_disk": on_disk()}))
""")

BODY_NAMES = {"symrnn:forward", "symrnn:backward", "symrnn:blas_dot", "symrnn:lookup_forward",
              "symrnn:lookup_backward"}


@pytest.mark.heavy   # three cold compiles of a small LSTM's training function
def test_after_the_helper_the_training_function_compiles_none_of_its_bodies(tmp_path):
    env = with_package_on_path(dict(os.environ))
    env[runtime.COMPILE_AHEAD_SWITCH] = "0"   # no helper of the run's own: this test starts it
    tests_dir = os.path.dirname(__file__)

    def first_call(caches, model):
        child = subprocess.run([sys.executable, "-c", COMPILED_BY_THE_RUN, tests_dir,
                                json.dumps(model)], capture_output=True, text=True, check=False,
                               env=isolated_caches(dict(env), str(tmp_path / caches)))
        assert child.returncode == 0, child.stderr
        return json.loads(child.stdout.splitlines()[-1])

    cold = first_call("cold", ["lstm"])
    assert BODY_NAMES <= set(cold["compiled"])   # the bodies' names, as the table knows them
    helper = subprocess.run([sys.executable, "-m", "symrnn.graph.numba.precompile"],
                            input=json.dumps(cold["specs"]), capture_output=True, text=True,
                            env=isolated_caches(dict(env), str(tmp_path / "ahead")), check=False)
    assert helper.returncode == 0, helper.stderr
    after_helper = first_call("ahead", ["lstm"])
    assert not BODY_NAMES & set(after_helper["compiled"])
    assert after_helper["specs"] == cold["specs"]
    assert after_helper["on_disk"] == [True] * len(cold["specs"]) != cold["on_disk_before"]
