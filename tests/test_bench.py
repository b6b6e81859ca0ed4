"""The fast graph, the batched numpy twin and the benchmark harness.

Sizes are non-square (vocab 7, hidden 5, seq 4, batch 3) and everything that
compares gradients runs in float64. No timing assertions.
"""
import json
import os
import sys

import numpy as np
import pytensor.tensor as pt
import pytest
from model_grads import assert_grads_close
from model_grads import graph_loss_and_grads as fast_loss_and_grads
from pytensor.gradient import verify_grad
from pytensor.graph.traversal import ancestors
from pytensor.tensor.math import Sum

from symrnn.bench import fastgraph
from symrnn.bench import numpy_twins as bench_numpy
from symrnn.bench import runner as bench
from symrnn.bench.fastgraph import FastRNN, batch_error
from symrnn.errors import ConfigError, ShapeError
from symrnn.graph.training import compile_function
from symrnn.lesson import numpy_rnn
from symrnn.lesson.rnn import PARAM_NAMES, LessonRNN

V, H, T, B = 7, 5, 4, 3


def problem(seed=0, batch=B):
    """Random ids [B, T+1] and float64 params with non-zero biases, h0 non-zero."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=(batch, T + 1))
    params = numpy_rnn.init_params(V, H, rng)
    for name in ("b_h", "b_x", "b_y"):
        params[name] = rng.normal(0, 0.5, params[name].shape)
    params["W_h"] += rng.normal(0, 0.2, (H, H))  # identity alone hides a transposed W_h
    h0 = rng.normal(0, 0.5, (batch, H))
    return ids[:, :-1], ids[:, 1:], params, h0


def preactivations(params, x, h0):
    h, pre = h0, []
    for t in range(x.shape[1]):
        pre.append(params["W_x"][x[:, t]] + params["b_x"] + params["b_h"] + h @ params["W_h"])
        h = np.maximum(pre[-1], 0)
    return np.array(pre)


def fast_model(params, inputs="ids", projection="auto", dtype="float64"):
    model = FastRNN(V, H, dtype=dtype, inputs=inputs, backend="py", projection=projection)
    model.set_params(params)
    return model


def lesson_loss_and_grads(params, x_ids, y_ids, h0):
    """The lesson graph (one-hot, batch 1) for one sequence."""
    rnn = LessonRNN(V, H, dtype="float64", backend="py")
    rnn.set_params(params)
    fn = compile_function([rnn.h0, rnn.inp, rnn.outp], [rnn.error, *rnn.grads], backend="py")
    eye = np.eye(V)
    err, *grads = fn(h0, eye[x_ids], eye[y_ids])
    return float(err), dict(zip(PARAM_NAMES, grads))


# ------------------------------------------------------------------ fast graph

@pytest.mark.parametrize("inputs", ["ids", "onehot"])
def test_fast_graph_batch1_matches_lesson_graph(inputs):
    x, y, params, h0 = problem(batch=1)
    expected = lesson_loss_and_grads(params, x[0], y[0], h0[0])
    xs, ys = (x, y) if inputs == "ids" else (np.eye(V)[x], np.eye(V)[y])
    err, grads = fast_loss_and_grads(fast_model(params, inputs), xs.astype(
        "int32" if inputs == "ids" else "float64"), ys.astype("int32" if inputs == "ids" else "float64"), h0)
    assert err == pytest.approx(expected[0], rel=1e-12)
    assert_grads_close(grads, expected[1])


def test_fast_graph_batch_is_mean_of_per_sequence_numpy_rnn():
    x, y, params, h0 = problem(seed=1)
    err, grads = fast_loss_and_grads(fast_model(params), x.astype("int32"), y.astype("int32"), h0)
    per_seq = [numpy_rnn.loss_and_grads(params, x[b], y[b], h0[b]) for b in range(B)]
    assert err == pytest.approx(np.mean([e for e, _, _ in per_seq]), rel=1e-12)
    mean_grads = {n: np.mean([g[n] for _, g, _ in per_seq], axis=0) for n in PARAM_NAMES}
    assert_grads_close(grads, mean_grads)


def test_fast_graph_ids_equal_onehot_with_repeated_ids():
    x, y, params, h0 = problem(seed=2)
    x[:, :] = x[0, 0]   # every input the same id: the lookup's gradient must accumulate
    ids = fast_loss_and_grads(fast_model(params), x.astype("int32"), y.astype("int32"), h0)
    onehot = fast_loss_and_grads(fast_model(params, "onehot"), np.eye(V)[x], np.eye(V)[y], h0)
    assert ids[0] == pytest.approx(onehot[0], rel=1e-12)
    assert_grads_close(ids[1], onehot[1])


def test_onehot_projection_gives_the_lookups_loss_and_gradients():
    x, y, params, h0 = problem(seed=10)
    x[0, :] = x[0, 0]   # repeated ids: both forms must accumulate their gradient rows
    ids = (x.astype("int32"), y.astype("int32"), h0)
    lookup = fast_loss_and_grads(fast_model(params, projection="lookup"), *ids)
    onehot = fast_loss_and_grads(fast_model(params, projection="onehot"), *ids)
    assert onehot[0] == pytest.approx(lookup[0], rel=1e-12)
    assert_grads_close(onehot[1], lookup[1])


def test_projection_is_chosen_by_vocab_size():
    limit = fastgraph.ONEHOT_MAX_VOCAB["c"]
    assert fastgraph.choose_projection(limit, backend="c") == "onehot"
    assert fastgraph.choose_projection(limit + 1, backend="c") == "lookup"
    assert fastgraph.choose_projection(3, backend="numba") == "lookup"
    assert fastgraph.choose_projection(10**6, "onehot", backend="c") == "onehot"
    assert FastRNN(V, H, backend="py", projection="onehot").projection == "onehot"
    with pytest.raises(ConfigError, match="projection"):
        FastRNN(V, H, backend="py", projection="dense")


def float_sums(outputs):
    return [v.owner.op for v in ancestors(outputs)
            if v.owner is not None and isinstance(v.owner.op, Sum)]


@pytest.mark.parametrize("projection", ["lookup", "onehot"])
def test_float32_graph_sums_in_float32_and_matches_float64(projection):
    x, y, params, h0 = problem(seed=11)
    ids = (x.astype("int32"), y.astype("int32"))
    model32 = fast_model(params, projection=projection, dtype="float32")
    sums = float_sums([model32.error, *model32.grads])
    assert sums and all(op.acc_dtype == "float32" for op in sums)
    err32, grads32 = fast_loss_and_grads(model32, *ids, h0.astype("float32"))
    err64, grads64 = fast_loss_and_grads(fast_model(params, projection=projection), *ids, h0)
    assert err32 == pytest.approx(err64, rel=1e-5)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(grads32[name], grads64[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_same_dtype_sums_leaves_the_callers_graph_alone():
    v = pt.vector("v", dtype="float32")
    total = (v * 2).sum()
    [rewritten] = fastgraph.same_dtype_sums([total])
    assert total.owner.op.acc_dtype == "float64"
    assert rewritten.owner.op.acc_dtype == "float32"
    assert v in set(ancestors([rewritten]))   # still a function of the caller's input
    data = np.array([1.5, -2.0, 4.0], dtype="float32")
    assert rewritten.eval({v: data}) == pytest.approx(7.0)


def test_verify_grad_batch_error():
    # The one-hot projection is checked against this one exactly (above); its own
    # verify_grad would constant-fold the one-hot of constant ids through Numba (~20 s).
    x, y, params, h0 = problem(seed=4)
    x_c, y_c = pt.constant(x.astype("int32")), pt.constant(y.astype("int32"))
    loss = lambda h0_, *p: batch_error(x_c, y_c, h0_, list(p))
    assert np.abs(preactivations(params, x, h0)).min() > 1e-3   # no relu kink within reach
    verify_grad(loss, [h0, *[params[n] for n in PARAM_NAMES]], rng=np.random.default_rng(0),
                abs_tol=1e-5, rel_tol=1e-5, mode="FAST_COMPILE", no_debug_ref=False)


def test_fast_rnn_train_step_applies_sgd():
    x, y, params, h0 = problem(seed=5)
    model = fast_model(params)
    _, grads = fast_loss_and_grads(model, x.astype("int32"), y.astype("int32"), h0)
    err = model.train_step(x, y, lr=0.1, h0=h0)
    assert err > 0
    for name, value in model.get_params().items():
        np.testing.assert_allclose(value, params[name] - 0.1 * grads[name], rtol=1e-12, atol=1e-14)


def test_fit_is_a_sequence_of_train_steps():
    x, y, params, _ = problem(seed=12, batch=5)
    stepped, fitted = fast_model(params), fast_model(params)
    expected = [stepped.train_step(x[i:i + 2], y[i:i + 2], lr=0.1) for _ in range(2) for i in (0, 2)]
    errors = fitted.fit(x, y, lr=0.1, batch_size=2, epochs=2)   # the 5th sequence is dropped
    np.testing.assert_allclose(errors, expected, rtol=1e-12)
    for name, value in fitted.get_params().items():
        np.testing.assert_allclose(value, stepped.get_params()[name], rtol=1e-12)
    assert fitted.train_fn.trust_input is False   # direct calls keep their checks


def test_fit_rejects_bad_input_before_training():
    x, y, params, _ = problem(seed=13)
    model = fast_model(params)
    with pytest.raises(ShapeError, match=r"\[0, 7\)"):
        model.fit(x, y + V, lr=0.1, batch_size=1)
    with pytest.raises(ShapeError, match="batch_size"):
        model.fit(x, y, lr=0.1, batch_size=B + 1)
    with pytest.raises(ShapeError, match="h0 must have shape"):
        model.train_step(x, y, lr=0.1, h0=np.zeros((B, H + 1)))
    assert all(np.array_equal(v, params[k]) for k, v in model.get_params().items())


def test_fast_rnn_same_init_as_lesson_rnn():
    fast, lesson = FastRNN(V, H, seed=9, backend="py"), LessonRNN(V, H, seed=9, backend="py")
    for name, value in lesson.get_params().items():
        np.testing.assert_array_equal(fast.get_params()[name], value)


def test_fast_rnn_rejects_bad_batches_before_training():
    x, y, params, _ = problem()
    model = fast_model(params)
    with pytest.raises(ShapeError, match="batch, seq_len"):
        model.train_step(x[0], y[0], lr=0.1)
    with pytest.raises(ShapeError, match=r"\[0, 7\)"):
        model.train_step(x + V, y, lr=0.1)
    assert all(np.array_equal(v, params[k]) for k, v in model.get_params().items())


def test_generate_fn_carries_state_like_numpy():
    _, _, params, _ = problem(seed=6)
    model = fast_model(params)
    h = np.zeros(H)
    for x_id in [3, 1, 6, 0]:
        probs = model.generate_fn(np.asarray(x_id, "int32"))
        expected, h = bench_numpy.generate_step(params, x_id, h)
        np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(model.state.get_value(), h, rtol=1e-12)


def numpy_sample(params, first_id, noise, temperature):
    """The compiled sampler's loop in numpy: Gumbel-max draws fed back in as inputs."""
    h, x_id, ids = np.zeros(H), first_id, []
    for g_t in noise:
        probs, h = bench_numpy.generate_step(params, x_id, h)
        x_id = int(np.argmax(np.log(probs) / temperature + g_t))   # log-probs = logits + const
        ids.append(x_id)
    return ids, h


