"""Where a cold compile goes: Numba's compile events, per function, in a probe child.

Numba announces every compile of a jitted function (``numba:compile`` events,
nested when one function's typing compiles another). :class:`CompileTable`
listens to them and keeps, per function, how many times it was compiled and its
*exclusive* seconds (its own typing, lowering and LLVM work, without the
functions compiled inside it), so the rows add up to the compile time. Functions
are named ``package:qualified name``: ``symrnn`` (the kernels), ``pytensor``
(each graph op's implementation, and ``numba_funcified_fgraph``, the whole
graph's function), ``numba`` (Numba's own overloads, e.g. error-message
formatting). :func:`by_package` totals them.

>>> table = CompileTable()
>>> table.add("numba:ol_str_generic.<locals>.impl", 0.5)
>>> table.add("numba:ol_str_generic.<locals>.impl", 0.25)
>>> table.add("pytensor:alloc", 0.5)
>>> table.rows()[0]
{'function': 'numba:ol_str_generic.<locals>.impl', 'count': 2, 'seconds': 0.75}
>>> by_package(table.rows())
{'numba': 0.75, 'pytensor': 0.5}
"""
import time
from collections import defaultdict

from .. import compat


def function_name(dispatcher):
    """``package:qualname`` of a dispatcher's Python function (``?`` where it has none)."""
    func = getattr(dispatcher, "py_func", None)
    if func is None:
        return f"?:{dispatcher}"
    package = str(getattr(func, "__module__", None) or "?").split(".")[0]
    return f"{package}:{func.__qualname__}"


class CompileTable:
    """Exclusive compile seconds per function (see the module docstring)."""

    def __init__(self):
        self._stack, self._totals = [], defaultdict(lambda: [0, 0.0])

    def add(self, name, seconds):
        total = self._totals[name]
        total[0] += 1
        total[1] += seconds

    def listen(self):
        """Start listening to this process's Numba compiles (imports Numba)."""
        table = self

        class Listener(compat.numba_event_listener):
            def on_start(self, ev):
                table._stack.append([time.perf_counter(), 0.0])

            def on_end(self, ev):
                started, nested = table._stack.pop()
                seconds = time.perf_counter() - started
                if table._stack:
                    table._stack[-1][1] += seconds
                table.add(function_name(ev.data.get("dispatcher")), seconds - nested)

        compat.numba_event_register("numba:compile", Listener())
        return self

    def rows(self, top=None):
        """``{'function', 'count', 'seconds'}`` rows, the most expensive first."""
        rows = [{"function": name, "count": count, "seconds": seconds}
                for name, (count, seconds) in self._totals.items()]
        rows.sort(key=lambda r: -r["seconds"])
        return rows[:top]


def by_package(rows):
    """Seconds per package, the most expensive first."""
    totals = defaultdict(float)
    for row in rows:
        totals[row["function"].split(":", 1)[0]] += row["seconds"]
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def print_compile_tables(rows, top=12):
    """The cold probes' tables: package totals, then the ``top`` functions."""
    cold = [r for r in rows if r.get("cache") == "cold" and r.get("compile_table")]
    for r in cold:
        table = r["compile_table"]
        total = sum(row["seconds"] for row in table)
        packages = ", ".join(f"{name} {s:.1f} s" for name, s in by_package(table).items())
        print(f"\nNumba compile, cold, {r['model']} {r['impl']}: {total:.1f} s in "
              f"{sum(row['count'] for row in table)} compiles ({packages}); exclusive seconds "
              f"per function, top {top}:")
        for row in table[:top]:
            print(f"  {row['seconds']:6.2f} s  x{row['count']:<3} {row['function'][:100]}")
