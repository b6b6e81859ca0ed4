"""symrnn.runtime: freed blocks are reused without new page faults; user settings win."""
import os
import platform
import subprocess
import sys

import pytest

from symrnn import runtime as allocator
from symrnn.runtime import with_package_on_path

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A child process repeats a "step" the way a compiled function does: several 3 MB arrays
# (above glibc's default mmap threshold) alive at once, touched, then all freed. It prints
# the minor page faults of the repeats after the first.
CHILD = """
import resource, sys
import numpy as np
from symrnn.runtime import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
def step():
    arrays = [np.empty(750_000, dtype=np.float32) for _ in range(6)]
    for a in arrays:
        a.fill(1.0)
    return sum(float(a[-1]) for a in arrays)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_child(mode, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env = with_package_on_path({**env, **(extra_env or {})})
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_freed_blocks_are_reused_without_page_faults():
    applied, faults = run_child("keep")
    assert applied == "True"
    assert faults < 100   # 20 x 18 MB would be about 88,000 fresh 4 kB pages


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_default_malloc_faults_on_every_step():
    """The reason the module exists (if glibc ever reuses such blocks by itself, the
    module is no longer needed and this test says so)."""
    applied, faults = run_child("system")
    assert applied == "None"
    assert faults > 20 * 100


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_a_users_malloc_environment_is_left_alone():
    # the user's variable asks for mmap above 1 MB: keep_freed_memory must not override it
    applied, faults = run_child("keep", {"MALLOC_MMAP_THRESHOLD_": str(1024 * 1024)})
    assert applied == "True"
    assert faults > 20 * 100


def test_without_glibc_nothing_changes(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
