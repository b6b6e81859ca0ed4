"""``symrnn bench`` as a program: FLOP counts, options, an end-to-end smoke run of every
model, failed rows, compile probes with their isolated caches, the main-job probe.
Everything runs on the py backend at tiny sizes; nothing asserts a speed."""
import json
import os
import sys

import numpy as np
import pytest

from symrnn.bench import impls, mainjob, probes, runner
from symrnn.bench.flops import flop_bound, flops_per_char, step_flops, step_matmuls
from symrnn.bench.options import parse_args
from symrnn.layers.charmodels import MODELS
from symrnn.runtime import with_package_on_path

TINY = ["--backend", "py", "--vocab", "11", "--hidden", "7", "--embed", "3", "--seq", "3",
        "--batch", "2"]


# ------------------------------------------------------------------- FLOPs

@pytest.mark.parametrize("model, per_char", [
    # V=11, F=3 (embedding) or 11 (one-hot), H=7, W = gates * H. Per character:
    # projection 2FW, dW_x 2FW, d rows 2WF (embedding only), recurrence 2HW forward and 2WH
    # backward, dW_h 2HW, output 2HV forward, 2VH back to h, dW_y 2HV.
    ("lesson", 2 * (2 * 11 * 7 + 3 * 7 * 7 + 3 * 7 * 11)),
    ("simplernn", 2 * (3 * 3 * 7 + 3 * 7 * 7 + 3 * 7 * 11)),
    ("gru", 2 * (3 * 3 * 21 + 3 * 7 * 21 + 3 * 7 * 11)),
    ("lstm", 2 * (3 * 3 * 28 + 3 * 7 * 28 + 3 * 7 * 11)),
])
def test_flops_per_char_by_hand(model, per_char):
    assert flops_per_char(model, vocab=11, hidden=7, embed=3) == per_char
    # every product of a B=5, T=4 step scales with B*T: the step costs 20 characters' worth
    assert step_flops(step_matmuls(model, 11, 7, 3, batch=5, seq=4)) == 20 * per_char


def test_flop_bound_times_the_steps_shapes():
    bound = flop_bound("gru", 11, 7, 3, batch=2, seq=3, dtype="float32", budget=0.0)
    assert bound["flops_per_char"] == flops_per_char("gru", 11, 7, 3)
    assert bound["chars_per_s"] > 0 and np.isfinite(bound["matmul_gflops"])


# ----------------------------------------------------------------- options

def test_default_runs_the_three_cells_and_cell_names_map_to_models():
    assert parse_args([]).models == ["simplernn", "gru", "lstm"]
    assert parse_args(["--cell", "simple", "lstm"]).models == ["simplernn", "lstm"]
    assert parse_args(["--model", "all"]).models == list(MODELS)
    quick = parse_args(["--quick"])
    assert (quick.repeats, quick.probes) == (1, False)
    assert parse_args(["--quick", "--probes"]).probes is True


@pytest.mark.parametrize("argv, message", [
    (["--repeats", "0"], "--repeats: must be >= 1"),
    (["--hidden", "-3"], "--hidden: must be >= 1"),
    (["--seq", "8", "0"], "--seq: must be >= 1"),
    (["--batch", "x"], "--batch: expected a number"),
    (["--round-seconds", "nan"], "--round-seconds: must be >= 0"),
    (["--gen-chars", "0"], "--gen-chars: must be >= 1"),
    (["--vocab", "1"], "--vocab: must be >= 2"),
    (["--model", "rnn"], "invalid choice: 'rnn'"),
    (["--cell", "simplernn"], "invalid choice: 'simplernn'"),
    (["--backend", "auto"], "invalid choice: 'auto'"),
    (["--model", "gru", "--cell", "gru"], "not allowed with argument"),
    (["--no-probes", "--probes"], "not allowed with argument"),
])
def test_bad_options_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------- end to end

ROW_KINDS = ["Training chars/s", "FLOP bound", "Generation chars/s", "same chars as 1/call: yes",
             "In-process build + first call"]


