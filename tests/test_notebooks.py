"""Every lesson script opens as a notebook (jupytext, percent format) and round-trips."""
import pytest
from lesson_scripts import EXPECTED_NUMBERS, LESSONS

jupytext = pytest.importorskip("jupytext", reason="jupytext is in the test extra: pip install 'symrnn[test]'")


def cells(nb):
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def test_every_lesson_is_converted():
    assert [script.name[:2] for script in LESSONS] == EXPECTED_NUMBERS


@pytest.mark.parametrize("script", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_markdown_and_code_cells(script):
    nb = jupytext.read(script)
    kinds = [kind for kind, _ in cells(nb)]
    assert kinds.count("markdown") >= 2, "a lesson explains itself in markdown cells"
    assert kinds.count("code") >= 3
    assert nb.cells[0].cell_type == "code" and nb.cells[0].source.startswith('"""')
    assert any("def main(argv=None)" in source for kind, source in cells(nb) if kind == "code")
    # markdown cells hold prose, not commented-out code that jupytext mistook for text
    assert all(source.strip() for kind, source in cells(nb) if kind == "markdown")


@pytest.mark.parametrize("script", LESSONS, ids=lambda p: p.stem)
def test_lesson_round_trips_through_a_notebook(script):
    source = script.read_text(encoding="utf-8")
    nb = jupytext.read(script)
    as_percent = jupytext.writes(nb, fmt="py:percent")
    # jupytext only marks the opening docstring as a cell; nothing else is rewritten
    assert as_percent == "# %%\n" + source
    ipynb = jupytext.writes(nb, fmt="ipynb")
    back = jupytext.reads(ipynb, fmt="ipynb")
    assert cells(back) == cells(nb)
    assert jupytext.writes(back, fmt="py:percent") == as_percent
