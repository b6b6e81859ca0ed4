"""Fused Numba kernels for :class:`symrnn.graph.recurrence.Recurrence` and its gradient.

:func:`forward_kernel` and :func:`backward_kernel` build, for one
configuration (cell, activations, mask, step mask, ``grad_clip``,
``truncate_gradient``, dtype), one jitted function with the op's inputs and
outputs. Everything the configuration fixes is a compile-time constant, so the
gate loops carry no branches on it. The kernel bodies take every optional input
(the recurrent-dropout ``mask``, the ``step_mask``) as C-ordered arrays and are
compiled on their own, with one signature per configuration
(:func:`forward_body`, :func:`backward_body`, :mod:`.bodies`): a helper process
can compile them while a graph's function compiles (:mod:`.precompile`). The
kernel PyTensor calls is an adapter (:func:`.bodies.adapter`) with the op's own
inputs; it hands the body a C-ordered copy of each (no copy for a C array) and
an empty array for an input the op does not have (the body's constants say it
never reads it).

Forward, per step: one GEMM ``h_in . W_h`` for all gates (BLAS, no transposed
copies; the GRU needs a second, ``(r * h_in) . U_h``), then the gate maths in
one pass over ``[B, G*H]`` that also adds ``xw[t]`` (rather than a GEMM with
``beta=1`` into a copy of ``xw[t]``: the same sum, one pass fewer).
On float32 with ``B > 1`` the per-step products (forward and backward) use
``W_h`` (the GRU: each of its column blocks ``U_zr`` and ``U_h``, and their
transposes) packed once per kernel call, :func:`_recurrent_product`.

Backward, one reverse loop; per step: the gate derivatives from the saved
activations (no forward GEMM is recomputed) written straight into ``dxw[t]``
(the pre-activation gradient *is* the gradient of ``xw[t]``), then one GEMM
``dxw[t] . W_h^T`` with BLAS reading ``W_h`` transposed in place (the GRU: one
per weight block). The weight gradient is one GEMM after the loop over every
step's rows, ``H_in^T . dxw``, from the ``h_in`` each step saved (the GRU's
``U_h`` block: a second one from the saved ``r * h_in``). ``grad_clip`` clips
each step's gradient into the carried states where the graph's
``clip_gradient`` sits; ``truncate_gradient = k`` backpropagates the last
``k`` steps only, as ``scan`` does (earlier steps get zero gradient, and the
initial states too unless ``k >= T``).

The step mask (``[T, B]``, see :mod:`symrnn.graph.recurrence`): forward, a
step is computed for every row as usual, then the padded rows (``m <= 0``, or
NaN, as the graph's ``switch(m > 0, ...)``) get the previous states back.
Backward, a padded row's gate gradients (its rows of ``dxw``) are exactly 0
and the whole gradient of its states passes to the step before, clipped as
every state gradient is; the weight GEMM then gets zero rows for it. The step
mask's own gradient is zeros.

Every kernel checks the shapes it is given against each other and raises
``ValueError`` before touching memory; the BLAS calls check their operands fit.
Inputs of any strides are copied to C order first (a no-op for C arrays).
The kernels address every array through one flat 1-d view and explicit
offsets (``t * B * H + b * H + j``): Numba represents each array view as a
struct of shape and strides, and views of every step and gate multiplied the
generated code (and the compile time) several times over. The one exception
is the gated cells' per-row loops: each takes row views (``a[g:g + 4 * H]``)
and indexes them from 0. LLVM vectorises a loop only when it can see each
index step by one, and an offset such as ``b * 4 * H + j`` reaches it through
Numba's negative-index check, which hides that: with flat offsets no gate
loop of the GRU or the LSTM vectorised, and the float32 LSTM forward took
14-16 ms instead of 9-10 ms at B=64, T=40, H=256 (the bodies compile about
0.3 s longer). Kernels compile with ``error_model="numpy"``: Python's
division-by-zero check would keep LLVM from vectorising the float32 gate loops.
The shape checks take the gate and state counts from the cell's record
(:mod:`symrnn.graph.cellrecords`); :data:`_FORWARD` and :data:`_BACKWARD`
cover exactly the records marked ``fused``.
"""
import inspect
from functools import cache

import numpy as np

from ...compat import compile_numba_function_src, numba_njit
from ..cellrecords import cell_record
from . import bodies, direct_gemm, fastmath
from .blas import NOTRANS, TRANS, matmul_for
from .keys import cache_key

bodies.keep_source(__file__)   # the kernel bodies are generated from it


@numba_njit
def flat(a):
    """``a`` in C order (copied only if it is not), as a 1-d view (not inlined: shared)."""
    c = np.ascontiguousarray(a)
    return c.reshape(c.size)


@numba_njit(inline="always")
def not_stack(a, T, B, H):
    """Whether ``a`` is not ``[T, B, H]`` (``|``, not ``or``: no branches to compile)."""
    return (a.shape[0] != T) | (a.shape[1] != B) | (a.shape[2] != H)


@numba_njit(inline="always")
def not_matrix(a, rows, cols):
    return (a.shape[0] != rows) | (a.shape[1] != cols)


