"""A float32 row-major product ``c = a . op(W)`` with ``W`` packed once, for the recurrence kernels.

OpenBLAS packs both operands into its blocked layout on every ``sgemm`` call.
A recurrence multiplies by the same ``W_h`` at every step, so re-packing it
(``sgemm_itcopy`` / ``sgemm_incopy``, a plain copy on SkylakeX) is a large part
of each per-step product. scipy's bundled OpenBLAS (``libscipy_openblas``)
exports its per-core copy routines and micro-kernel (``sgemm_itcopy_<CORE>``,
``sgemm_incopy_<CORE>``, ``sgemm_oncopy_<CORE>``, ``sgemm_kernel_<CORE>``), so
:func:`pack_w` packs ``W`` (or a column block of it) once per kernel call and
:func:`packed_matmul` packs only the small left operand per step and calls the
micro-kernel.
(OpenBLAS's CBLAS "direct" sgemm, which skips packing, is never reached from
``scipy_cblas_sgemm`` in this build, and its kernel is no faster here.)

These are OpenBLAS internals, not an API: :func:`enabled` is True only if the
library, a core in :data:`TESTED_CORES`, its symbols and a start-up self-test against numpy (with
tails, leading dimensions larger than the width, and buffer-overrun
sentinels) all pass, and ``SYMRNN_PACKED_GEMM`` is not ``0``. Otherwise the
kernels use :func:`symrnn.graph.numba.blas.matmul_for` as before. The check
runs once per process, on first use, and is read at run time by the kernels
(so a kernel loaded from the on-disk cache still honours it); a passed
self-test is recorded beside PyTensor's compile cache (:func:`passed_before`),
so a later process with the same library, core and code skips compiling it.
"""
import ctypes
import glob
import hashlib
import os
from pathlib import Path

import numpy as np

from ... import compat

ENV_SWITCH = "SYMRNN_PACKED_GEMM"
#: OpenBLAS cores whose packing and micro-kernel this module was measured and tested on
#: (the buffers' padding assumes their unrolling); others keep today's path.
TESTED_CORES = ("SKYLAKEX",)
_ROUTINES = ("itcopy", "incopy", "oncopy", "kernel")
_state = {}


def _library_path():
    import scipy
    libs = os.path.join(os.path.dirname(scipy.__file__), os.pardir, "scipy.libs")
    found = sorted(glob.glob(os.path.join(libs, "libscipy_openblas*.so*")))
    return os.path.realpath(found[0]) if found else None


def _library():
    path = _library_path()
    return ctypes.CDLL(path) if path else None


def _addresses():
    """``{routine: address}`` for the running core, or ``None`` (and why)."""
    try:
        lib = _library()
    except OSError as e:
        return None, f"cannot load scipy's OpenBLAS: {e}"
    if lib is None:
        return None, "no libscipy_openblas in scipy.libs"
    corename = getattr(lib, "scipy_openblas_get_corename", None)
    if corename is None:
        return None, "no scipy_openblas_get_corename"
    corename.restype = ctypes.c_char_p
    core = corename().decode().upper()
    if core not in TESTED_CORES:   # another core packs and blocks differently: not tried
        return None, f"OpenBLAS core {core} is not one the packed path was tested on"
    addresses = {}
    for routine in _ROUTINES:
        name = f"sgemm_{routine}_{core}"
        try:
            addresses[routine] = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
        except AttributeError:
            return None, f"no {name}"
    return addresses, core


def _address(routine):
    return _state["addresses"][routine]


