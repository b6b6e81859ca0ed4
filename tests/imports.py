"""What a module imports, read from its source with ``ast`` (relative imports resolved)."""
import ast
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent   # tests/: its helper modules live here
REPO_ROOT = TESTS_DIR.parent
PACKAGE_ROOT = REPO_ROOT / "symrnn"


def module_name(path):
    """``symrnn/graph/cells.py`` -> ``symrnn.graph.cells`` (a package's ``__init__`` -> the package)."""
    parts = list(Path(path).resolve().relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path, top_level_only=False):
    """``{(imported module, line, at module level)}`` for every import in the file at ``path``.

    ``from . import x`` counts as importing ``package.x`` (it may be a module).
    """
    path = Path(path)
    tree = ast.parse(path.read_text())
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    module_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        at_top = id(node) in module_level
        if isinstance(node, ast.Import):
            found.update((alias.name, node.lineno, at_top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:   # from . import a, b
                found.update((f"{module}.{a.name}", node.lineno, at_top) for a in node.names)
            else:
                found.add((module, node.lineno, at_top))
    return {f for f in found if f[2]} if top_level_only else found
