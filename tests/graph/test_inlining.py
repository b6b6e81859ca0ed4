"""The Numba backend's linker (symrnn.graph.numba.inlining): PyTensor's cached wrappers
remade to inline what they wrap, so that each op's code, and the graph's, compiles once;
same results, same cache keys, PyTensor's own function back afterwards."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from symrnn import compat
from symrnn.graph.backend import get_mode
from symrnn.graph.numba.inlining import InliningNumbaLinker, inlinable, inlined, remade
from symrnn.runtime import isolated_caches, with_package_on_path

pytestmark = pytest.mark.proof   # rests on PyTensor's Numba internals, which changed across 3.0-3.3


def pytensor_wrapper(fn, name="fn"):
    """A wrapper as PyTensor's numba_funcify_ensure_cache makes one, around jitted ``fn``."""
    jitted = compat.numba_njit(fn)
    source = f"def {name}(*args): return jitable_func(*args)"
    wrapper = compat.compile_numba_function_src(source, name, {"jitable_func": jitted},
                                                cache_key=f"test-inlining-{name}")
    return compat.numba_njit(wrapper, cache=True)


def test_a_wrapper_is_remade_with_the_wrapped_parameters_the_same_key_and_an_inlined_copy():
    def add(x, y):
        return x + y

    remade = inlined(pytensor_wrapper(add, "add"))
    assert list(remade.py_func.__code__.co_varnames[:2]) == ["a0", "a1"]
    assert compat.numba_cache_key_of(remade.py_func) == "test-inlining-add"
    copy = remade.py_func.__globals__["jitable_func"]
    assert copy.targetoptions["inline"] == "always" and copy.py_func is add


def test_a_wrapped_function_with_star_args_and_other_functions_are_left_alone():
    def total(*xs):
        return sum(xs)

    wrapper = pytensor_wrapper(total, "total")
    assert inlined(wrapper) is wrapper
    plain = compat.numba_njit(lambda x: x)
    assert inlined(plain) is plain


def test_code_numba_cannot_inline_is_left_alone():
    def formats(x):
        return f"{x}"

    def star_call(f, xs):
        return f(*xs)

    def with_inner(x):
        def inner():
            return x
        return inner()

    def plain(x, y):
        return x * y + 1

    assert [inlinable(f) for f in (formats, star_call, with_inner, plain)] == [False] * 3 + [True]
    wrapper = pytensor_wrapper(formats, "formats")
    assert inlined(wrapper) is wrapper


def test_a_wrapper_of_more_than_30_parameters_is_left_alone():
    """CPython passes more than 30 positional arguments through a built tuple, as for
    ``*args``, which Numba's inliner refuses ("Calling a closure with *args"): the remade
    wrapper of such a function would not compile. Up to 30, it is remade."""
    def wrapped_of(n):
        names = ", ".join(f"x{i}" for i in range(n))
        namespace = {}
        exec(f"def many({names}):\n    return x0 + x{n - 1}\n", namespace)
        return namespace["many"]

    wide = pytensor_wrapper(wrapped_of(31), "many31")
    assert inlined(wide) is wide
    narrow = pytensor_wrapper(wrapped_of(30), "many30")
    assert inlined(narrow) is not narrow


WIDE_GRAPHS = textwrap.dedent("""
    # On fresh caches (a cached function is loaded, never inlined): a graph of 33 inputs,
    # and a training step of two stacked LSTMs with Adam (34 inputs), on the numba backend.
    import numpy as np
    import pytensor, pytensor.tensor as pt
    from symrnn.graph.backend import get_mode
    from symrnn.graph.optimizers import Adam
    from symrnn.layers import LSTM, Dense, Embedding, Sequential, TimeDistributed
    xs = [pt.dvector(f"x{i}") for i in range(33)]
    f = pytensor.function(xs, pt.add(*[x * (i + 1) for i, x in enumerate(xs)]),
                          mode=get_mode("numba"))
    assert np.allclose(f(*[np.full(2, float(i)) for i in range(33)]),
                       sum(i * (i + 1) for i in range(33)))
    model = Sequential([Embedding(10, 4, input_length=5),
                        LSTM(8, return_sequences=True, seed=1),
                        LSTM(8, return_sequences=True, seed=2),
                        TimeDistributed(Dense(10, activation="softmax", seed=3))])
    model.compile(Adam(), "sparse_categorical_crossentropy", backend="numba")
    ids = np.random.default_rng(0).integers(0, 10, (4, 5)).astype("int32")
    loss = model.train_on_batch(ids, ids)
    assert np.isfinite(loss) and abs(loss - np.log(10)) < 0.1, loss
    print("ok")
""")


@pytest.mark.heavy   # cold Numba compiles in a fresh process
def test_graphs_with_more_than_30_inputs_compile_and_compute_on_numba(tmp_path):
    """Two stacked LSTMs trained with Adam have 34 inputs: their training function failed
    to compile once the graph's wrapper was remade (found by lesson 12)."""
    env = isolated_caches(with_package_on_path(dict(os.environ)), str(tmp_path))
    child = subprocess.run([sys.executable, "-c", WIDE_GRAPHS], capture_output=True,
                           text=True, env=env, check=False)
    assert child.returncode == 0 and child.stdout.splitlines()[-1] == "ok", child.stderr[-2000:]


def test_the_linker_puts_pytensors_function_back_even_after_a_failure():
    original = compat.numba_ensure_cache_in_force()
    with pytest.raises(RuntimeError), compat.numba_wrappers_remade(remade):
        assert compat.numba_ensure_cache_in_force() is not original
        raise RuntimeError
    assert compat.numba_ensure_cache_in_force() is original


def test_the_numba_backend_uses_the_linker_and_computes_what_pytensor_does():
    x = pt.dmatrix("x")
    out = (pt.exp(x) * 2).sum(axis=0) + x.T.dot(x)[0]
    ours = pytensor.function([x], out, mode=get_mode("numba"))
    theirs = pytensor.function([x], out, mode="FAST_COMPILE")
    assert isinstance(ours.maker.linker, InliningNumbaLinker)
    data = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(data), theirs(data), rtol=1e-12, atol=0)


COMPILES = textwrap.dedent("""
    # A small graph's cold compile on the given mode: how often Numba compiled the graph's
    # function (the wrapped one and its wrapper are both named numba_funcified_fgraph).
    import json, sys
    import pytensor, pytensor.tensor as pt
    from symrnn.bench.compiletable import CompileTable
    from symrnn.graph.backend import get_mode
    table = CompileTable().listen()
    x = pt.dvector("x")
    mode = get_mode("numba") if sys.argv[1] == "symrnn" else "NUMBA"
    f = pytensor.function([x], (pt.exp(x) * 3).sum(), mode=mode)
    f([1.0, 2.0])
    print(json.dumps({r["function"]: r["count"] for r in table.rows()}))
""")


@pytest.mark.heavy   # two cold Numba compiles in fresh processes
def test_the_graphs_function_compiles_once_instead_of_twice(tmp_path):
    env = with_package_on_path(dict(os.environ))

    def counts(mode):
        child = subprocess.run([sys.executable, "-c", COMPILES, mode], capture_output=True,
                               text=True, env=isolated_caches(dict(env), str(tmp_path / mode)),
                               check=False)
        assert child.returncode == 0, child.stderr
        return json.loads(child.stdout.splitlines()[-1])

    assert counts("pytensor")["pytensor:numba_funcified_fgraph"] == 2
    assert counts("symrnn")["pytensor:numba_funcified_fgraph"] == 1
