"""Every docstring example in the package runs and prints what it says."""
import doctest
import importlib
import pkgutil

import pytest

import symrnn

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

# __main__ modules run a program when imported (symrnn, symrnn.bench)
MODULES = sorted(m.name for m in pkgutil.walk_packages(symrnn.__path__, "symrnn.")
                 if not m.name.endswith(".__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
