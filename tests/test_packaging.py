"""The README's two commands, .ci/run, the console script and import hygiene."""
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from imports import REPO_ROOT

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range

ROOT = REPO_ROOT


def quick_start_commands():
    section = ROOT.joinpath("README.md").read_text().split("## Quick start")[1].split("\n## ")[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_quick_start_is_exactly_two_one_line_commands():
    commands = quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert commands[0].endswith("symrnn train")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    ci = ROOT.joinpath(".ci/run").read_text()
    readme_test = quick_start_commands()[1].replace("pip install '", "pip install -q '")
    assert readme_test in ci
    assert "pytest -m proof" in ci   # the other end of the supported range


def test_importing_symrnn_prints_nothing_and_leaves_config_alone():
    code = ("import pytensor\n"
            "def settings():\n"
            "    values = {}\n"
            "    for name in pytensor.config._config_var_dict:\n"
            "        try:\n"
            "            values[name] = repr(getattr(pytensor.config, name))\n"
            "        except Exception as err:   # a setting that cannot be read, before and after\n"
            "            values[name] = type(err).__name__\n"
            "    return values\n"
            "before = settings()\n"
            "import symrnn, symrnn.lesson.rnn, symrnn.data, symrnn.layers, symrnn.app.cli, symrnn.bench\n"
            "symrnn.layers.Sequential, symrnn.Adam\n"
            "after = settings()\n"
            "changed = sorted(k for k in before if before[k] != after.get(k))\n"
            "assert not changed and len(after) == len(before), changed\n"
            "assert len(before) > 50\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_symrnn_train_does_not_import_the_benchmark():
    code = ("import sys\nfrom symrnn.app.cli import main\n"
            "assert main(['train', '--corpus', sys.argv[1], '--hidden', '4', '--seq-len', '3', "
            "'--batch-size', '4', '--max-steps', '1', '--sample', '0', '--no-progress', "
            "'--run-dir', sys.argv[2]]) == 0\n"
            "assert not [m for m in sys.modules if m.startswith('symrnn.bench')]\n"
            "assert 'torch' not in sys.modules\n")
    corpus = ROOT / "README.md"
    with tempfile.TemporaryDirectory() as run:
        done = subprocess.run([sys.executable, "-c", code, str(corpus), run + "/r"], cwd=ROOT,
                              capture_output=True, text=True,
                              env={**os.environ, "SYMRNN_BACKEND": "py"})
    assert done.returncode == 0, done.stderr


def test_data_module_does_not_import_pytensor():
    code = "import sys, symrnn.data, symrnn.lesson.numpy_rnn; assert 'pytensor' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.heavy
def test_default_numba_backend_trains_like_the_py_backend():
    """The suite runs on the quick-compiling py backend; this proves the default agrees
    (and jax, when installed: tests/graph/test_backends.py compares it with py on every model)."""
    from symrnn.lesson.rnn import LessonRNN
    rng = np.random.default_rng(0)
    x, y = np.eye(6)[rng.integers(0, 6, 4)], np.eye(6)[rng.integers(0, 6, 4)]
    results = []
    for backend in ("py", "numba") + (("jax",) if importlib.util.find_spec("jax") else ()):
        rnn = LessonRNN(6, 5, dtype="float64", backend=backend, seed=1)
        errors = [rnn.train_step(x, y, 0.1) for _ in range(3)]
        results.append((errors, rnn.get_params()))
    for other in results[1:]:
        np.testing.assert_allclose(results[0][0], other[0], rtol=1e-12)
        for name, value in results[0][1].items():
            np.testing.assert_allclose(value, other[1][name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.slow
def test_the_readme_python_examples_run_as_written(tmp_path):
    """The README's Python blocks, concatenated and run as written (Numba compiles a few
    graphs and trains for a minute or two: opt in with --runslow)."""
    blocks = re.findall(r"```python\n(.*?)\n```", ROOT.joinpath("README.md").read_text(), flags=re.S)
    assert len(blocks) >= 2
    script = tmp_path / "readme_examples.py"
    script.write_text("\n".join(blocks))
    env = {k: v for k, v in os.environ.items() if k != "SYMRNN_BACKEND"}   # the default backend
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT,
                          env={**env, "PYTHONPATH": str(ROOT)}, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
