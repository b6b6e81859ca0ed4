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
pytensor.config.mode = "FAST_COMPILE"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run long lesson reproductions")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
