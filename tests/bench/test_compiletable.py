"""The compile table the bench's Numba probes report (symrnn.bench.compiletable)."""
from symrnn.bench.compiletable import CompileTable, by_package, print_compile_tables


def test_the_table_counts_each_compile_once_and_exclusive_of_nested_ones(capsys):
    numba = __import__("pytest").importorskip("numba")
    table = CompileTable().listen()

    @numba.njit
    def inner(x):
        return x + 1

    @numba.njit
    def outer(x):
        return inner(x) * 2

    assert outer(1) == 4 and outer(2.5) == 7.0   # two signatures: two compiles of each
    rows = {r["function"].split(":")[1]: r for r in table.rows()}
    name = "test_the_table_counts_each_compile_once_and_exclusive_of_nested_ones.<locals>."
    assert rows[name + "outer"]["count"] == 2 and rows[name + "inner"]["count"] == 2
    # exclusive seconds add up to no more than the outer compiles' wall time
    assert 0 < rows[name + "inner"]["seconds"] and 0 < rows[name + "outer"]["seconds"]
    assert __name__.split(".")[0] in by_package(table.rows())   # this module's package
    print_compile_tables([{"model": "m", "impl": "symrnn-numba", "cache": "cold",
                           "compile_table": table.rows()}], top=2)
    out = capsys.readouterr().out
    assert "Numba compile, cold, m symrnn-numba" in out and len(out.strip().splitlines()) == 3
