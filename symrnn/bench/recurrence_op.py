"""Time the recurrence kernels against their GEMMs in numpy and against PyTorch.

``python -m symrnn.bench.recurrence_op [B T H]`` (defaults 64 40 256) prints, per cell,
milliseconds for one forward + backward of the op's kernels (float32, tanh /
hard_sigmoid, full gradient), of the same kernels with a step mask (``masked``:
lengths uniform in ``[T // 2, T]``, post-padded, as ``symrnn bench --masked``
pads), of the same GEMMs done with numpy (T forward
``[B, H] x [H, G*H]``, T backward ``[B, G*H] x [G*H, H]``, one
``[H, T*B] x [T*B, G*H]``: the FLOP bound), and of ``torch.nn.RNN/GRU/LSTM``
forward + backward when torch is installed. One core against one core: it
defaults every BLAS to one thread before numpy loads (as ``symrnn bench`` and
``symrnn train`` do; a thread count set in the environment wins) and sets torch to
one thread. Nothing here is imported by the package.
"""
import sys
import time

from ..runtime import limit_blas_threads

limit_blas_threads()   # before numpy loads its BLAS
import numpy as np

from ..graph.numba.kernels import (
    backward_kernel,
    callable_from_python,
    forward_kernel,
)
from ..graph.recurrence import N_GATES, N_STATES

GATE_ACT = {"simple": None, "gru": "hard_sigmoid", "lstm": "hard_sigmoid"}


def best_ms(fn, repeats=15):
    """The fastest of ``repeats`` calls in CPU milliseconds (after a warm-up call): CPU time,
    not wall time, so that other processes on a shared machine count less."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1e3 * min(times)


def post_padded_step_mask(B, T, dtype="float32", seed=0):
    """A ``[T, B]`` step mask: 1 on each row's first ``length`` steps, lengths uniform in
    ``[T // 2, T]``."""
    lengths = np.random.default_rng(seed).integers(max(1, T // 2), T + 1, size=B)
    return np.ascontiguousarray(np.arange(T)[:, None] < lengths[None, :], dtype)


def kernel_step(cell, B, T, H, dtype="float32", masked=False):
    """A closure running the forward and backward kernels once (``masked``: with a
    :func:`post_padded_step_mask`)."""
    G, rng = N_GATES[cell], np.random.default_rng(0)
    forward = callable_from_python(forward_kernel(cell, "tanh", GATE_ACT[cell], False, dtype,
                                                  has_step_mask=masked))
    backward = callable_from_python(backward_kernel(cell, "tanh", GATE_ACT[cell], False, None,
                                                    -1, dtype, has_step_mask=masked))
    inputs = [rng.normal(0, 1, (T, B, G * H)).astype(dtype)]
    inputs += [np.zeros((B, H), dtype) for _ in range(N_STATES[cell])]
    inputs.append(rng.normal(0, 1 / np.sqrt(H), (H, G * H)).astype(dtype))
    if masked:
        inputs.append(post_padded_step_mask(B, T, dtype))
    state_grads = [rng.normal(size=(T, B, H)).astype(dtype) for _ in range(N_STATES[cell])]

    def step():
        outputs = forward(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        return backward(*inputs, *outputs, *state_grads)
    return step


def gemm_step(cell, B, T, H, dtype="float32"):
    """The op's GEMMs alone, in numpy (the GRU's split blocks count as one product)."""
    G, rng = N_GATES[cell], np.random.default_rng(0)
    h, W = rng.normal(size=(B, H)).astype(dtype), rng.normal(size=(H, G * H)).astype(dtype)
    da, hs = rng.normal(size=(B, G * H)).astype(dtype), rng.normal(size=(T * B, H)).astype(dtype)
    das = rng.normal(size=(T * B, G * H)).astype(dtype)

    def step():
        for _ in range(T):
            h @ W
        for _ in range(T):
            da @ W.T
        hs.T @ das
    return step


def torch_step(cell, B, T, H, features=42):
    """torch's layer on ``features`` inputs (it also does the input projection the op leaves out)."""
    import torch  # optional: only for this comparison
    torch.set_num_threads(1)
    module = {"simple": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](features, H)
    x = torch.randn(T, B, features, requires_grad=True)

    def step():
        out, _ = module(x)
        out.backward(torch.ones_like(out))
    return step


def main(B=64, T=40, H=256):
    print(f"B={B} T={T} H={H} float32, ms per forward + backward (best of 15)")
    for cell in N_GATES:
        row = {"kernels": best_ms(kernel_step(cell, B, T, H)),
               "masked": best_ms(kernel_step(cell, B, T, H, masked=True)),
               "numpy GEMMs": best_ms(gemm_step(cell, B, T, H))}
        try:
            row["torch"] = best_ms(torch_step(cell, B, T, H))
        except ImportError:
            pass
        print(f"{cell:7s} " + "  ".join(f"{k} {v:7.2f}" for k, v in row.items()))


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:4]])
