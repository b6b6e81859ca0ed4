"""Helpers for the bench tests: a character model's loss and ``pytensor.grad``, and a
tight comparison of gradient dicts."""
import numpy as np
import pytensor
import pytensor.tensor as pt

from symrnn.bench.spec import ROLES
from symrnn.graph import losses
from symrnn.graph.backend import compile_function


def graph_loss_and_grads(model, x, y):
    """``(loss, {role: gradient})`` of a (compiled or not) character model, by
    ``pytensor.grad`` of the mean sparse cross-entropy of its training graph (py backend).

    Built here from the model's own graph, not through :mod:`symrnn.layers.fitting`, so
    the test compares the twins with the maths rather than with the code under test."""
    [ids], [probs], _ = model.build_graph(training=True)
    targets = pt.lmatrix("targets")
    loss = losses.mean(losses.sparse_categorical_crossentropy(probs, targets))
    params = model.trainable_params
    fn = compile_function([ids, targets], [loss, *pytensor.grad(loss, params)], backend="py")
    value, *grads = fn(x.astype(ids.dtype), y.astype("int64"))
    return float(value), {ROLES[p.name]: g for p, g in zip(params, grads)}


def assert_grads_close(got, expected, rtol=1e-10, atol=1e-12):
    assert sorted(got) == sorted(expected)
    for name in got:
        np.testing.assert_allclose(got[name], expected[name], rtol=rtol, atol=atol, err_msg=name)
