"""Helpers for the fast-graph tests: a model's error and gradients, and a tight comparison."""
import numpy as np

from symrnn.graph.training import compile_function


def graph_loss_and_grads(model, x, y, h0):
    """``(error, {weight name: gradient})`` of a FastRNN/FastGated graph on the py backend."""
    fn = compile_function([model.h0, model.x, model.y], [model.error, *model.grads], backend="py")
    err, *grads = fn(h0, x, y)
    return float(err), {p.name: g for p, g in zip(model.params, grads)}


def assert_grads_close(a, b, rtol=1e-10):
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=1e-12, err_msg=name)
