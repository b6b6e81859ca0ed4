"""Every lesson script runs end to end on a small slice (``--quick``)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def test_there_are_lessons():
    assert len(LESSONS) >= 3


@pytest.mark.parametrize("script", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_quick(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SYMRNN_BACKEND=os.environ.get("SYMRNN_BACKEND", "py"))
    done = subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "a lesson must print what it shows"


@pytest.mark.parametrize("script", LESSONS, ids=lambda p: p.stem)
def test_lesson_is_a_story_with_main(script):
    source = script.read_text()
    assert source.startswith('"""'), "a lesson opens with a docstring saying what it shows"
    assert "def main(argv=None)" in source
    assert "# %%" in source, "lessons use the percent-cell format so they open as notebooks"