@pytest.mark.heavy   # every model compiled cold; the one-model quick run below stays in the default suite
def test_quick_run_of_every_model_prints_and_writes_every_row_kind(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # the step profile has its own tests (tests/bench/test_bench_stepprofile.py)
    assert runner.main(["--quick", "--model", "all", *TINY, "--json", str(out),
                        "--no-step-profile"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    torch_rows = ["torch"] if result["machine"]["torch"] else []
    assert [m["model"] for m in result["models"]] == list(MODELS)
    for model in result["models"]:
        assert f"=== --model {model['model']}:" in printed
        assert [r["impl"] for r in model["train"]] == ["symrnn-py", "numpy", *torch_rows]
        assert all(r["x_numpy"] > 0 and r["frac_bound"] > 0 for r in model["train"])
        generated = {r["impl"]: r for r in model["generate"]}
        assert set(generated) == {"symrnn-py 1/call", "symrnn-py n/call", "numpy", *torch_rows}
        assert generated["symrnn-py n/call"]["same_chars"] is True
        assert model["bounds"][0]["flops_per_char"] == flops_per_char(model["model"], 11, 7, 3)
        assert model["failures"] == [] and "T=3" in model["first_step_s"]["symrnn-py"]
        assert model["step_profile"] == []
    assert "profiled step" not in printed
    for kind in ROW_KINDS:
        assert printed.count(kind) == len(MODELS), kind


def test_a_quick_run_prints_and_writes_the_largest_cases_step_profile(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert runner.main(["--quick", "--model", "simplernn", "--no-torch", *TINY,
                        "--json", str(out)]) == 0
    [model] = json.loads(out.read_text())["models"]
    [profile] = model["step_profile"]   # --quick: the largest case, symrnn's trainers
    assert (profile["impl"], profile["seq"], profile["batch"]) == ("symrnn-py", 3, 2)
    assert profile["total_ms"] > 0 and profile["timed_ms"] > 0
    assert list(profile["groups"]) == ["recurrence", "gemm", "loss", "rest"]
    assert capsys.readouterr().out.count("symrnn-py: profiled step") == 1


def test_a_failing_backend_is_a_failed_row_not_a_crash(monkeypatch, capsys):
    real = impls.compiled_model

    def compiled_model(*args, backend=None, **kwargs):
        if backend == "c":
            raise RuntimeError("no C compiler today\nsecond line")
        return real(*args, backend=backend, **kwargs)
    monkeypatch.setattr(impls, "compiled_model", compiled_model)
    # the cheapest model to compile: the failure handling is what is tested
    assert runner.main(["--quick", "--model", "simplernn", "--no-torch", *TINY, "--backend", "py", "c"]) == 0
    printed = capsys.readouterr().out
    assert "FAILED symrnn-c (training T=3 B=2): RuntimeError: no C compiler today" in printed
    assert "second line" not in printed and " symrnn-py " in printed


def test_a_backend_that_fails_one_case_still_runs_the_others(monkeypatch, tmp_path, capsys):
    real = impls.SymrnnTrainer.prepare

    def prepare(self, x, y):
        if x.shape[0] == 1:
            raise RuntimeError("no batch of one row today")
        return real(self, x, y)
    monkeypatch.setattr(impls.SymrnnTrainer, "prepare", prepare)
    out = tmp_path / "bench.json"
    assert runner.main(["--quick", "--model", "simplernn", "--no-torch", "--vocab", "11",
                        "--hidden", "7", "--embed", "3", "--seq", "3", "--batch", "1", "2",
                        "--backend", "py", "--json", str(out)]) == 0
    assert "FAILED symrnn-py (training T=3 B=1): RuntimeError: no batch of one row" in \
        capsys.readouterr().out
    [model] = json.loads(out.read_text())["models"]
    trained = {(r["impl"], r["batch"]) for r in model["train"]}
    assert trained == {("numpy", 1), ("numpy", 2), ("symrnn-py", 2)}
    assert "symrnn-py n/call" in {r["impl"] for r in model["generate"]}


def test_profile_prints_pytensors_op_profile_of_the_training_function(capsys):
    assert runner.main(["--profile", "--model", "gru", *TINY]) == 0
    printed = capsys.readouterr().out
    assert "Function profiling" in printed and "30 calls" in printed
    assert "symrnn-py: profiled step" in printed and "recurrence" in printed


# ------------------------------------------------------------------ probes

def fake_probe_command(args, model, impl):
    """A child that reports where PyTensor and Numba would put their caches, instead of
    compiling a model (the real child is tested below)."""
    script = ("import json, os, numba, pytensor\n"
              f"print('{probes.FIRST_STEP}', flush=True)\n"
              "print(json.dumps({'in_process_first_step_s': 0.0, 'next_step_s': 0.0, "
              "'maxrss_mb': 1.0, 'compiledir': str(pytensor.config.base_compiledir), "
              "'numba_cache': str(numba.config.CACHE_DIR)}))\n")
    return [sys.executable, "-c", script]


def test_probes_give_each_backend_fresh_caches_shared_by_its_cold_and_warm_run(monkeypatch):
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64,base_compiledir=/somewhere/else")
    monkeypatch.setattr(probes, "probe_command", fake_probe_command)
    args = parse_args(["--backend", "py", "c"])
    rows = probes.run_probes(args, "gru", torch_too=False)
    assert [(r["impl"], r["cache"]) for r in rows] == [
        ("symrnn-py", "cold"), ("symrnn-py", "warm"), ("symrnn-c", "cold"), ("symrnn-c", "warm")]
    caches = [os.path.dirname(r["compiledir"]) for r in rows]
    assert caches[0] == caches[1] and caches[2] == caches[3] and caches[0] != caches[2]
    for row, cache in zip(rows, caches):
        assert row["compiledir"] == f"{cache}/pytensor" and row["numba_cache"] == f"{cache}/numba"
        assert not os.path.exists(cache)   # a temporary directory, gone after its two probes
        assert row["first_step_s"] > 0


def test_probe_child_takes_a_first_step_and_reports():
    # on this process' caches: a fresh base_compiledir would cost a cold build of PyTensor's
    # own C helpers (the test above checks where a probe's caches go)
    args = parse_args(["--model", "simplernn", *TINY])
    row = probes.run_probe(probes.probe_command(args, "simplernn", "symrnn-py"),
                           with_package_on_path(dict(os.environ)))
    assert "error" not in row, row
    assert row["first_step_s"] >= row["in_process_first_step_s"] > 0
    assert row["maxrss_mb"] > 0 and row["next_step_s"] > 0


def test_probe_of_a_failing_child_is_an_error_row():
    row = probes.run_probe([sys.executable, "-c", "raise SystemExit('no luck')"], dict(os.environ))
    assert row == {"error": "no luck"}


# ---------------------------------------------------------------- main job

def test_main_job_probe_times_the_first_loss_and_the_end():
    script = ("import sys, time\n"
              "sys.stderr.write('epoch 1/1:   0%|  | 0/9 [00:00<?, ?step/s]\\r'); sys.stderr.flush()\n"
              "time.sleep(0.3)\n"
              "sys.stderr.write('epoch 1/1:  11%|  | 1/9 [00:00, loss=4.676]\\r'); sys.stderr.flush()\n"
              "time.sleep(0.3)\n")
    result = mainjob.timed_job([sys.executable, "-c", script], dict(os.environ))
    assert result["exit"] == 0
    # order and lower bounds only (sleep never returns early): no claim about speed, and no
    # gap between the two (a loaded machine may read the loss line late)
    assert 0.3 <= result["first_loss_s"] <= result["total_s"] and result["total_s"] >= 0.6


def test_main_job_runs_the_readme_command_on_isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float32,base_compiledir=/elsewhere")
    monkeypatch.setenv("SYMRNN_BACKEND", "py")
    env = mainjob.cache_env(str(tmp_path))
    assert env["PYTENSOR_FLAGS"] == f"floatX=float32,base_compiledir={tmp_path}/pytensor"
    assert env["NUMBA_CACHE_DIR"] == f"{tmp_path}/numba" and "SYMRNN_BACKEND" not in env
    assert mainjob.train_command("r")[1:] == ["-m", "symrnn", "train", "--run-dir", "r"]
