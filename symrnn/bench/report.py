"""Printing the bench's rows (the JSON output holds the same dicts).

>>> fmt(None, ".2f"), fmt(1.234, ".2f")
('-', '1.23')
"""
from .spec import CELL, uses_embedding

LAYER_NAMES = {"simple": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def describe_model(model, sizes):
    """The layer stack, as ``symrnn train --model MODEL`` builds it."""
    first = (f"Embedding({sizes['vocab']}, {sizes['embed']})" if uses_embedding(model)
             else f"OneHot({sizes['vocab']})")
    act = "relu, " if CELL[model] == "simple" else "sigmoid gates, "
    return (f"{first} -> {LAYER_NAMES[CELL[model]]}({sizes['hidden']}, {act}"
            f"{sizes['dtype']}) -> TimeDistributed(Dense({sizes['vocab']}, softmax)); sparse "
            "cross-entropy mean; SGD")


def print_header(info):
    print(f"symrnn bench: python {info['python']}, numpy {info['numpy']}, pytensor {info['pytensor']}, "
          f"torch {info['torch'] or 'not installed'}, BLAS threads {info['threads']}, "
          f"{info['cpus']} CPUs, malloc "
          f"{'keeps freed memory' if info['malloc_keeps_freed_memory'] else 'system default'}")
    print("symrnn times symrnn.layers.fitting.train_fn(model) (what fit and symrnn train call) "
          "with trust_input=True, inputs int32 ids and int64 targets")


def print_model(result):
    model = result["model"]
    print(f"\n=== --model {model}: {describe_model(model, result['sizes'])}")
    print_failures(result["failures"])
    print_train(result["train"])
    print_step_profiles(result.get("step_profile", []))
    print_bounds(result["bounds"])
    print_generate(result["generate"])
    print_first_steps(result["first_step_s"])


def print_failures(rows):
    for row in rows:
        print(f"  FAILED {row['impl']} ({row['stage']}): {row['error']}")


def print_train(rows):
    print("\nTraining chars/s (forward + backward + SGD), median of rounds; x torch, x numpy: "
          "median over theirs")
    print(f"{'seq':>4} {'batch':>5} {'impl':<14} {'median':>9} {'min-max':>19} {'x torch':>8} "
          f"{'x numpy':>8} {'of bound':>8}")
    for r in rows:
        print(f"{r['seq']:>4} {r['batch']:>5} {r['impl']:<14} {r['median']:>9.0f} "
              f"{r['min']:>9.0f}-{r['max']:<9.0f} {fmt(r['x_torch'], '8.2f')} "
              f"{fmt(r['x_numpy'], '8.2f')} {r['frac_bound']:>8.2f}")


def print_step_profiles(rows):
    """Where each profiled step's time goes (the rows of ``step_profile``: see
    :func:`symrnn.bench.runner.step_profiles`)."""
    if not rows:
        return
    done = next((r for r in rows if "error" not in r), rows[0])
    print(f"Where a step's time goes: PyTensor's profiler on one training step, every node timed "
          f"(on Numba each node compiled on its own), median of {done.get('steps', '-')} steps "
          "after a warm-up; ms per step and % of the profiled step")
    for r in rows:
        label = f"  seq {r['seq']:>3} batch {r['batch']:>3} {r['impl']}"
        if "error" in r:
            print(f"{label}: no profile: {r['error']}")
            continue
        fastest = f", fastest round {r['timed_min_ms']:.2f}" if "timed_min_ms" in r else ""
        took = f"; profiling took {r['profile_s']:.1f} s" if "profile_s" in r else ""
        print(f"{label}: profiled step {r['total_ms']:.2f} ms vs timed {r['timed_ms']:.2f} ms "
              f"(median{fastest}; profiled call {r['call_ms']:.2f} ms, {r['nodes']} nodes{took})")
        for name, group in r["groups"].items():
            print(f"    {name:<10} {group['ms']:>8.2f} ms {100 * group['frac']:>4.0f}%  "
                  f"{describe_ops(group['ops'])}")


def describe_ops(ops, top=5):
    """``ops`` (ms per op type, largest first): the first ``top``, then what the rest add up to.

    >>> describe_ops({"Elemwise": 0.5, "Alloc": 0.25, "Reshape": 0.1}, top=2)
    'Elemwise 0.50, Alloc 0.25, 1 more 0.10'
    """
    shown = [f"{op} {ms:.2f}" for op, ms in list(ops.items())[:top]]
    more = list(ops.values())[top:]
    return ", ".join(shown + ([f"{len(more)} more {sum(more):.2f}"] if more else [])) or "-"


def print_bounds(rows):
    print("FLOP bound: matmul FLOPs per char over numpy's matmul speed at this step's shapes "
          "(symrnn.bench.flops)")
    for b in rows:
        print(f"  seq {b['seq']:>3} batch {b['batch']:>3}: {b['flops_per_char']:,} FLOP/char, "
              f"{b['matmul_gflops']:.1f} GFLOP/s -> {b['chars_per_s']:,.0f} chars/s")


def print_generate(rows):
    print("\nGeneration chars/s (greedy, state carried; 1/call: one character per call, n/call: a "
          "round in one call)")
    for r in rows:
        same = "" if r.get("same_chars") is None else \
            f"  same chars as 1/call: {'yes' if r['same_chars'] else 'NO'}"
        print(f"  {r['impl']:<20} {r['median']:>9.0f}  ({r['min']:.0f}-{r['max']:.0f})  "
              f"x torch {fmt(r['x_torch'], '.2f')}  x numpy {fmt(r['x_numpy'], '.2f')}{same}")


def print_first_steps(first_steps):
    print("\nIn-process build + first call seconds (Numba compiles at the first call):")
    for name, by_case in first_steps.items():
        print(f"  {name:<20} " + ", ".join(f"{case} {seconds:.1f}" for case, seconds in by_case.items()))


def print_probes(rows):
    print("\nCompile probes: a fresh process per row, from its start to its first training step "
          "(cold: fresh base_compiledir + NUMBA_CACHE_DIR; warm: the same dirs, a new process)")
    for r in rows:
        label = f"  {r['model']:<10} {r['impl']:<14} {r['cache']:<5}"
        if "error" in r:
            print(f"{label} FAILED: {r['error']}")
            continue
        print(f"{label} first step after {r['first_step_s']:.1f} s (in-process "
              f"{r['in_process_first_step_s']:.1f} s), next step {r['next_step_s'] * 1e3:.0f} ms, "
              f"peak RSS {r['maxrss_mb']:.0f} MB")


def describe_masked(sizes):
    """The ``--masked`` models, symrnn's and PyTorch's."""
    v, e, h = sizes["vocab"], sizes["embed"], sizes["hidden"]
    return (f"Embedding({v}, {e}, mask_zero=True) -> GRU/LSTM({h}, sigmoid gates, "
            f"{sizes['dtype']}) -> one-to-one: TimeDistributed(Dense({v}, softmax)) on "
            f"return_sequences; many-to-one: Dense({sizes['classes']}, softmax) on the last real "
            "step; sparse cross-entropy over real steps; SGD. PyTorch: nn.Embedding(padding_idx=0) "
            "-> pack_padded_sequence(enforce_sorted=False) -> nn.GRU/nn.LSTM -> one-to-one: "
            "pad_packed_sequence -> nn.Linear -> cross_entropy(ignore_index=0); many-to-one: "
            "h_n -> nn.Linear -> cross_entropy; same initial weights. torch-padded: the same "
            "without packing, the RNN over all B*T steps (exact for post-padding)")


def print_masked(result):
    cases = result["cases"]
    print(f"\n=== --masked: {describe_masked(result['sizes'])}")
    for case in cases:
        print_failures(case["failures"])
    print(f"Lengths uniform in [T/2, T], post-padded with id 0 (seed {result['sizes']['seed']})")
    print("\nMasked training: real chars/s (forward + backward + SGD; only real steps count), "
          "median of rounds; padded steps/s: the same rate counting all B*T steps; x torch, "
          "x padded: median over torch's (packed), torch-padded's")
    print(f"{'cell':<5} {'kind':<12} {'seq':>4} {'batch':>5} {'real':>6} {'impl':<14} "
          f"{'real ch/s':>10} {'min-max':>19} {'padded/s':>9} {'x torch':>8} {'x padded':>8}")
    for case in cases:
        for r in case["train"]:
            print(f"{case['cell']:<5} {case['kind']:<12} {case['seq']:>4} {case['batch']:>5} "
                  f"{case['real_chars']:>6} {r['impl']:<14} {r['median']:>10.0f} "
                  f"{r['min']:>9.0f}-{r['max']:<9.0f} {r['padded_steps_per_s']:>9.0f} "
                  f"{fmt(r['x_torch'], '8.2f')} {fmt(r['x_torch_padded'], '8.2f')}")
    print("(real: real characters of the B*T padded steps per batch)")
    print("\nFirst-batch loss, initial weights, against the masked loss in float64 numpy "
          "(symrnn.bench.masked.numpy_masked_loss):")
    for case in cases:
        check = case["loss_check"]
        parts = [f"{e['impl']} {e['loss']:.6f}" + ("" if e["weights"] == "initial" else
                                                   f" (numpy {e['numpy']:.6f}, {e['weights']})")
                 for e in check["entries"]]
        worst = max((e["rel_diff"] for e in check["entries"]), default=0.0)
        numpy_loss = next((e["numpy"] for e in check["entries"] if e["weights"] == "initial"), None)
        print(f"  {case['cell']:<5} {case['kind']:<12} T={case['seq']} B={case['batch']}: numpy "
              f"{fmt(numpy_loss, '.6f')}, {', '.join(parts)}; max rel diff {worst:.1e} "
              f"{'ok' if check['ok'] else 'MISMATCH'} (rtol {check['rtol']:.0e})")
    print("\nIn-process build + first call seconds (Numba compiles at the first call):")
    for case in cases:
        times = ", ".join(f"{name} {s:.1f}" for name, s in case["first_step_s"].items())
        print(f"  {case['cell']:<5} {case['kind']:<12} T={case['seq']} B={case['batch']}: {times}")
