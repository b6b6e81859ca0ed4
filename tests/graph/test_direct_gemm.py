"""The packed-W float32 recurrent product (symrnn.graph.numba.direct_gemm) equals the BLAS one.

The LSTM, GRU and simple kernels run twice on the same float32 inputs, with the
packed path on and off (the run-time switch the kernels read), and must agree to
float32 rounding; non-square sizes (B=5, H=24: tails of OpenBLAS's 16 x 4 blocks)
so a wrong offset, leading dimension or transpose cannot pass (the GRU packs its
``U_zr`` and ``U_h`` column blocks of ``W_h`` separately, and its backward
accumulates into the ``U_h`` part's gradient: ``beta = 1``). Skipped where the
packed path is off (no scipy OpenBLAS with the core's symbols, or the
self-test failed), where the kernels use the old product anyway.
"""
import numpy as np
import pytest

from symrnn.graph.numba import direct_gemm
from symrnn.graph.numba.kernels import (
    backward_kernel,
    callable_from_python,
    forward_kernel,
)

direct_gemm.is_enabled()
pytestmark = pytest.mark.skipif("addresses" not in direct_gemm._state,
                                reason=f"no packed product here: {direct_gemm.why()}")


def test_self_test_passes_and_catches_a_wrong_product():
    assert direct_gemm.self_test() is None
    assert direct_gemm.is_enabled(), direct_gemm.why()
    f = dict(direct_gemm.functions())
    right = f["py_packed_matmul"]

    def last_row_dropped(m, n, k, a, lda, packed, a_buf, beta, c, ldc):   # a planted bug
        right(max(m - 1, 1), n, k, a, lda, packed, a_buf, beta, c, ldc)
    f["py_packed_matmul"] = last_row_dropped
    assert direct_gemm.self_test(functions_=f) is not None


def test_a_passed_self_test_is_recorded_and_not_run_again(tmp_path, monkeypatch):
    real_passed_before, real_self_test, calls = direct_gemm.passed_before, direct_gemm.self_test, []
    monkeypatch.setattr(direct_gemm, "passed_before",
                        lambda core: real_passed_before(core, cache_dir=tmp_path))
    monkeypatch.setattr(direct_gemm, "self_test", lambda: calls.append(1) or real_self_test())
    first = direct_gemm._check()
    assert first[0] and calls == [1]
    [recorded] = (tmp_path / "symrnn").iterdir()
    assert recorded == real_passed_before(first[1], cache_dir=tmp_path)
    assert direct_gemm._check() == first and calls == [1]          # read, not run again
    assert real_passed_before("ANOTHERCORE", cache_dir=tmp_path) != recorded
    monkeypatch.setenv(direct_gemm.ENV_SWITCH, "0")
    assert direct_gemm._check() == (False, f"{direct_gemm.ENV_SWITCH}=0")


def test_a_failed_self_test_is_not_recorded(tmp_path, monkeypatch):
    real_passed_before = direct_gemm.passed_before
    monkeypatch.setattr(direct_gemm, "passed_before",
                        lambda core: real_passed_before(core, cache_dir=tmp_path))
    monkeypatch.setattr(direct_gemm, "self_test", lambda: "relative error 1 at (a planted case)")
    assert direct_gemm._check() == (False, "relative error 1 at (a planted case)")
    assert not (tmp_path / "symrnn").exists()


# B=5 (tails of every block) by default; the full batch of 64 with --heavy (a compile each)
FULL_BATCH = pytest.param(64, marks=pytest.mark.heavy)


@pytest.mark.parametrize("B", [5, FULL_BATCH])
def test_lstm_kernels_packed_equal_blas(B, monkeypatch):
    T, H = 4, 24
    rng = np.random.default_rng(7)
    xw = rng.standard_normal((T, B, 4 * H)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    c0 = rng.standard_normal((B, H)).astype(np.float32)
    W_h = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
    dhs = rng.standard_normal((T, B, H)).astype(np.float32)
    dcs = rng.standard_normal((T, B, H)).astype(np.float32)
    forward = callable_from_python(forward_kernel("lstm", "tanh", "sigmoid", False, "float32"))
    backward = callable_from_python(
        backward_kernel("lstm", "tanh", "sigmoid", False, None, -1, "float32"))
    results = {}
    for on in (True, False):
        monkeypatch.setitem(direct_gemm._state, "enabled", on)
        outs = forward(xw, h0, c0, W_h)
        grads = backward(xw, h0, c0, W_h, *outs, dhs, dcs)
        results[on] = [np.asarray(o) for o in (*outs, *grads)]
    for packed, blas in zip(results[True], results[False]):
        np.testing.assert_allclose(packed, blas, rtol=1e-4, atol=1e-5)
    assert not np.array_equal(results[True][0], np.zeros_like(results[True][0]))


def _packed_and_blas(monkeypatch, forward, backward, forward_inputs, state_grads):
    """Each kernel's outputs and gradients with the packed path on and off."""
    results = {}
    for on in (True, False):
        monkeypatch.setitem(direct_gemm._state, "enabled", on)
        outs = forward(*forward_inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        grads = backward(*forward_inputs, *outs, *state_grads)
        results[on] = [np.asarray(o) for o in (*outs, *grads)]
    return results


@pytest.mark.parametrize("cell", ["simple", pytest.param("gru", marks=pytest.mark.heavy)])
@pytest.mark.parametrize("B", [5, FULL_BATCH])
def test_simple_and_gru_kernels_packed_equal_blas(cell, B, monkeypatch):
    T, H = 4, 24
    G = {"simple": 1, "gru": 3}[cell]
    inner = {"simple": None, "gru": "sigmoid"}[cell]
    rng = np.random.default_rng(11)
    xw = rng.standard_normal((T, B, G * H)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    W_h = (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(np.float32)
    dhs = rng.standard_normal((T, B, H)).astype(np.float32)
    forward = callable_from_python(forward_kernel(cell, "tanh", inner, False, "float32"))
    backward = callable_from_python(backward_kernel(cell, "tanh", inner, False, None, -1,
                                                    "float32"))
    results = _packed_and_blas(monkeypatch, forward, backward, (xw, h0, W_h), (dhs,))
    for packed, blas in zip(results[True], results[False]):
        np.testing.assert_allclose(packed, blas, rtol=1e-4, atol=1e-5)
    assert not np.array_equal(results[True][0], np.zeros_like(results[True][0]))
