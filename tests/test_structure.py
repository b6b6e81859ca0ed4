"""The package's shape: imports point one way, layers stay a shell, one builder per model.

Read from the source with ``ast`` (tests/imports.py), so a violation fails here
whether or not the offending line ever runs.
"""
import ast

import pytest
from imports import PACKAGE_ROOT, imports_of, module_name

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

# Rank of each part of the package: a module may import its own part and lower ranks only.
# bench and app both sit on top; the CLI (app) runs the benchmark, so app > bench.
RANK = {"symrnn": 0, "symrnn.errors": 0, "symrnn.compat": 1, "symrnn.io": 1, "symrnn.runtime": 1,
        "symrnn.data": 2, "symrnn.graph": 3, "symrnn.layers": 4, "symrnn.lesson": 4,
        "symrnn.bench": 5, "symrnn.app": 6, "symrnn.__main__": 7}
SOURCES = sorted(PACKAGE_ROOT.rglob("*.py"))
# The teaching form and the layer form are the only builders of a recurrent model;
# graph/ defines the cells and the loop they both call.
RECURRENT_BUILDERS = {"symrnn.graph", "symrnn.layers", "symrnn.lesson"}
LOOP_AND_CELL_NAMES = {"scan", "scan_loop", "unrolled_loop", "loop", "recurrence", "simple_step",
                       "lesson_step", "gru_step", "gru_step_split", "lstm_step"}


def part_of(module):
    """``symrnn.graph.cells`` -> ``symrnn.graph``; a top-level module is its own part."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def symrnn_imports(path):
    return [(m, line, top) for m, line, top in imports_of(path) if m.split(".")[0] == "symrnn"]


def test_every_module_belongs_to_a_ranked_part():
    assert {part_of(module_name(p)) for p in SOURCES} <= set(RANK)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down_or_sideways_only(path):
    here = part_of(module_name(path))
    for module, line, _ in symrnn_imports(path):
        there = part_of(module)
        assert there == here or RANK[there] < RANK[here], \
            f"{module_name(path)}:{line} imports {module}: {here} must not depend on {there}"


def test_layers_and_the_lesson_do_not_import_each_other():
    for path in SOURCES:
        here = part_of(module_name(path))
        other = {"symrnn.layers": "symrnn.lesson", "symrnn.lesson": "symrnn.layers"}.get(here)
        assert not any(part_of(m) == other for m, _, _ in symrnn_imports(path)), module_name(path)


def test_data_and_graph_never_import_layers_app_or_bench():
    banned = {"symrnn.layers", "symrnn.app", "symrnn.bench"}
    for path in SOURCES:
        if part_of(module_name(path)) in ("symrnn.data", "symrnn.graph"):
            found = {part_of(m) for m, _, _ in symrnn_imports(path)} & banned
            assert not found, f"{module_name(path)} imports {found}"


# Function-level imports that are not there to dodge a cycle, each with its reason.
LAZY_IMPORTS = {
    # the fused kernels import Numba (about half a second): only a Numba compile loads them
    ("symrnn.graph.numba.dispatch", "symrnn.graph.numba.kernels"),
    ("symrnn.graph.numba.dispatch", "symrnn.graph.numba.lookup"),
    ("symrnn.graph.numba.precompile", "symrnn.graph.numba.kernels"),
    ("symrnn.graph.numba.precompile", "symrnn.graph.numba.lookup"),
    # the benchmark (and its PyTorch twins) loads for `symrnn bench` only, not for train
    ("symrnn.app.cli", "symrnn.bench.runner"),
}


def test_no_function_level_imports_of_symrnn():
    """A function-level import is how a cycle hides; the package has none but the lazy
    loads above (the top-level ``symrnn`` module loads its public names lazily through
    importlib, on purpose)."""
    late = [(module_name(p), line, m) for p in SOURCES for m, line, top in symrnn_imports(p)
            if not top and (module_name(p), m) not in LAZY_IMPORTS]
    assert late == []


def test_the_lazy_imports_are_not_cycles():
    for importer, imported in LAZY_IMPORTS:
        path = PACKAGE_ROOT.parent / (imported.replace(".", "/") + ".py")
        assert importer not in {m for m, _, _ in imports_of(path)}, (importer, imported)


BACKEND_PLUMBING = ("numba", "jax", "symrnn.graph.numba", "symrnn.graph.jax")
BACKEND_SELECTOR = "symrnn.graph.backend"


def test_the_graph_core_imports_no_backend_plumbing_but_through_its_selector():
    """Modules directly in graph/ import neither Numba nor JAX, nor symrnn's plumbing for
    them (graph/numba/, graph/jax/); only the backend selector enables a backend."""
    core = [p for p in (PACKAGE_ROOT / "graph").glob("*.py")
            if module_name(p) not in ("symrnn.graph", BACKEND_SELECTOR)]
    assert len(core) >= 15
    for path in core:
        bad = sorted(m for m, _, _ in imports_of(path)
                     if any(m == b or m.startswith(b + ".") for b in BACKEND_PLUMBING))
        assert bad == [], f"{module_name(path)} imports {bad}: go through {BACKEND_SELECTOR}"


def test_test_folders_mirror_the_package():
    tests = PACKAGE_ROOT.parent / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders and folders <= {p.name for p in PACKAGE_ROOT.iterdir() if (p / "__init__.py").exists()}
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), "two test files of one name: pytest imports them by name"


def test_the_cli_parses_calls_and_prints_through_a_handful_of_modules():
    cli = PACKAGE_ROOT / "app" / "cli.py"
    used = {m for m, _, top in symrnn_imports(cli) if top}
    assert len(used) <= 8, sorted(used)
    assert not any(m.startswith("symrnn.bench") for m in used)


def test_no_module_in_app_steps_batches_itself():
    """One training loop: the application trains through Model.fit."""
    for path in (PACKAGE_ROOT / "app").glob("*.py"):
        steps = [(name, line) for name, line in calls_in(path)
                 if name.split(".")[-1] in ("train_fn", "train_on_batch", "train_batch")]
        assert steps == [], f"{path.name} steps batches itself: {steps}"


def calls_in(path):
    """``(dotted name, line)`` of every call in a module: ``pytensor.scan(...)`` -> 'pytensor.scan'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            parts, func = [], node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                found.append((".".join([func.id, *reversed(parts)]), node.lineno))
    return found