def _recurrent_product(dtype, matmul):
    """``(setup, product)`` for the per-step ``c[m, n] = a[m, k] . op(W) + beta * c``
    (``beta`` 0 or 1).

    float32: ``W`` packed once per kernel call and OpenBLAS's micro-kernel per step
    (:mod:`.direct_gemm`) when its run-time check passed and ``m > 1``; otherwise, and
    for other dtypes, :func:`.blas.matmul_for`'s product.
    ``setup(trans, m, n, k, W, ldw) -> (on, packed_W, scratch)``; ``W`` may be a column
    block of a wider matrix (a flat array from the block's first element, ``ldw`` the
    wider row stride, as :func:`.blas.matmul_for` takes it), packed on its own.
    """
    one = dtype.type(1)
    if dtype != np.float32:
        @numba_njit(inline="always")
        def setup(trans, m, n, k, W, ldw):
            return False, np.empty(0, dtype), np.empty(0, dtype)

        @numba_njit(inline="always")
        def product(on, pw, pa, trans, m, n, k, a, lda, W, ldw, beta, c, ldc):
            matmul(NOTRANS, trans, m, n, k, one, a, lda, W, ldw, beta, c, ldc)
        return setup, product
    f = direct_gemm.functions()
    enabled, packed_size, pack_w, packed_matmul = (f["enabled"], f["packed_size"], f["pack_w"],
                                                   f["packed_matmul"])

    @numba_njit(inline="always")
    def setup(trans, m, n, k, W, ldw):
        if m > 1 and enabled():
            pw, pa = np.empty(packed_size(k, n), dtype), np.empty(packed_size(k, m), dtype)
            pack_w(trans, k, n, W, ldw, pw)
            return True, pw, pa
        return False, np.empty(0, dtype), np.empty(0, dtype)

    @numba_njit(inline="always")
    def product(on, pw, pa, trans, m, n, k, a, lda, W, ldw, beta, c, ldc):
        if on:
            packed_matmul(m, n, k, a, lda, pw, pa, beta, c, ldc)
        else:
            matmul(NOTRANS, trans, m, n, k, one, a, lda, W, ldw, beta, c, ldc)
    return setup, product


@numba_njit(inline="always")
def check_forward_inputs(xw, h0, c0, W_h, mask, step_mask, n_gates, has_c, has_mask,
                         has_step_mask):
    """``(T, B, H)`` after checking every forward input against the others."""
    T, B, width = xw.shape
    H = W_h.shape[0]
    if W_h.shape[1] != n_gates * H:
        raise ValueError("recurrence kernel: W_h must be [H, G*H] for the cell's G gate blocks")
    if width != n_gates * H:
        raise ValueError("recurrence kernel: xw must be [T, B, G*H] with W_h's G*H columns")
    if not_matrix(h0, B, H):
        raise ValueError("recurrence kernel: h0 must be [B, H], B from xw and H from W_h")
    if has_c and not_matrix(c0, B, H):
        raise ValueError("recurrence kernel: c0 must be [B, H], B from xw and H from W_h")
    if has_mask and not_matrix(mask, B, H):
        raise ValueError("recurrence kernel: mask must be [B, H], B from xw and H from W_h")
    if has_step_mask and not_matrix(step_mask, T, B):
        raise ValueError("recurrence kernel: step_mask must be [T, B], T and B from xw")
    return T, B, H


def _clipper(grad_clip, dtype):
    """``clip(g)`` to ``[-grad_clip, grad_clip]`` in dtype (identity for None)."""
    if grad_clip is None:
        return numba_njit(lambda g: g, inline="always")
    bound = dtype.type(grad_clip)

    def clip(g):
        g = bound if g > bound else g
        return -bound if g < -bound else g
    return numba_njit(clip, inline="always")


def _first_step(truncate_gradient):
    """``lo(T)``: the first step the backward loop reaches."""
    k = int(truncate_gradient)
    return numba_njit(lambda T: 0 if k < 0 else max(T - k, 0), inline="always")


def _mask_into(has_mask):
    """Write ``h_in = h_tm1 * mask`` (a copy of ``h_tm1`` without a mask) into ``out``."""
    def into(out, h_tm1, mask):
        for k in range(out.size):
            out[k] = h_tm1[k] * mask[k] if has_mask else h_tm1[k]
        return out
    return numba_njit(into, inline="always")


def _masked(has_mask):
    """``h_in``: ``h_tm1 * mask`` written into ``out``, or ``h_tm1`` itself without a mask."""
    into = _mask_into(has_mask)

    def masked(out, h_tm1, mask):
        return into(out, h_tm1, mask) if has_mask else h_tm1
    return numba_njit(masked, inline="always")