def test_sample_is_the_per_call_greedy_loop_in_one_call():
    _, _, params, _ = problem(seed=17)
    model = fast_model(params)
    ids = model.sample(12, first_id=4, temperature=None)
    after_loop = model.state.get_value()
    model.reset_state()
    x_id, per_call = 4, []
    for _ in range(12):
        x_id = int(model.generate_fn(np.asarray(x_id, "int32")).argmax())
        per_call.append(x_id)
    assert ids.tolist() == per_call
    np.testing.assert_allclose(after_loop, model.state.get_value(), rtol=1e-12)
    assert len(set(per_call)) > 1   # a model stuck on one character would prove little


def test_sample_on_numba_draws_what_py_draws():
    """The backend that matters for speed: the scan with an integer recurrent output and the
    argmax compile for Numba and draw the same ids (and end in the same state) as py."""
    _, _, params, _ = problem(seed=17)
    draws = {}
    for backend in ("py", "numba"):
        model = FastRNN(V, H, dtype="float64", backend=backend)
        model.set_params(params)
        draws[backend] = (model.sample(20, first_id=3, temperature=1.3, seed=5),
                          model.state.get_value())
    np.testing.assert_array_equal(draws["numba"][0], draws["py"][0])
    np.testing.assert_allclose(draws["numba"][1], draws["py"][1], rtol=1e-12)


