"""The lesson scripts as the tests see them: where they are, which there must be, how to import one."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
# one script per lesson section (00 the data step, 13-18 the related articles and examples): a
# deleted or renumbered lesson fails test_lessons_quick
EXPECTED_NUMBERS = [f"{n:02d}" for n in range(19)]


def load_lesson(stem):
    """Import ``lessons/<stem>.py`` as a module (its ``main`` does not run)."""
    spec = importlib.util.spec_from_file_location(f"lesson_{stem}", ROOT / "lessons" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
