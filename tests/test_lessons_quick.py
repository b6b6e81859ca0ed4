"""Every lesson script runs end to end on a small slice (``--quick``)."""
import ast
import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from lesson_scripts import EXPECTED_NUMBERS, LESSONS, ROOT, load_lesson
from marks import heavy_beyond

from symrnn.layers import Model, load_model

pytestmark = pytest.mark.proof   # CI runs it on both ends of the supported range


def test_every_lesson_section_has_exactly_one_script():
    numbers = [script.name[:2] for script in LESSONS]
    assert numbers == EXPECTED_NUMBERS, f"lesson scripts found: {[s.name for s in LESSONS]}"


# The lessons with the longest cold compiles run with --heavy (CI: both ends of the range).
HEAVY_LESSONS = ("11_raw_gru", "12_char_rnn", "14_adding_problem", "15_many_to_one", "17_masked_adding",
                 "18_variable_length")


@pytest.mark.parametrize("script", heavy_beyond(LESSONS, keep=[p for p in LESSONS if p.stem not in HEAVY_LESSONS]),
                         ids=lambda p: p.stem)
def test_lesson_runs_quick(script, capsys, monkeypatch):
    """In this process (a fresh interpreter per lesson cost a third of this test's time):
    the lessons set no global state, and their own compiles name their backend."""
    monkeypatch.chdir(ROOT)
    load_lesson(script.stem).main(["--quick"])
    assert capsys.readouterr().out.strip(), "a lesson must print what it shows"


def test_a_lesson_runs_as_a_script():
    """How a learner runs one: ``python lessons/NN_name.py --quick`` in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SYMRNN_BACKEND=os.environ.get("SYMRNN_BACKEND", "py"))
    done = subprocess.run([sys.executable, str(LESSONS[3]), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "a lesson must print what it shows"


@pytest.mark.parametrize("script", LESSONS, ids=lambda p: p.stem)
def test_lesson_takes_its_flags_and_corpus_from_the_lesson_kit(script):
    """The flags, the --quick slice and the corpus come from one helper, not from each
    lesson (the docstring, main and the notebook cells: tests/test_notebooks.py)."""
    tree = ast.parse(script.read_text())
    called = {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
              for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, (ast.Name, ast.Attribute))}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert called & {"lesson_setup", "lesson_args"}
    assert not called & {"load_corpus", "ArgumentParser"} and "argparse" not in imported


def test_many_to_one_reports_evaluate_accuracy_and_keeps_the_best_checkpoint(
        tmp_path, monkeypatch, capsys):
    """Lesson 15's headline accuracy is model.evaluate's; its ModelCheckpoint file loads."""
    lesson = load_lesson("15_many_to_one")
    calls = []
    evaluate = Model.evaluate

    def spy(self, x, y, *args, **kwargs):
        result = evaluate(self, x, y, *args, **kwargs)
        calls.append((x, y, result))
        return result

    monkeypatch.setattr(Model, "evaluate", spy)
    model, test_acc = lesson.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out

    # the one evaluate call, [loss, accuracy] on the test windows, is what the lesson printed
    assert model.metrics_names == ["loss", "accuracy"]
    [(x_test, y_test, (test_loss, evaluated_acc))] = calls
    assert test_acc == evaluated_acc
    headline = re.search(r"held-out accuracy (\d\.\d{3}) \(loss (\d+\.\d{4})", printed)
    assert headline, printed[-2000:]
    assert headline.groups() == (f"{evaluated_acc:.3f}", f"{test_loss:.4f}")
    # fit logged accuracy per epoch, on training and validation windows
    logged = model.history.history
    assert len(logged["accuracy"]) == len(logged["val_accuracy"]) == len(model.history.epoch) >= 1

    # the checkpoint exists, loads as a whole model, holds the weights the lesson evaluated,
    # and evaluates to the printed accuracy on the same windows
    checkpoint = tmp_path / lesson.BEST_MODEL
    assert checkpoint.is_file() and str(checkpoint) in printed
    loaded = load_model(checkpoint)
    for saved, evaluated in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, evaluated)
    with lesson.float_scope("float32"):
        loaded.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"],
                       backend="py")
        assert evaluate(loaded, x_test, y_test, batch_size=256)[1] == pytest.approx(evaluated_acc)

    # CSVLogger wrote one row per epoch with History's values
    with open(tmp_path / lesson.EPOCH_LOG, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(model.history.epoch)
    assert [float(r["val_accuracy"]) for r in rows] == pytest.approx(logged["val_accuracy"])