def test_sample_draws_from_the_temperature_softmax_with_gumbel_noise():
    _, _, params, _ = problem(seed=9)
    model = fast_model(params)
    ids = model.sample(15, first_id=2, temperature=0.7, seed=3)
    noise = np.random.default_rng(3).gumbel(size=(15, V))
    expected, h = numpy_sample(params, 2, noise, 0.7)
    assert ids.tolist() == expected
    np.testing.assert_allclose(model.state.get_value(), h, rtol=1e-12)
    model.reset_state()
    assert model.sample(15, first_id=2, temperature=0.7, seed=3).tolist() == expected   # seeded


def test_sample_frequencies_follow_the_softmax():
    """Gumbel-max is exact: the first character's frequencies over many draws from the
    same state match softmax(z / T) (4 standard errors; fails for a wrong temperature)."""
    _, _, params, _ = problem(seed=10)
    model = fast_model(params)
    first_probs, _ = bench_numpy.generate_step(params, 5, np.zeros(H))
    target = first_probs ** (1 / 0.8); target /= target.sum()
    n = 3000
    rng = np.random.default_rng(0)
    noise = rng.gumbel(size=(n, V))
    z = np.log(first_probs) / 0.8
    draws = np.argmax(z + noise, axis=1)   # the same rule in numpy, for the counts
    graph_draws = []
    for row in noise[:200]:   # and the graph agrees with it draw for draw
        model.reset_state()
        graph_draws.append(int(model.sample_fn(np.asarray(5, "int32"), row[None],
                                               np.asarray(1 / 0.8))[0]))
    assert graph_draws == draws[:200].tolist()
    freq = np.bincount(draws, minlength=V) / n
    np.testing.assert_array_less(np.abs(freq - target), 4 * np.sqrt(target * (1 - target) / n) + 1e-9)


