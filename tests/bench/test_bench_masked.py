"""``symrnn bench --masked``: the masked batches, the masked models' losses against numpy and
PyTorch, and a quick end-to-end run on the py backend at tiny sizes. No speed asserted."""
import json

import numpy as np
import pytest
from marks import heavy_beyond

from symrnn.bench import masked, runner
from symrnn.bench.options import parse_args
from symrnn.bench.spec import twin_weights
from symrnn.layers import fitting

V, E, H, B, T = 11, 3, 7, 5, 6
TINY = ["--backend", "py", "--vocab", str(V), "--hidden", str(H), "--embed", str(E), "--seq",
        str(T), "--batch", str(B)]
KINDS = [masked.ONE_TO_ONE, masked.MANY_TO_ONE]
CASES = [(cell, kind) for cell in ("gru", "lstm") for kind in KINDS]


# ------------------------------------------------------------------ batches

@pytest.mark.parametrize("kind", KINDS)
def test_masked_batch_is_post_padded_with_lengths_in_half_t_to_t(kind):
    lengths, x, y = masked.masked_batch(V, 64, 40, kind, seed=3)
    assert x.shape == (64, 40) and x.dtype == np.int32 and y.dtype == np.int64
    assert lengths.min() >= 20 and lengths.max() <= 40 and len(set(lengths.tolist())) > 5
    real = np.arange(40)[None, :] < lengths[:, None]
    assert ((x != 0) == real).all()   # real ids are never 0, padding only after them
    if kind == masked.ONE_TO_ONE:
        assert ((y != 0) == real).all()
        assert (y[:, :-1][real[:, 1:]] == x[:, 1:][real[:, 1:]]).all()   # next ids
    else:
        assert y.shape == (64,) and 0 <= y.min() and y.max() < masked.N_CLASSES
    again = masked.masked_batch(V, 64, 40, kind, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((lengths, x, y), again))


# ------------------------------------------------------------------- losses

def perturbed(cell, kind, seed):
    """float64 initial weights moved off their init (non-zero biases), so a wrong mapping shows."""
    rng = np.random.default_rng(seed)
    weights = masked.initial_weights(cell, kind, V, H, E, "float64")
    return {role: w + rng.normal(0, 0.3, w.shape) for role, w in weights.items()}


@pytest.mark.parametrize("cell, kind", heavy_beyond(CASES, keep=[("lstm", masked.MANY_TO_ONE)]))
def test_symrnn_masked_loss_equals_numpys_over_real_steps_only(cell, kind):
    weights = perturbed(cell, kind, seed=1)
    lengths, x, y = masked.masked_batch(V, B, T, kind, seed=1)
    trainer = masked.MaskedSymrnnTrainer(cell, kind, V, H, E, "float64", "py", weights)
    trainer.prepare(x, y)
    symrnn_loss = trainer.train(1)
    expected = masked.numpy_masked_loss(weights, cell, kind, x, lengths, y)
    assert symrnn_loss == pytest.approx(expected, rel=1e-12)
    # the mask matters: counting every step as real (or reading the last padded step) differs
    unmasked = masked.numpy_masked_loss(weights, cell, kind, x, np.full(B, T), y)
    assert unmasked != pytest.approx(expected, rel=1e-6)


def test_the_trainer_starts_from_the_weights_given():
    weights = perturbed("lstm", masked.MANY_TO_ONE, seed=2)
    trainer = masked.MaskedSymrnnTrainer("lstm", masked.MANY_TO_ONE, V, H, E, "float64", "py",
                                         weights)
    model = trainer.model_for(T)
    assert [layer.name for layer in model.stack] == ["embedding", "rnn_0", "output"]
    assert model.stack[0].mask_zero and not model.stack[1].return_sequences
    assert fitting.train_fn(model) is fitting.train_fn(model)   # what prepare uses
    got = twin_weights(model)
    assert all(np.array_equal(got[role], weights[role]) for role in weights)


@pytest.mark.parametrize("name", masked.TORCH_IMPLS)
@pytest.mark.parametrize("cell, kind", CASES)
def test_torch_losses_equal_numpys_masked_loss(cell, kind, name):
    torch = pytest.importorskip("torch")
    weights = perturbed(cell, kind, seed=4)
    if cell == "gru":   # where nn.GRU and the Keras GRU compute the same function
        weights = masked.saturated_reset_gate(weights)
    lengths, x, y = masked.masked_batch(V, B, T, kind, seed=4)
    impl = masked.MaskedTorchImpl(torch, cell, kind, weights, lr=0.0, name=name)
    assert impl.name == name and impl.twin.packed == (name == "torch")
    impl.prepare(x, y)
    assert impl.lengths.tolist() == lengths.tolist()
    assert impl.train(1) == pytest.approx(
        masked.numpy_masked_loss(weights, cell, kind, x, lengths, y), rel=1e-12)


def test_loss_check_flags_a_wrong_loss():
    weights = perturbed("lstm", masked.ONE_TO_ONE, seed=5)
    batch = masked.masked_batch(V, B, T, masked.ONE_TO_ONE, seed=5)
    right = masked.numpy_masked_loss(weights, "lstm", masked.ONE_TO_ONE, batch[1], batch[0],
                                     batch[2])
    good = masked.loss_check({"a": right * (1 + 1e-7)}, weights, "lstm", masked.ONE_TO_ONE,
                             batch, None)
    bad = masked.loss_check({"a": right * (1 + 1e-4)}, weights, "lstm", masked.ONE_TO_ONE,
                            batch, None)
    assert good["ok"] and not bad["ok"]


