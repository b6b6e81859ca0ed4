"""The README's two commands, .ci/run, the console script and import hygiene."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


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
    readme_test = quick_start_commands()[1].replace("pip install '.[test]'", "pip install -q '.[test]'")
    assert readme_test in ci


def test_importing_symrnn_prints_nothing_and_leaves_config_alone():
    code = ("import pytensor; before = dict(pytensor.config._config_var_dict); mode = pytensor.config.mode\n"
            "import symrnn, symrnn.lesson.rnn, symrnn.data, symrnn.app.cli\n"
            "assert pytensor.config.mode == mode")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_data_module_does_not_import_pytensor():
    code = "import sys, symrnn.data, symrnn.lesson.numpy_rnn; assert 'pytensor' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_default_numba_backend_trains_like_the_py_backend():
    """The suite runs on the quick-compiling py backend; this proves the default agrees
    (and jax, when installed: tests/test_backends.py compares it with py on every model)."""
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