@pytest.mark.parametrize("call, match", [
    (lambda m: m.sample(0, 1), "n_chars"),
    (lambda m: m.sample(2.5, 1), "n_chars"),
    (lambda m: m.sample(3, V), "first_id"),
    (lambda m: m.sample(3, -1), "first_id"),
    (lambda m: m.sample(3, 1, temperature=-1.0), "temperature"),
    (lambda m: m.sample(3, 1, temperature=float("nan")), "temperature"),
])
def test_sample_rejects_bad_arguments_before_touching_the_state(call, match):
    _, _, params, _ = problem(seed=11)
    model = fast_model(params)
    model.state.set_value(np.full(H, 0.25))
    with pytest.raises((ConfigError, ShapeError), match=match):
        call(model)
    np.testing.assert_array_equal(model.state.get_value(), np.full(H, 0.25))


# ------------------------------------------------------- batched numpy twin

@pytest.mark.parametrize("inputs", ["ids", "onehot"])
def test_bench_numpy_batch1_matches_numpy_rnn(inputs):
    x, y, params, h0 = problem(seed=7, batch=1)
    err, _, _ = numpy_rnn.loss_and_grads(params, x[0], y[0], h0[0])
    _, grads, _ = numpy_rnn.loss_and_grads(params, x[0], y[0], h0[0])
    xs, ys = (x, y) if inputs == "ids" else (np.eye(V)[x], np.eye(V)[y])
    got_err, got = bench_numpy.loss_and_grads(params, xs, ys, h0)
    assert got_err == pytest.approx(err, rel=1e-12)
    assert_grads_close(got, grads)


