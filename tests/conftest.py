"""Test settings: fast-compiling backend by default, opt-in slow tests.

Most graphs here are tiny, so PyTensor's pure-python FAST_COMPILE mode (backend
``py``) builds them in well under a second; tests that must exercise the real
default backend ask for it by name. The same goes for graphs a test compiles
with plain ``pytensor.function`` or ``.eval()``: PyTensor's own default mode
would compile them for Numba, which costs seconds per new graph on a cold cache.
"""
import os
import sys
from pathlib import Path

import pytensor
import pytest

# the tests live in folders mirroring the package; their shared helpers (imports.py,
# state.py, ...) live here, beside this file
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("SYMRNN_BACKEND", "py")
# No helper process compiling ahead in `symrnn train` runs (symrnn.app.ahead): its own tests
# start it; elsewhere it would only add cold compiles to the suite.
os.environ.setdefault("SYMRNN_COMPILE_AHEAD", "0")
pytensor.config.mode = "FAST_COMPILE"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true",
                     help="run long lesson reproductions (and the heavy tests)")
    parser.addoption("--heavy", action="store_true",
                     help="run the tests that compile whole models for Numba or JAX")


def runs_heavy(config):
    """Whether this run compiles whole models for Numba and JAX (``--heavy``, ``--runslow``)."""
    return config.getoption("--heavy") or config.getoption("--runslow")


def pytest_collection_modifyitems(config, items):
    # The default suite stays under 6 minutes on 2 cores with fresh caches: long Numba/JAX
    # compiles (whole models: about 20 s each there) are opt-in, and .ci/run opts in.
    skip_slow = pytest.mark.skip(reason="slow: pass --runslow to run")
    skip_heavy = pytest.mark.skip(reason="a long Numba/JAX compile or training run: pass --heavy")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        elif "heavy" in item.keywords and not runs_heavy(config):
            item.add_marker(skip_heavy)