def _input_states_product(has_mask, dtype, matmul):
    """``out[H, cols] = sum_t h_in_t^T . d_t`` over the steps ``lo <= t < T``, for a weight
    gradient (``d_t``: step t's ``[B, cols]`` rows of ``d``, row stride ``ldd``; ``out``
    row stride ``ldo``).

    With a mask the backward loop wrote each step's ``h_in`` into ``h_ins``. Without
    one, ``h_in`` is ``h_tm1``, which lies in ``h0`` (step 0) and then in the stacked
    states ``hs``: the product reads them there (h0's rows, then the rest added with
    ``beta = 1``), and the loop copies nothing (a whole ``[T, B, H]`` pass saved).
    """
    one, zero = dtype.type(1), dtype.type(0)

    def product(lo, T, B, H, cols, h_ins, h0, hs, d, ldd, out, ldo):
        n = B * H
        if has_mask or T <= lo:   # (T <= lo: no step, a product over 0 rows: zeros)
            matmul(TRANS, NOTRANS, H, cols, max(T - lo, 0) * B, one, h_ins[lo * n:], H,
                   d[lo * B * ldd:], ldd, zero, out, ldo)
            return
        first, beta = max(lo, 1), zero
        if lo == 0:
            matmul(TRANS, NOTRANS, H, cols, B, one, h0, H, d, ldd, zero, out, ldo)
            beta = one
        matmul(TRANS, NOTRANS, H, cols, (T - first) * B, one, hs[(first - 1) * n:], H,
               d[first * B * ldd:], ldd, beta, out, ldo)
    return numba_njit(product, inline="always")


def _into_state_grad(has_mask, clip):
    """``dh = clip(direct + mask * dh_in)``, accumulating ``dmask += h_tm1 * dh_in``.

    ``dh_in`` is the gradient of ``h_in = h_tm1 * mask``; the clip applies to
    the whole gradient of the step's ``h_tm1``, as the graph clips the state
    before the mask meets it. ``direct`` is the part that bypasses the mask
    (the GRU's blend ``z * h_tm1``); ``has_direct=False`` ignores it.
    """
    def into(dh, dh_in, direct, h_tm1, mask, dmask, has_direct):
        for k in range(dh.size):
            g = dh_in[k]
            if has_mask:
                dmask[k] += h_tm1[k] * g
                g = g * mask[k]
            dh[k] = clip(direct[k] + g if has_direct else g)
    return numba_njit(into, inline="always")


def _is_real(has_step_mask, dtype):
    """``real(sm, r)``: whether entry ``r = t * B + b`` of the flat step mask is a real step.

    ``sm[r] > 0``, as the graph's ``switch(m > 0, new, old)`` reads it (NaN is
    padding); always True without a step mask, so the branches it guards fold away.
    """
    zero = dtype.type(0)

    def real(sm, r):
        return sm[r] > zero if has_step_mask else True
    return numba_njit(real, inline="always")


def _keep_padded_rows(has_step_mask, dtype):
    """``keep(state_t, state_tm1, sm, t, B, H)``: the padded rows of step ``t`` get
    ``state_tm1`` back, after the step computed them like any row (nothing without a
    step mask)."""
    real = _is_real(has_step_mask, dtype)

    def keep(state_t, state_tm1, sm, t, B, H):
        if has_step_mask:
            for b in range(B):
                if not real(sm, t * B + b):
                    for k in range(b * H, (b + 1) * H):
                        state_t[k] = state_tm1[k]
    return numba_njit(keep, inline="always")


def _pass_padded_rows(has_step_mask, dtype):
    """``into(passed, da_t, dh_t, dh, sm, t, B, H)``, after a step's gate gradients
    ``da_t`` (one gate: ``[B, H]``) are computed for every row: a padded row's are set to
    0 and its whole state gradient ``dh_t + dh`` goes to ``passed`` (0 for a real row).
    Nothing without a step mask: the loop before it stays one flat vectorised loop."""
    zero, real = dtype.type(0), _is_real(has_step_mask, dtype)

    def into(passed, da_t, dh_t, dh, sm, t, B, H):
        if has_step_mask:
            for b in range(B):
                is_real = real(sm, t * B + b)
                for k in range(b * H, (b + 1) * H):
                    passed[k] = zero if is_real else dh_t[k] + dh[k]
                    da_t[k] = da_t[k] if is_real else zero
    return numba_njit(into, inline="always")


# --- simple: h_t = act(xw_t + h_in . W_h) ------------------------------------------------