def test_layers_never_call_scan_grad_or_function_directly():
    banned = {"pytensor.scan", "pytensor.grad", "pytensor.function", "pytensor.gradient.grad"}
    for path in (PACKAGE_ROOT / "layers").glob("*.py"):
        bad = [(name, line) for name, line in calls_in(path) if name in banned]
        assert bad == [], f"{path.name} calls {bad}: go through symrnn.graph"
        imported = {alias.name for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module == "pytensor"
                    for alias in node.names}
        assert not imported & {"scan", "grad", "function"}, path.name


def test_one_builder_per_model():
    """A batched simple-RNN/GRU/LSTM graph is built in layers/ (the teaching form in
    lesson/, the cells and loops in graph/); anything else calling a loop or a cell
    step is a second graph of the same model."""
    for path in SOURCES:
        if part_of(module_name(path)) in RECURRENT_BUILDERS:
            continue
        bad = [(name, line) for name, line in calls_in(path)
               if name.split(".")[-1] in LOOP_AND_CELL_NAMES]
        assert bad == [], f"{module_name(path)} builds a recurrent graph of its own: {bad}"


def test_the_public_api_is_at_the_top():
    import symrnn
    from symrnn import layers
    for name in ("layers", "load_corpus", "Vocab", "windows", "SGD", "Adam", "RMSprop", "Adagrad",
                 "LessonRNN"):
        value = getattr(symrnn, name)
        assert callable(value) or isinstance(value, type(symrnn)), name
    assert symrnn.layers is layers
    assert {"Sequential", "Model", "Input", "Embedding", "SimpleRNN", "GRU", "LSTM", "Dense",
            "TimeDistributed"} <= set(layers.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        symrnn.nonexistent  # noqa: B018
