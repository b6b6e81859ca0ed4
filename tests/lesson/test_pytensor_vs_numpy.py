"""The compiled graph and the by-hand numpy BPTT must agree, forward and backward.

Two independent derivations of the same gradients: PyTensor's symbolic
differentiation of the scan, and numpy_rnn's hand-written backward pass.
"""
import numpy as np
import pytensor
import pytest

from symrnn.lesson import numpy_rnn
from symrnn.lesson.rnn import PARAM_NAMES, LessonRNN

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

V, H, T = 9, 6, 5


def relative_error(a, b):
    return np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-300)


@pytest.fixture(scope="module", params=["relu", "tanh"])
def compiled(request):
    """A float64 lesson RNN and a compiled (h0, inp, outp) -> (error, grads..., dh0)."""
    rnn = LessonRNN(V, H, act=request.param, dtype="float64", backend="py")
    grads = pytensor.grad(rnn.error, [*rnn.params, rnn.h0])
    fn = pytensor.function([rnn.h0, rnn.inp, rnn.outp], [rnn.error, rnn.zs, *grads], mode="FAST_COMPILE")
    return request.param, rnn, fn


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_numpy_bptt(compiled, seed):
    act, rnn, fn = compiled
    rng = np.random.default_rng(seed)
    params = numpy_rnn.init_params(V, H, rng)
    for b in numpy_rnn.BIAS_NAMES:  # non-zero biases so their gradients are tested too
        params[b] = rng.normal(0, 0.3, params[b].shape)
    ids, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    h0 = rng.normal(0, 0.5, H)
    rnn.set_params(params)
    error, logits, *grads = fn(h0, np.eye(V)[ids], np.eye(V)[targets])

    ref_error, ref_grads, ref_dh0 = numpy_rnn.loss_and_grads(params, ids, targets, h0, act)
    cache = numpy_rnn.forward(params, ids, h0, act)
    np.testing.assert_allclose(logits, cache.logits, rtol=1e-12, atol=1e-12)
    assert relative_error(error, ref_error) < 1e-12
    for name, g in zip(PARAM_NAMES, grads):
        assert np.abs(ref_grads[name]).max() > 0, f"{name}: zero reference gradient proves nothing"
        assert relative_error(g, ref_grads[name]) < 1e-8, name
    assert relative_error(grads[-1], ref_dh0) < 1e-8