def _simple_forward(record, act, inner, has_mask, has_step_mask, dtype, matmul):
    zero = dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    masked, keep = _masked(has_mask), _keep_padded_rows(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)

    def forward(xw, h0, W_h, mask, step_mask):
        T, B, H = check_forward_inputs(xw, h0, h0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        x, W, m, sm, h_tm1 = flat(xw), flat(W_h), flat(mask), flat(step_mask), flat(h0)
        n = B * H
        hs, a, h_in_buf = np.empty(T * n, dtype), np.empty(n, dtype), np.empty(n, dtype)
        on, pw, pa = setup(NOTRANS, B, H, H, W, H)
        for t in range(T):
            h_in = masked(h_in_buf, h_tm1, m)
            product(on, pw, pa, NOTRANS, B, H, H, h_in, H, W, H, zero, a, H)
            x_t, h_t = x[t * n:(t + 1) * n], hs[t * n:(t + 1) * n]
            for k in range(n):
                h_t[k] = act(x_t[k] + a[k])
            keep(h_t, h_tm1, sm, t, B, H)
            h_tm1 = h_t
        return hs.reshape((T, B, H))
    return forward


def _simple_backward(record, act, inner, has_mask, has_step_mask, clip, first_step, dtype,
                     matmul):
    zero = dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    d_act = fastmath.derivative(act, dtype)
    mask_into, into_state_grad = _mask_into(has_mask), _into_state_grad(has_mask, clip)
    pass_padded_rows = _pass_padded_rows(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)
    input_states_product = _input_states_product(has_mask, dtype, matmul)

    def backward(xw, h0, W_h, mask, step_mask, hs, dhs):
        T, B, H = check_forward_inputs(xw, h0, h0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        if not_stack(hs, T, B, H) | not_stack(dhs, T, B, H):
            raise ValueError("recurrence kernel: hs and its gradient must be [T, B, H]")
        W, m, sm, h0f = flat(W_h), flat(mask), flat(step_mask), flat(h0)
        h, dh_out = flat(hs), flat(dhs)
        n = B * H
        dxw = np.zeros(T * n, dtype)                # = the pre-activation gradients
        h_ins = np.empty(T * n if has_mask else 0, dtype)   # each step's h_in, for dW
        dh_in, dh, dmask = np.empty(n, dtype), np.zeros(n, dtype), np.zeros(m.size, dtype)
        passed = np.empty(n, dtype)   # a padded row's state gradient, whole (0 in a real row)
        lo = first_step(T)
        on, pw, pa = setup(TRANS, B, H, H, W, H)
        for t in range(T - 1, lo - 1, -1):
            h_tm1 = h[(t - 1) * n:t * n] if t > 0 else h0f
            if has_mask:
                mask_into(h_ins[t * n:(t + 1) * n], h_tm1, m)
            da_t, h_t, dh_t = dxw[t * n:(t + 1) * n], h[t * n:(t + 1) * n], dh_out[t * n:(t + 1) * n]
            for k in range(n):   # dh: what step t+1 sent back into h_t
                da_t[k] = (dh_t[k] + dh[k]) * d_act(h_t[k])
            pass_padded_rows(passed, da_t, dh_t, dh, sm, t, B, H)
            product(on, pw, pa, TRANS, B, H, H, da_t, H, W, H, zero, dh_in, H)
            into_state_grad(dh, dh_in, passed, h_tm1, m, dmask, has_step_mask)
        dW = np.empty(H * H, dtype)
        input_states_product(lo, T, B, H, H, h_ins, h0f, h, dxw, H, dW, H)
        dh0 = dh if lo == 0 else np.zeros(n, dtype)
        return (dxw.reshape((T, B, H)), dh0.reshape((B, H)), dW.reshape((H, H)),
                dmask.reshape(mask.shape), np.zeros(step_mask.shape, dtype))
    return backward


# --- GRU (Keras 1 gates z, r, h) ----------------------------------------------------------

def _gru_forward(record, act, inner, has_mask, has_step_mask, dtype, matmul):
    one, zero = dtype.type(1), dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    masked, keep = _masked(has_mask), _keep_padded_rows(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)

    def forward(xw, h0, W_h, mask, step_mask):
        T, B, H = check_forward_inputs(xw, h0, h0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        x, W, m, sm, h_tm1 = flat(xw), flat(W_h), flat(mask), flat(step_mask), flat(h0)
        n, w = B * H, B * 3 * H
        hs, zs, rs, hhs = (np.empty(T * n, dtype), np.empty(T * n, dtype),
                           np.empty(T * n, dtype), np.empty(T * n, dtype))
        a = np.empty(w, dtype)          # h_in . U_zr, then (r * h_in) . U_h, gate by gate
        h_in_buf, rh = np.empty(n, dtype), np.empty(n, dtype)
        # U_zr (W's first 2H columns) and U_h (its last H), each packed on its own
        on_zr, pw_zr, pa_zr = setup(NOTRANS, B, 2 * H, H, W, 3 * H)
        on_h, pw_h, pa_h = setup(NOTRANS, B, H, H, W[2 * H:], 3 * H)
        for t in range(T):
            h_in = masked(h_in_buf, h_tm1, m)
            product(on_zr, pw_zr, pa_zr, NOTRANS, B, 2 * H, H, h_in, H, W, 3 * H, zero, a, 3 * H)
            x_t, z_t, r_t = x[t * w:(t + 1) * w], zs[t * n:(t + 1) * n], rs[t * n:(t + 1) * n]
            for b in range(B):
                g, s = b * 3 * H, b * H      # this row's offsets in [B, 3H] and [B, H]
                # row views, indexed from 0 (see the LSTM's forward)
                x_b, a_b, h_in_b = x_t[g:g + 2 * H], a[g:g + 2 * H], h_in[s:s + H]
                z_b, r_b, rh_b = z_t[s:s + H], r_t[s:s + H], rh[s:s + H]
                for j in range(H):
                    z_b[j] = inner(x_b[j] + a_b[j])
                    r = inner(x_b[H + j] + a_b[H + j])
                    r_b[j] = r
                    rh_b[j] = r * h_in_b[j]
            product(on_h, pw_h, pa_h, NOTRANS, B, H, H, rh, H, W[2 * H:], 3 * H, zero, a[2 * H:],
                    3 * H)
            h_t, hh_t = hs[t * n:(t + 1) * n], hhs[t * n:(t + 1) * n]
            for b in range(B):
                g, s = b * 3 * H + 2 * H, b * H
                x_b, a_b, z_b, h_tm1_b = x_t[g:g + H], a[g:g + H], z_t[s:s + H], h_tm1[s:s + H]
                h_b, hh_b = h_t[s:s + H], hh_t[s:s + H]
                for j in range(H):
                    hh = act(x_b[j] + a_b[j])
                    hh_b[j] = hh
                    z = z_b[j]
                    h_b[j] = z * h_tm1_b[j] + (one - z) * hh
            keep(h_t, h_tm1, sm, t, B, H)
            h_tm1 = h_t
        shape = (T, B, H)
        return hs.reshape(shape), zs.reshape(shape), rs.reshape(shape), hhs.reshape(shape)
    return forward


def _gru_backward(record, act, inner, has_mask, has_step_mask, clip, first_step, dtype, matmul):
    one, zero = dtype.type(1), dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    d_act, d_inner = fastmath.derivative(act, dtype), fastmath.derivative(inner, dtype)
    masked, into_state_grad = _masked(has_mask), _into_state_grad(has_mask, clip)
    real = _is_real(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)
    input_states_product = _input_states_product(has_mask, dtype, matmul)

    def backward(xw, h0, W_h, mask, step_mask, hs, zs, rs, hhs, dhs):
        T, B, H = check_forward_inputs(xw, h0, h0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        if (not_stack(hs, T, B, H) | not_stack(zs, T, B, H) | not_stack(rs, T, B, H)
                | not_stack(hhs, T, B, H) | not_stack(dhs, T, B, H)):
            raise ValueError("recurrence kernel: hs, z, r, hh and dhs must be [T, B, H]")
        W, m, sm, h0f = flat(W_h), flat(mask), flat(step_mask), flat(h0)
        h, dh_out = flat(hs), flat(dhs)
        z_all, r_all, hh_all = flat(zs), flat(rs), flat(hhs)
        n, w = B * H, B * 3 * H
        dxw = np.zeros(T * w, dtype)
        h_ins = np.empty(T * n if has_mask else 0, dtype)   # each step's h_in, for dU_zr
        rhs = np.empty(T * n, dtype)                         # and r * h_in, for dU_h
        d_rh, dh_in, direct = np.empty(n, dtype), np.empty(n, dtype), np.empty(n, dtype)
        dh, dmask = np.zeros(n, dtype), np.zeros(m.size, dtype)
        lo = first_step(T)
        # U_h^T and U_zr^T (W's last H columns, its first 2H), each packed on its own
        on_h, pw_h, pa_h = setup(TRANS, B, H, H, W[2 * H:], 3 * H)
        on_zr, pw_zr, pa_zr = setup(TRANS, B, H, 2 * H, W, 3 * H)
        for t in range(T - 1, lo - 1, -1):
            h_tm1 = h[(t - 1) * n:t * n] if t > 0 else h0f
            h_in = masked(h_ins[t * n:(t + 1) * n], h_tm1, m)
            da_t, dh_t, rh_t = dxw[t * w:(t + 1) * w], dh_out[t * n:(t + 1) * n], rhs[t * n:(t + 1) * n]
            z_t, r_t, hh_t = z_all[t * n:(t + 1) * n], r_all[t * n:(t + 1) * n], hh_all[t * n:(t + 1) * n]
            # a padded row: no gate gradients, its whole state gradient goes "direct"
            for b in range(B):
                g, s, is_real = b * 3 * H, b * H, real(sm, t * B + b)
                # row views, indexed from 0 (see the LSTM's forward)
                da_b, dh_t_b, dh_b, z_b, hh_b = (da_t[g:g + 3 * H], dh_t[s:s + H], dh[s:s + H],
                                                 z_t[s:s + H], hh_t[s:s + H])
                h_tm1_b, direct_b, rh_b = h_tm1[s:s + H], direct[s:s + H], rh_t[s:s + H]
                r_b, h_in_b = r_t[s:s + H], h_in[s:s + H]
                for j in range(H):
                    dh_total = dh_t_b[j] + dh_b[j]
                    z, hh = z_b[j], hh_b[j]
                    da_b[j] = dh_total * (h_tm1_b[j] - hh) * d_inner(z) if is_real else zero
                    da_b[2 * H + j] = dh_total * (one - z) * d_act(hh) if is_real else zero
                    direct_b[j] = dh_total * z if is_real else dh_total
                    rh_b[j] = r_b[j] * h_in_b[j] if is_real else zero
            product(on_h, pw_h, pa_h, TRANS, B, H, H, da_t[2 * H:], 3 * H, W[2 * H:], 3 * H,
                    zero, d_rh, H)
            for b in range(B):
                g, s, is_real = b * 3 * H + H, b * H, real(sm, t * B + b)
                r_b, da_b, d_rh_b = r_t[s:s + H], da_t[g:g + H], d_rh[s:s + H]
                h_in_b, dh_in_b = h_in[s:s + H], dh_in[s:s + H]
                for j in range(H):
                    r = r_b[j]
                    da_b[j] = d_rh_b[j] * h_in_b[j] * d_inner(r) if is_real else zero
                    dh_in_b[j] = d_rh_b[j] * r if is_real else zero
            product(on_zr, pw_zr, pa_zr, TRANS, B, H, 2 * H, da_t, 3 * H, W, 3 * H, one, dh_in, H)
            into_state_grad(dh, dh_in, direct, h_tm1, m, dmask, True)
        dW = np.empty(H * 3 * H, dtype)
        rows = (T - lo) * B
        input_states_product(lo, T, B, H, 2 * H, h_ins, h0f, h, dxw, 3 * H, dW, 3 * H)
        matmul(TRANS, NOTRANS, H, H, rows, one, rhs[lo * n:], H, dxw[lo * w + 2 * H:], 3 * H,
               zero, dW[2 * H:], 3 * H)
        dh0 = dh if lo == 0 else np.zeros(n, dtype)
        return (dxw.reshape((T, B, 3 * H)), dh0.reshape((B, H)), dW.reshape((H, 3 * H)),
                dmask.reshape(mask.shape), np.zeros(step_mask.shape, dtype))
    return backward


# --- LSTM (Keras 1 gates i, f, c, o) ------------------------------------------------------

def _lstm_forward(record, act, inner, has_mask, has_step_mask, dtype, matmul):
    zero = dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    masked, keep = _masked(has_mask), _keep_padded_rows(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)

    def forward(xw, h0, c0, W_h, mask, step_mask):
        T, B, H = check_forward_inputs(xw, h0, c0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        x, W, m, sm = flat(xw), flat(W_h), flat(mask), flat(step_mask)
        h_tm1, c_tm1 = flat(h0), flat(c0)
        n, w = B * H, B * 4 * H
        hs, cs, acs = np.empty(T * n, dtype), np.empty(T * n, dtype), np.empty(T * n, dtype)
        i_s, f_s = np.empty(T * n, dtype), np.empty(T * n, dtype)
        g_s, o_s = np.empty(T * n, dtype), np.empty(T * n, dtype)
        a, h_in_buf = np.empty(w, dtype), np.empty(n, dtype)
        on, pw, pa = setup(NOTRANS, B, 4 * H, H, W, 4 * H)
        for t in range(T):
            h_in = masked(h_in_buf, h_tm1, m)
            product(on, pw, pa, NOTRANS, B, 4 * H, H, h_in, H, W, 4 * H, zero, a, 4 * H)
            x_t, q = x[t * w:(t + 1) * w], t * n     # q: step t's offset in the [T, B, H] outputs
            for b in range(B):
                # Row views indexed from 0, so that LLVM vectorises the loops (see the
                # module's docstring); two loops rather than one: LLVM checks the arrays a
                # loop touches for overlap at run time, and gives up past a few.
                g4, s, p = b * 4 * H, q + b * H, b * H
                a_b, x_b = a[g4:g4 + 4 * H], x_t[g4:g4 + 4 * H]
                for j in range(H):          # the gates, in place in a
                    a_b[j] = inner(x_b[j] + a_b[j])
                    a_b[H + j] = inner(x_b[H + j] + a_b[H + j])
                    a_b[2 * H + j] = act(x_b[2 * H + j] + a_b[2 * H + j])
                    a_b[3 * H + j] = inner(x_b[3 * H + j] + a_b[3 * H + j])
                c_b, cs_b, acs_b, hs_b = c_tm1[p:p + H], cs[s:s + H], acs[s:s + H], hs[s:s + H]
                i_b, f_b, g_b, o_b = i_s[s:s + H], f_s[s:s + H], g_s[s:s + H], o_s[s:s + H]
                for j in range(H):          # the states
                    c = a_b[H + j] * c_b[j] + a_b[j] * a_b[2 * H + j]
                    ac = act(c)
                    cs_b[j] = c
                    acs_b[j] = ac
                    hs_b[j] = a_b[3 * H + j] * ac
                    # the gates the backward pass reads (element by element: a slice
                    # assignment compiles Numba's shape-mismatch message formatting)
                    i_b[j] = a_b[j]
                    f_b[j] = a_b[H + j]
                    g_b[j] = a_b[2 * H + j]
                    o_b[j] = a_b[3 * H + j]
            keep(hs[q:q + n], h_tm1, sm, t, B, H)   # act_c stays the step's own, as saved
            keep(cs[q:q + n], c_tm1, sm, t, B, H)
            h_tm1, c_tm1 = hs[q:q + n], cs[q:q + n]
        shape = (T, B, H)
        return (hs.reshape(shape), cs.reshape(shape), i_s.reshape(shape), f_s.reshape(shape),
                g_s.reshape(shape), o_s.reshape(shape), acs.reshape(shape))
    return forward


def _lstm_backward(record, act, inner, has_mask, has_step_mask, clip, first_step, dtype,
                   matmul):
    zero = dtype.type(0)
    n_gates, has_c = record.n_gates, record.n_states == 2
    d_act, d_inner = fastmath.derivative(act, dtype), fastmath.derivative(inner, dtype)
    mask_into, into_state_grad = _mask_into(has_mask), _into_state_grad(has_mask, clip)
    real = _is_real(has_step_mask, dtype)
    setup, product = _recurrent_product(dtype, matmul)
    input_states_product = _input_states_product(has_mask, dtype, matmul)

    def backward(xw, h0, c0, W_h, mask, step_mask, hs, cs, i_s, f_s, g_s, o_s, acs, dhs, dcs):
        T, B, H = check_forward_inputs(xw, h0, c0, W_h, mask, step_mask, n_gates, has_c,
                                       has_mask, has_step_mask)
        if (not_stack(hs, T, B, H) | not_stack(cs, T, B, H) | not_stack(i_s, T, B, H)
                | not_stack(f_s, T, B, H) | not_stack(g_s, T, B, H) | not_stack(o_s, T, B, H)
                | not_stack(acs, T, B, H) | not_stack(dhs, T, B, H) | not_stack(dcs, T, B, H)):
            raise ValueError("recurrence kernel: hs, cs, the gates and dhs, dcs must be [T, B, H]")
        W, m, sm, h0f, c0f = flat(W_h), flat(mask), flat(step_mask), flat(h0), flat(c0)
        h, c_all, i_all, f_all = flat(hs), flat(cs), flat(i_s), flat(f_s)
        g_all, o_all, ac_all = flat(g_s), flat(o_s), flat(acs)
        dh_out, dc_out = flat(dhs), flat(dcs)
        n, w = B * H, B * 4 * H
        dxw, h_ins = np.zeros(T * w, dtype), np.empty(T * n if has_mask else 0, dtype)
        dh_in, dh, dc = np.empty(n, dtype), np.zeros(n, dtype), np.zeros(n, dtype)
        dmask = np.zeros(m.size, dtype)
        passed = np.empty(n, dtype)   # a padded row's h gradient, whole (0 in a real row)
        lo = first_step(T)
        on, pw, pa = setup(TRANS, B, H, 4 * H, W, 4 * H)
        for t in range(T - 1, lo - 1, -1):
            h_tm1 = h[(t - 1) * n:t * n] if t > 0 else h0f
            c_tm1 = c_all[(t - 1) * n:t * n] if t > 0 else c0f
            if has_mask:
                mask_into(h_ins[t * n:(t + 1) * n], h_tm1, m)
            da_t, q = dxw[t * w:(t + 1) * w], t * n
            for b in range(B):
                g4, s, p = b * 4 * H, q + b * H, b * H   # row views, as in the forward
                da_b, dh_b, dc_b = da_t[g4:g4 + 4 * H], dh[p:p + H], dc[p:p + H]
                dh_out_b, dc_out_b, passed_b = dh_out[s:s + H], dc_out[s:s + H], passed[p:p + H]
                if real(sm, t * B + b):
                    o_b, ac_b, i_b = o_all[s:s + H], ac_all[s:s + H], i_all[s:s + H]
                    g_b, f_b, c_b = g_all[s:s + H], f_all[s:s + H], c_tm1[p:p + H]
                    for j in range(H):
                        dh_total = dh_out_b[j] + dh_b[j]
                        o, ac, i, g, f = o_b[j], ac_b[j], i_b[j], g_b[j], f_b[j]
                        dc_total = dc_out_b[j] + dc_b[j] + dh_total * o * d_act(ac)
                        da_b[j] = dc_total * g * d_inner(i)
                        da_b[H + j] = dc_total * c_b[j] * d_inner(f)
                        da_b[2 * H + j] = dc_total * i * d_act(g)
                        da_b[3 * H + j] = dh_total * ac * d_inner(o)
                        dc_b[j] = clip(dc_total * f)
                    if has_step_mask:
                        for j in range(H):
                            passed_b[j] = zero
                else:   # padded (only with a step mask): dxw's rows stay 0, h and c pass whole
                    for j in range(H):
                        passed_b[j] = dh_out_b[j] + dh_b[j]
                        dc_b[j] = clip(dc_out_b[j] + dc_b[j])
            product(on, pw, pa, TRANS, B, H, 4 * H, da_t, 4 * H, W, 4 * H, zero, dh_in, H)
            into_state_grad(dh, dh_in, passed, h_tm1, m, dmask, has_step_mask)
        dW = np.empty(H * 4 * H, dtype)
        input_states_product(lo, T, B, H, 4 * H, h_ins, h0f, h, dxw, 4 * H, dW, 4 * H)
        dh0 = dh if lo == 0 else np.zeros(n, dtype)
        dc0 = dc if lo == 0 else np.zeros(n, dtype)
        return (dxw.reshape((T, B, 4 * H)), dh0.reshape((B, H)), dc0.reshape((B, H)),
                dW.reshape((H, 4 * H)), dmask.reshape(mask.shape), np.zeros(step_mask.shape, dtype))
    return backward


_FORWARD = {"simple": _simple_forward, "gru": _gru_forward, "lstm": _lstm_forward}
_BACKWARD = {"simple": _simple_backward, "gru": _gru_backward, "lstm": _lstm_backward}


def forward_kernel(cell, act, inner_act, has_mask, dtype, *, has_step_mask=False):
    """Jitted ``(xw, h0[, c0], W_h[, mask][, step_mask]) -> (states..., saved gates...)``."""
    body = forward_body(cell, act, inner_act, has_mask, has_step_mask, str(np.dtype(dtype)))
    return bodies.adapter("forward", body.function, _forward_parameters(cell_record(cell)),
                          _absent(has_mask, has_step_mask), np.dtype(dtype))


def backward_kernel(cell, act, inner_act, has_mask, grad_clip, truncate_gradient, dtype, *,
                    has_step_mask=False):
    """Jitted ``(forward inputs, forward outputs, state grads) -> input grads``.

    The gradients are those of the op's forward inputs, in order; the step
    mask's is zeros.
    """
    body = backward_body(cell, act, inner_act, has_mask, has_step_mask, grad_clip,
                         truncate_gradient, str(np.dtype(dtype)))
    record = cell_record(cell)
    return bodies.adapter("backward", body.function, _backward_parameters(record),
                          _absent(has_mask, has_step_mask), np.dtype(dtype),
                          results=[f"d_{name}" for name in _forward_parameters(record)])


@cache
def forward_body(cell, act, inner_act, has_mask, has_step_mask, dtype):
    """The forward :class:`~.bodies.Body` of one configuration (``dtype`` a name: 'float32')."""
    config = ("forward", cell, act, inner_act, has_mask, has_step_mask)
    dtype, record = np.dtype(dtype), cell_record(cell)
    inner = fastmath.activation(inner_act or "linear", dtype)
    body = _FORWARD[record.name](record, fastmath.activation(act, dtype), inner, has_mask,
                                 has_step_mask, dtype, matmul_for(dtype))
    return _body(body, config, _forward_parameters(record), dtype)


@cache
def backward_body(cell, act, inner_act, has_mask, has_step_mask, grad_clip, truncate_gradient,
                  dtype):
    """The backward :class:`~.bodies.Body` of one configuration (``dtype`` a name)."""
    config = ("backward", cell, act, inner_act, has_mask, has_step_mask, grad_clip,
              truncate_gradient)
    dtype, record = np.dtype(dtype), cell_record(cell)
    body = _BACKWARD[record.name](record, act, inner_act or "linear", has_mask, has_step_mask,
                                  _clipper(grad_clip, dtype), _first_step(truncate_gradient),
                                  dtype, matmul_for(dtype))
    return _body(body, config, _backward_parameters(record), dtype)


def _body(body, config, parameters, dtype):
    return bodies.Body.of(body, cache_key("body", config, dtype),
                          [_rank(p) for p in parameters], dtype)


def _rank(parameter):
    """A body parameter's rank: the initial states and the ``[B, H]`` or ``[T, B]`` masks
    are matrices, as ``W_h`` is; every sequence (``xw``, states, saved gates, their
    gradients) is ``[T, B, width]``."""
    return 2 if parameter.endswith("0") or parameter in ("W_h", "mask", "step_mask") else 3


# The kernel bodies take every optional input; the op has only those its props name. An
# adapter generated from the parameter names takes the op's inputs and passes the body a
# C-ordered copy of each (no copy for a C array: the body's signature is then fixed,
# see bodies.py) and an empty array for each other one (never read: the body's has_mask /
# has_step_mask are False), and drops the gradients of those. Generated parameters, not
# *args, keep Numba from building tuples of array structs.

_STATES = ("h", "c")   # the carried states' names, h first (a record carries one or two)


def _forward_parameters(record):
    """The forward body's parameters: the op's inputs, the optional ones included."""
    return ["xw", *(f"{s}0" for s in _STATES[:record.n_states]), "W_h", "mask", "step_mask"]


def _backward_parameters(record):
    """The backward body's parameters: forward inputs, every forward output, state grads."""
    states = _STATES[:record.n_states]
    return (_forward_parameters(record) + [f"{s}s" for s in states]
            + [f"saved_{gate}" for gate in record.saved] + [f"d{s}s" for s in states])


def _absent(has_mask, has_step_mask):
    """The optional inputs an op with these props does not have."""
    return {name for name, has in (("mask", has_mask), ("step_mask", has_step_mask)) if not has}


def callable_from_python(kernel, cache_key=None):
    """``kernel`` with a CPython entry point, to call it directly (tests, benchmarks).

    PyTensor's kernels have none: they are only called from compiled graphs.
    The entry point has the kernel's parameters and the kernel's body inlined
    (one compilation, the same code and options); with a ``cache_key`` (unique
    to the kernel's configuration and code) it goes to PyTensor's on-disk
    Numba cache, as the graphs' functions do.
    """
    params = ", ".join(inspect.signature(kernel.py_func).parameters)
    source = f"def entry({params}):\n    return kernel({params})\n"
    inlined = numba_njit(kernel.py_func, inline="always", error_model="numpy")
    entry = compile_numba_function_src(source, "entry", {"__name__": __name__, "kernel": inlined},
                                       cache_key=cache_key)
    return numba_njit(entry, final_function=True, error_model="numpy",
                      cache=cache_key is not None)
