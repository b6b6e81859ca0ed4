"""Environments for the child processes symrnn starts (benchmark probes, background compiles).

>>> env = isolated_caches({"PYTENSOR_FLAGS": "floatX=float32,base_compiledir=/old"}, "/tmp/c")
>>> env["PYTENSOR_FLAGS"], env["NUMBA_CACHE_DIR"]
('floatX=float32,base_compiledir=/tmp/c/pytensor', '/tmp/c/numba')
"""
import os

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def with_package_on_path(env):
    """``env`` with the directory holding this ``symrnn`` first on ``PYTHONPATH``."""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def isolated_caches(env, cache_dir):
    """``env`` with PyTensor's and Numba's caches under ``cache_dir``.

    ``base_compiledir``, not ``compiledir``: PyTensor 3 keeps its Numba cache in
    ``base_compiledir/numba`` (not in ``NUMBA_CACHE_DIR``), so a fresh
    ``compiledir`` alone would leave the Numba cache warm. Compile-dir flags
    already in ``PYTENSOR_FLAGS`` are replaced.
    """
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and "compiledir" not in f]
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    return env