def test_bench_numpy_batch_matches_pytensor():
    x, y, params, h0 = problem(seed=8)
    expected = fast_loss_and_grads(fast_model(params), x.astype("int32"), y.astype("int32"), h0)
    got_err, got = bench_numpy.loss_and_grads(params, x, y, h0)
    assert got_err == pytest.approx(expected[0], rel=1e-12)
    assert_grads_close(got, expected[1])


def test_bench_numpy_train_step_is_sgd_in_place():
    x, y, params, h0 = problem(seed=9)
    before = {k: v.copy() for k, v in params.items()}
    _, grads = bench_numpy.loss_and_grads(before, x, y, h0)
    bench_numpy.train_step(params, x, y, h0, 0.5)
    for name in params:
        np.testing.assert_allclose(params[name], before[name] - 0.5 * grads[name], rtol=1e-12)


# ------------------------------------------------------------------- harness

def test_flops_per_char_counts_lookup_as_free():
    assert bench.flops_per_char(86, 256, "ids") == 3 * 2 * (256 * 256 + 256 * 86)
    # the one-hot product x . W_x has a dW_x but no gradient for the data: twice, not three times
    assert bench.flops_per_char(86, 256, "onehot") == 3 * 2 * (256 * 256 + 256 * 86) + 2 * 2 * 86 * 256


def test_bench_quick_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = bench.main(["--quick", "--backend", "py", "--vocab", "11", "--hidden", "7",
                       "--seq", "3", "--batch", "2", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert {"config", "machine", "train", "flop_bound", "generate",
            "compile_in_process_s", "probes"} <= set(result)
    impls = {r["impl"] for r in result["train"]}
    assert {"symrnn-py", "numpy"} <= impls
    row = result["train"][0]
    assert {"seq", "batch", "median", "min", "max", "x_torch", "x_numpy", "frac_bound"} <= set(row)
    assert "Training chars/s" in capsys.readouterr().out



def test_probe_env_moves_every_pytensor_cache(monkeypatch):
    # PyTensor 3 keeps its Numba cache under base_compiledir: a fresh compiledir
    # alone would leave it warm and the "cold" probe would not be cold.
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float32")
    env = bench.probe_env("/tmp/x")
    assert env["PYTENSOR_FLAGS"] == "floatX=float32,base_compiledir=/tmp/x/pytensor"
    assert env["NUMBA_CACHE_DIR"] == "/tmp/x/numba"


# ---------------------------------------------------------------- main-job probe
def test_main_job_probe_times_the_first_loss_and_the_switch(tmp_path):
    from symrnn.bench import mainjob as bench_mainjob
    script = ("import sys, time\n"
              "sys.stderr.write('epoch 1/1:   0%|  | 0/9 [00:00<?, ?step/s]\\r'); sys.stderr.flush()\n"
              "time.sleep(0.3)\n"
              "sys.stderr.write('epoch 1/1:  11%|  | 1/9 [00:00, loss=4.676]\\r'); sys.stderr.flush()\n"
              "time.sleep(0.3)\n"
              "print('[switched to the numba backend: its background compile finished]', flush=True)\n")
    result = bench_mainjob.timed_job([sys.executable, "-c", script], dict(os.environ))
    assert result["exit"] == 0
    # order and a lower bound only (sleep never returns early): no claim about speed
    assert 0.3 <= result["first_loss_s"] < result["switch_s"] <= result["total_s"]


def test_main_job_probe_isolates_the_caches_and_reads_the_logged_request(tmp_path, monkeypatch):
    from symrnn.bench import mainjob as bench_mainjob
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float32,base_compiledir=/elsewhere")
    monkeypatch.setenv("SYMRNN_BACKEND", "py")
    env = bench_mainjob.cache_env(str(tmp_path))
    assert env["PYTENSOR_FLAGS"] == f"floatX=float32,base_compiledir={tmp_path}/pytensor"
    assert env["NUMBA_CACHE_DIR"] == f"{tmp_path}/numba" and "SYMRNN_BACKEND" not in env
    (tmp_path / "background-compile.log").write_text('{"vocab_size": 5}\ncompiling...\n')
    assert bench_mainjob.logged_request(str(tmp_path)) == {"vocab_size": 5}