def _make_functions():
    import numba
    from numba import types
    compat.call_cached_ptr   # noqa: B018 (resolves the lazy name before Numba types it)
    i64, f32, fp = types.int64, types.float32, types.CPointer(types.float32)
    copy_t = types.FunctionType(types.int32(i64, i64, fp, i64, fp))
    kernel_t = types.FunctionType(types.int32(i64, i64, i64, f32, fp, fp, fp, i64))
    njit = compat.numba_njit

    def pointer(routine):
        @njit
        def get():
            with numba.objmode(p=types.intp):
                p = _address(routine)
            return p
        return get

    p_itcopy, p_incopy, p_oncopy, p_kernel = (pointer(r) for r in _ROUTINES)

    @njit
    def enabled():
        """Whether the packed path passed its checks (read at run time, once per call)."""
        with numba.objmode(on=types.boolean):
            on = is_enabled()
        return on

    @njit
    def packed_size(k, n):
        """Floats for a packed ``W`` of ``k x n`` (padded, and room to align it to 64 bytes)."""
        return (k + 16) * (((n + 31) // 32) * 32) + 64

    @njit
    def aligned(buf):
        off = ((64 - buf.ctypes.data % 64) % 64) // 4
        return buf[off:]

    @njit
    def pack_w(trans, k, n, w, ldw, buf):
        """Pack ``op(w)`` (``[k, n]`` row-major, ``w`` stored ``[k, n]`` if ``trans == 'N'``
        else ``[n, k]``, row stride ``ldw``) into ``buf`` (``packed_size(k, n)`` floats)."""
        if buf.size < packed_size(k, n) or w.size < ((k if trans == ord("N") else n) - 1) * ldw + (
                n if trans == ord("N") else k):
            raise ValueError("direct_gemm: W does not fit its buffers")
        dst = aligned(buf)
        if trans == ord("N"):
            fn = compat.call_cached_ptr(get_ptr_func=p_itcopy, func_type_ref=copy_t,
                                        unique_func_name_lit="symrnn.direct_gemm.itcopy")
        else:
            fn = compat.call_cached_ptr(get_ptr_func=p_incopy, func_type_ref=copy_t,
                                        unique_func_name_lit="symrnn.direct_gemm.incopy")
        fn(np.int64(k), np.int64(n), w.ctypes, np.int64(ldw), dst.ctypes)

    @njit
    def packed_matmul(m, n, k, a, lda, packed, a_buf, beta, c, ldc):
        """Row-major ``c[m, n] = a[m, k] . W + beta * c`` with ``W`` from :func:`pack_w`
        and ``beta`` 0 or 1 (the micro-kernel adds to ``c``); ``a_buf``: scratch of
        ``packed_size(k, m)`` floats."""
        if (packed.size < packed_size(k, n) or a_buf.size < packed_size(k, m)
                or (m - 1) * lda + k > a.size or (m - 1) * ldc + n > c.size or lda < k or ldc < n):
            raise ValueError("direct_gemm: a matrix product does not fit its buffers")
        zero = np.float32(0)
        if beta != zero and beta != np.float32(1):
            raise ValueError("direct_gemm: beta must be 0 or 1")
        dst = aligned(a_buf)
        oncopy = compat.call_cached_ptr(get_ptr_func=p_oncopy, func_type_ref=copy_t,
                                        unique_func_name_lit="symrnn.direct_gemm.oncopy")
        oncopy(np.int64(k), np.int64(m), a.ctypes, np.int64(lda), dst.ctypes)
        if beta == zero:
            for row in range(m):
                c[row * ldc:row * ldc + n] = zero
        kernel = compat.call_cached_ptr(get_ptr_func=p_kernel, func_type_ref=kernel_t,
                                        unique_func_name_lit="symrnn.direct_gemm.kernel")
        kernel(np.int64(n), np.int64(m), np.int64(k), np.float32(1), aligned(packed).ctypes,
               dst.ctypes, c.ctypes, np.int64(ldc))

    fns = {"enabled": enabled, "packed_size": packed_size, "pack_w": pack_w,
           "packed_matmul": packed_matmul}
    # Python-callable twins (compat.numba_njit leaves out the CPython wrapper)
    fns.update({f"py_{name}": njit(fn.py_func, final_function=True) for name, fn in list(fns.items())})
    return fns


def functions():
    """The Numba functions, and ``py_<name>`` twins callable from Python (compiled lazily)."""
    if "functions" not in _state:
        _state["functions"] = _make_functions()
    return _state["functions"]


# (m, n, k, trans, beta): the LSTM's shapes at B=64, H=256, the GRU's accumulating one, and
# small ones with every tail
SELF_TEST_SHAPES = ((64, 1024, 256, "N", 0), (64, 256, 1024, "T", 0), (64, 256, 512, "T", 1),
                    (7, 37, 19, "N", 0), (5, 33, 70, "T", 0), (2, 3, 1, "N", 1),
                    (17, 16, 16, "T", 0), (9, 21, 43, "T", 1))


def self_test(shapes=SELF_TEST_SHAPES, functions_=None):
    """Compare the packed product with numpy on ``shapes``; returns ``None`` or the failure."""
    f = functions_ or functions()
    rng = np.random.default_rng(1234)
    sentinel = np.float32(-7.5)
    for m, n, k, trans, beta in shapes:
        ldw, lda, ldc = n + 3, k + 2, n + 5
        stored = (k, ldw) if trans == "N" else (n, k + 1)
        w_full = rng.standard_normal(stored).astype(np.float32)
        w = w_full[:, :n] if trans == "N" else w_full[:, :k].T
        a_full = rng.standard_normal((m, lda)).astype(np.float32)
        a = a_full[:, :k]
        c = np.full((m, ldc), sentinel, np.float32)
        c[:, :n] = rng.standard_normal((m, n)) if beta else np.nan   # beta 0 must not read c
        expected = a.astype(np.float64) @ w.astype(np.float64) + (c[:, :n] if beta else 0)
        size_w, size_a = f["py_packed_size"](k, n), f["py_packed_size"](k, m)
        packed = np.full(size_w + 64, sentinel, np.float32)
        a_buf = np.full(size_a + 64, sentinel, np.float32)
        c = c.ravel()
        f["py_pack_w"](np.int64(ord(trans)), k, n, w_full.ravel(), stored[1], packed[:size_w])
        f["py_packed_matmul"](m, n, k, a_full.ravel(), lda, packed[:size_w], a_buf[:size_a],
                              np.float32(beta), c, ldc)
        got = c.reshape(m, ldc)
        case = (m, n, k, trans, beta)
        if not (np.all(packed[size_w:] == sentinel) and np.all(a_buf[size_a:] == sentinel)):
            return f"packing overran its buffer at {case}"
        if not np.all(got[:, n:] == sentinel):
            return f"the product wrote outside c at {case}"
        err = np.abs(got[:, :n] - expected).max() / max(np.abs(expected).max(), 1e-30)
        if not err < 1e-5:
            return f"relative error {err:.3g} at {case}"
    return None


def is_enabled():
    """Whether the kernels use the packed path (checked once per process)."""
    if "enabled" not in _state:
        _state["enabled"], _state["why"] = _check()
    return _state["enabled"]


def why():
    """Why the packed path is off, or the core it runs on."""
    is_enabled()
    return _state["why"]


def _check():
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False, f"{ENV_SWITCH}=0"
    addresses, core = _addresses()
    if addresses is None:
        return False, core
    _state["addresses"] = addresses
    passed = passed_before(core)
    if passed.exists():   # this library, core and code passed already: no compile to redo
        return True, core
    try:
        failure = self_test()
    except Exception as e:   # noqa: BLE001 (any compile or call failure: run without it)
        failure = f"self-test raised {e!r}"
    if failure:
        return False, failure
    _record_pass(passed)
    return True, core


def passed_before(core, cache_dir=None):
    """The file that records a passed self-test of this library file, ``core`` and code.

    The self-test compiles the packed path's functions for Python (about a second per
    process); a pass is kept beside PyTensor's compile cache (``cache_dir``, by default
    its ``base_compiledir``), named by a digest of the library's path, size and
    modification time, the core, this module's source and the Numba version, so that a
    new library, core or code tests again. A failure is never recorded.
    """
    import numba
    from pytensor import config
    library = _library_path()
    stat = os.stat(library) if library else None
    facts = (library, stat and stat.st_size, stat and stat.st_mtime_ns, core, numba.__version__,
             hashlib.sha256(Path(__file__).read_bytes()).hexdigest())
    digest = hashlib.sha256(repr(facts).encode()).hexdigest()[:32]
    return Path(cache_dir or config.base_compiledir) / "symrnn" / f"packed_gemm_passed_{digest}"


def _record_pass(path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text("the packed-path self-test passed\n")
        os.replace(temporary, path)   # atomic: a reader sees the whole file or none
    except OSError:   # a read-only cache: test again next time
        pass
