"""Every lesson script runs end to end on a small slice (``--quick``)."""
import os
import subprocess
import sys

import pytest
from lesson_scripts import EXPECTED_NUMBERS, LESSONS, ROOT


def test_every_lesson_section_has_exactly_one_script():
    numbers = [script.name[:2] for script in LESSONS]
    assert numbers == EXPECTED_NUMBERS, f"lesson scripts found: {[s.name for s in LESSONS]}"


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
    # the flags, the --quick slice and the corpus come from one helper, not from each lesson
    assert "lesson_setup(" in source or "lesson_args(" in source
    for scaffolding in ("argparse", "lesson_parser(", "parse_lesson_args(", "load_lesson_corpus(",
                        "load_corpus("):
        assert scaffolding not in source, f"{scaffolding} belongs in symrnn.app.lessonkit"
