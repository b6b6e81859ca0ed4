"""symrnn.compat is the one place that knows PyTensor's and Numba's versions and private names."""
import ast
import subprocess
import sys

import pytest
from imports import PACKAGE_ROOT

from symrnn import compat

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

PRIVATE_PREFIXES = ("pytensor.link.numba", "numba.core")


def test_every_numba_side_name_imports_on_this_pytensor():
    assert compat.numba_internals_available()
    for name in compat._NUMBA_NAMES:
        assert callable(getattr(compat, name)), name


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'numba_jit'"):
        compat.numba_jit  # noqa: B018


def test_importing_compat_does_not_import_numba():
    code = "import sys, symrnn.compat, symrnn.layers; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


@pytest.mark.parametrize("folder", ["symrnn", "tests", "lessons"])
def test_private_pytensor_and_numba_modules_are_imported_in_compat_only(folder):
    root = PACKAGE_ROOT.parent / folder
    found = [(str(path.relative_to(root.parent)), module)
             for path in sorted(root.rglob("*.py")) if path.name != "compat.py"
             for module in _imported_modules(path) if module.startswith(PRIVATE_PREFIXES)]
    assert found == []


def test_a_row_lookup_is_found_on_the_first_axis_only():
    import pytensor.tensor as pt
    E, v = pt.matrix("E"), pt.lvector("v")
    assert compat.row_lookup(E[v]) == (E, v)
    for other in (E[:, v], E[v, 1:], E[1:], E[v] + 1, E):
        assert compat.row_lookup(other) is None
