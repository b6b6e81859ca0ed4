"""Test settings: fast-compiling backend by default, opt-in slow tests.

Most graphs here are tiny, so PyTensor's pure-python FAST_COMPILE mode (backend
``py``) builds them in well under a second; tests that must exercise the real
default backend ask for it by name.
"""
import os

import pytest

os.environ.setdefault("SYMRNN_BACKEND", "py")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run long lesson reproductions")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
