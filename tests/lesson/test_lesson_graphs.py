"""Lessons 08 and 11 write their graphs cell by cell; those graphs are the library's.

Each test imports a lesson script as a module, builds its graph in float64
and compares it with ``LessonRNN`` / ``LessonGRU`` made from the same seed:
the initial weights, the error and every gradient on random one-hot
sequences from a nonzero ``h0``, one step of each compiled training
function (so the updates dictionaries agree too) and the predictions.
"""
import numpy as np
import pytensor
import pytest
from lesson_scripts import load_lesson

from symrnn.lesson.gru import LessonGRU
from symrnn.lesson.rnn import LessonRNN

V, H, T, SEED, LR = 7, 5, 6, 3, 0.05


@pytest.fixture(scope="module")
def lesson_08():
    return load_lesson("08_raw_pytensor_rnn")


@pytest.fixture(scope="module")
def lesson_11():
    return load_lesson("11_raw_gru")


def sequences(seed):
    """``h0, inp, outp``: a random state (so h0's path counts) and one-hot rows in and out."""
    rng = np.random.default_rng(seed)
    eye = np.eye(V)
    return rng.normal(size=H), eye[rng.integers(0, V, T)], eye[rng.integers(0, V, T)]


def error_and_grads(h0, inp, outp, error, grads, values):
    fn = pytensor.function([h0, inp, outp], [error, *grads], mode="FAST_COMPILE")
    return fn(*values)


def assert_same_graph(graph, train_fn, predict_fn, model):
    """The lesson's graph pieces and compiled functions against a library model."""
    names = [w.name for w in graph.params]
    assert names == [p.name for p in model.params]
    for w, p in zip(graph.params, model.params):
        assert w.dtype == p.dtype == "float64"
        np.testing.assert_array_equal(w.get_value(), p.get_value(), err_msg=w.name)

    values = sequences(SEED + 1)
    ours = error_and_grads(graph.h0, graph.inp, graph.outp, graph.error, graph.grads, values)
    theirs = error_and_grads(model.h0, model.inp, model.outp, model.error, model.grads, values)
    for name, a, b in zip(["error"] + names, ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)
    assert all(np.abs(g).sum() > 0 for g in ours[1:]), "every weight should get a gradient"

    h0, inp, outp = values
    np.testing.assert_allclose(predict_fn(h0, inp), model.predict_proba(inp, h0), rtol=1e-12)
    before = [w.get_value() for w in graph.params]
    error_ours = train_fn(h0, inp, outp, LR)
    error_theirs = model.train_step(inp, outp, LR, h0)
    np.testing.assert_allclose(error_ours, error_theirs, rtol=1e-12)
    for w, p, b in zip(graph.params, model.params, before):
        assert not np.array_equal(w.get_value(), b), f"the training step left {w.name} as it was"
        np.testing.assert_allclose(w.get_value(), p.get_value(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"{w.name} after one step")


def test_lesson_08_graph_is_lesson_rnn(lesson_08):
    graph = lesson_08.build_graph(V, H, np.random.default_rng(SEED), dtype="float64")
    train_fn, predict_fn = lesson_08.compile_functions(graph, backend="py")
    model = LessonRNN(V, H, dtype="float64", seed=SEED, backend="py")
    assert_same_graph(graph, train_fn, predict_fn, model)


# each form once, the candidate's activation (--act) changed on one of them
@pytest.mark.parametrize("form, act", [("separate", "tanh"), ("combined", "relu")])
def test_lesson_11_graph_is_lesson_gru(lesson_11, form, act):
    graph = lesson_11.build_graph(V, H, np.random.default_rng(SEED), form, act, dtype="float64")
    train_fn, predict_fn = lesson_11.compile_functions(graph, backend="py")
    model = LessonGRU(V, H, form=form, act=act, dtype="float64", seed=SEED, backend="py")
    assert_same_graph(graph, train_fn, predict_fn, model)


def test_lesson_08_trains_in_its_own_loop_and_reports_means(lesson_08, capsys):
    graph = lesson_08.build_graph(V, H, np.random.default_rng(SEED))
    train_fn, _ = lesson_08.compile_functions(graph, backend="py")
    ids = np.arange(40 * lesson_08.SEQ_LEN).reshape(40, -1) % V   # 0 1 2 .. 6 0 1 ...
    means = lesson_08.train(train_fn, ids, (ids + 1) % V, V, H, report_every=10)
    assert len(means) == 4 and all(np.isfinite(means))
    assert means[-1] < 0.8 * means[0], "the next id is the current one plus 1: SGD should learn it"
    assert "40 sequences  mean error" in capsys.readouterr().out