# ------------------------------------------------------------------ options

def test_masked_options_default_to_the_issue_sizes_and_refuse_what_does_not_apply(capsys):
    args = parse_args(["--masked"])
    assert (args.models, args.kinds, args.hidden, args.seq, args.batch, args.vocab, args.embed) \
        == (["gru", "lstm"], KINDS, 128, [40], [64], 86, 42)
    assert args.probes is False
    plain = parse_args([])
    assert (plain.hidden, plain.seq, plain.batch, plain.kinds) == (256, [8, 40], [1, 64], None)
    assert parse_args(["--masked", "--cell", "lstm", "--kind", "many-to-one"]).kinds == \
        ["many-to-one"]
    for argv, message in [(["--masked", "--cell", "simple"], "--masked times gru and lstm"),
                          (["--kind", "one-to-one"], "add --masked"),
                          (["--masked", "--probes"], "no compile probes")]:
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err


# --------------------------------------------------------------- end to end

@pytest.mark.heavy   # two cells compiled cold and timed; the torch-less quick run stays by default
def test_quick_masked_run_prints_its_table_and_writes_its_rows(tmp_path, capsys):
    """Two of the four cases (each compiles its model; the loss tests above cover all four)."""
    out = tmp_path / "masked.json"
    argv = ["--masked", "--quick", "--cell", "gru", "lstm", "--kind", "many-to-one", *TINY]
    assert runner.main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    torch_rows = list(masked.TORCH_IMPLS) if result["machine"]["torch"] else []
    assert "=== --masked:" in printed and "Masked training: real chars/s" in printed
    assert "MISMATCH" not in printed and "FAILED" not in printed
    cases = result["masked"]["cases"]
    assert [(c["cell"], c["kind"]) for c in cases] == [("gru", "many-to-one"), ("lstm", "many-to-one")]
    for case in cases:
        lengths, x, _ = masked.masked_batch(V, B, T, case["kind"], seed=0)
        # real characters: the sum of the lengths, which are the non-padding ids per row
        assert case["lengths"] == lengths.tolist() == (x != 0).sum(axis=1).tolist()
        assert case["real_chars"] == sum(case["lengths"]) < case["padded_steps"] == B * T
        assert case["failures"] == [] and case["loss_check"]["ok"]
        checked = [e["impl"] for e in case["loss_check"]["entries"]]
        assert checked == ["symrnn-py", *torch_rows]
        assert [r["impl"] for r in case["train"]] == ["symrnn-py", *torch_rows]
        for row in case["train"]:
            assert set(row) >= {"cell", "kind", "seq", "batch", "impl", "median", "min", "max",
                                "rounds", "padded_steps_per_s", "x_torch", "x_torch_padded"}
            assert row["median"] > 0 and row["rounds"] == 1
            assert row["padded_steps_per_s"] == pytest.approx(
                row["median"] * B * T / case["real_chars"])
            for key in ("x_torch", "x_torch_padded"):
                assert (row[key] > 0) if torch_rows else row[key] is None
            assert f"{case['cell']:<5} {case['kind']:<12}" in printed
        assert set(case["first_step_s"]) == {"symrnn-py", *torch_rows}
    assert "models" not in result and result["config"]["masked"] is True


def test_quick_masked_run_without_torch_leaves_its_rows_out(tmp_path, capsys):
    out = tmp_path / "masked.json"
    argv = ["--masked", "--quick", "--no-torch", "--cell", "lstm", "--kind", "many-to-one", *TINY]
    assert runner.main([*argv, "--json", str(out)]) == 0
    [case] = json.loads(out.read_text())["masked"]["cases"]
    assert [r["impl"] for r in case["train"]] == ["symrnn-py"]
    assert case["train"][0]["x_torch"] is None and case["loss_check"]["ok"]
    printed = capsys.readouterr().out.splitlines()
    rows = [line for line in printed if line.lstrip().startswith("lstm ")]
    assert len(rows) == 3   # a training row, the loss check, the first step
    assert not any("torch" in line for line in rows)


def test_a_failing_masked_backend_is_a_failed_row(monkeypatch, capsys):
    real = masked.masked_model

    def masked_model(*args, backend=None, **kwargs):
        if backend == "c":
            raise RuntimeError("no C compiler today\nsecond line")
        return real(*args, backend=backend, **kwargs)
    monkeypatch.setattr(masked, "masked_model", masked_model)
    argv = ["--masked", "--quick", "--no-torch", "--cell", "gru", "--kind", "many-to-one", *TINY,
            "--backend", "py", "c"]
    assert runner.main(argv) == 0
    printed = capsys.readouterr().out
    assert "FAILED symrnn-c (masked training): RuntimeError: no C compiler today" in printed
    assert " symrnn-py " in printed


def test_masked_profile_prints_the_op_profile(capsys):
    assert runner.main(["--masked", "--profile", "--cell", "gru", "--kind", "many-to-one",
                        *TINY]) == 0
    printed = capsys.readouterr().out
    assert "--masked gru many-to-one" in printed and "Function profiling" in printed
