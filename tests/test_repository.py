"""The repository points users only at what they have: no developer-workspace paths.

The project was written beside a workspace (a sibling folder holding the
lesson's corpus and notes) that users do not get; a command or link into it
would fail for everyone else. Users pass ``--corpus nietzsche`` (downloaded
and checked) or a path to their own copy.
"""
import shutil
import subprocess
from pathlib import Path

import pytest
from imports import REPO_ROOT

ROOT = REPO_ROOT
# spelled in pieces so this file does not mention them itself
WORKSPACE_MARKERS = [".." + "/shared", "/work" + "/shared", "LESSON6" + "_FACTS"]


def tracked_files():
    """Paths of the files git tracks here; skips outside a git checkout (e.g. an sdist)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    inside = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT,
                            capture_output=True, text=True)
    if inside.returncode != 0 or Path(inside.stdout.strip()).resolve() != ROOT:
        pytest.skip("not a git checkout of this project (e.g. an unpacked sdist)")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def test_no_tracked_file_mentions_the_developer_workspace():
    files = tracked_files()
    assert any(f.name == "pyproject.toml" for f in files), "git ls-files listed the wrong tree"
    offenders = []
    for path in files:
        if not path.is_file():      # deleted in the working tree but still in the index
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for line_no, line in enumerate(text.splitlines(), 1):
            offenders += [f"{path.relative_to(ROOT)}:{line_no}: {marker}"
                          for marker in WORKSPACE_MARKERS if marker in line]
    assert not offenders, "workspace paths users do not have:\n" + "\n".join(offenders)
