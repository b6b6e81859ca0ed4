"""Every backend name x every model: trains exactly like the py backend, or is refused by name.

The table below says, for each pair, what must happen; a pair that works is run
(one SGD step's loss and gradients, then three more steps' losses and weights)
and compared with the py backend in float64. Compiling every model for JAX,
Numba or C takes minutes on a cold cache, so those rows are marked ``heavy``
and run with ``--heavy`` (``.ci/run`` passes it).
"""
import importlib.util
import os
import subprocess
import sys

import pytest
from backend_models import MODELS, assert_runs_match

from symrnn.app.cli import main
from symrnn.errors import ConfigError
from symrnn.graph.backend import (
    BACKENDS,
    c_blas_flags,
    check_backend,
    get_mode,
    require_backend,
)
from symrnn.runtime import with_package_on_path

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

HAS_JAX = importlib.util.find_spec("jax") is not None
# py is the reference; every model compiled for the others takes minutes on fresh caches,
# so the rows are heavy: opt-in (--heavy), run by .ci/run
BACKEND_ROWS = [pytest.param("jax", marks=[pytest.mark.jax, pytest.mark.heavy]),
                pytest.param("numba", marks=pytest.mark.heavy),
                pytest.param("c", marks=pytest.mark.heavy)]


def expected_error(backend, model):
    """``(exception, message pattern)`` the pair must raise, or None where it must work."""
    if backend == "jax" and not HAS_JAX:
        return ConfigError, r"needs jax: pip install 'symrnn\[jax\]'"
    if backend == "c" and not c_blas_flags():
        return ConfigError, r"backend 'c' needs a BLAS library .* Use the default backend, numba"
    if backend == "jax" and model == "truncated":
        return ConfigError, (r"truncate_gradient=2 cannot be trained on the jax backend .* "
                             r"train it with backend 'numba'")
    return None


_reference = {}


def reference(model):
    if model not in _reference:
        _reference[model] = MODELS[model]("py")
    return _reference[model]


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("backend", BACKEND_ROWS)
def test_backend_trains_every_model_like_py_or_refuses_it_by_name(backend, model):
    error = expected_error(backend, model)
    if error is not None:
        with pytest.raises(error[0], match=error[1]):
            MODELS[model](backend)
        return
    assert_runs_match(MODELS[model](backend), reference(model))


def test_every_backend_name_is_in_the_table():
    assert set(BACKENDS) == {"py"} | {getattr(p, "values", (p,))[0] for p in BACKEND_ROWS}


@pytest.mark.parametrize("name, message", [
    ("cuda", r"unknown backend 'cuda'; valid names: numba, c, py, jax"),
    ("auto", r"unknown backend 'auto'; valid names: numba, c, py, jax"),
])
def test_names_that_are_not_backends_are_refused(name, message):
    with pytest.raises(ConfigError, match=message):
        check_backend(name)


def test_c_without_blas_says_what_it_costs_and_how_to_link_one(monkeypatch):
    monkeypatch.setattr("symrnn.graph.backend.c_blas_flags", lambda: "")
    with pytest.raises(ConfigError) as err:
        require_backend("c")
    message = str(err.value)
    for needed in ("ms per lesson training step", "numba", "PYTENSOR_FLAGS='blas__ldflags=",
                   "apt install libopenblas-dev", "scipy_ prefix"):
        assert needed in message


def test_c_with_blas_is_the_c_virtual_machine(monkeypatch):
    monkeypatch.setattr("symrnn.graph.backend.c_blas_flags", lambda: "-lopenblas")
    assert require_backend("c") == "c"
    assert get_mode("c").linker.__class__.__name__ == "VMLinker"


def test_importing_symrnn_does_not_import_jax():
    code = ("import sys, symrnn, symrnn.graph.training, symrnn.graph.jax.static_shapes, "
            "symrnn.graph.jax.parallel, symrnn.layers, symrnn.app.cli\n"
            "assert 'jax' not in sys.modules, 'jax imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=with_package_on_path(dict(os.environ)))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("flags, message", [
    (["--backend", "numba", "--devices", "2"], "devices=2 splits each batch across JAX devices, "
                                                "so it needs the jax backend, not 'numba'"),
    (["--backend", "c"], "backend 'c' needs a BLAS library" if not c_blas_flags() else None),
    (["--backend", "jax", "--batch-size", "1"],
     "cannot train on batches of one row" if HAS_JAX else "needs jax: pip install"),
    (["--backend", "jax", "--devices", "64"],
     "devices=64, but JAX sees" if HAS_JAX else "needs jax: pip install"),
])
def test_symrnn_train_refuses_backend_requests_before_writing_anything(flags, message, tmp_path,
                                                                       capsys):
    if message is None:
        pytest.skip("this machine can run the request")
    run_dir = tmp_path / "run"
    assert main(["train", "--run-dir", str(run_dir), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()
