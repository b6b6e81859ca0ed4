"""Benchmark: symrnn's compiled graph against hand-written numpy and PyTorch eager.

For one model (the lesson's simple RNN, V=86, H=256 by default; ``--cell gru`` or
``--cell lstm`` for :class:`symrnn.bench.fastgated.FastGated` and its numpy and PyTorch
twins) it measures, alternating the implementations in one process (A B C A B C ...):

- training characters/s (forward + backward + SGD update) for every
  ``--seq`` x ``--batch`` pair;
- generation characters/s, one character per call with the hidden state
  carried between calls, and symrnn's compiled sampler (``n/call``: a round's
  characters in one call, the state carried inside the loop; greedy, so it is
  checked to produce the same characters);
- a FLOP bound: FLOPs per character over this machine's float32 matmul speed at
  the shapes one training step uses, and each implementation's fraction of it;
- compile time cold (fresh PyTensor base_compiledir and NUMBA_CACHE_DIR, in a
  subprocess) and warm (the same dirs again), time to the first printed loss,
  and peak memory (max RSS of those subprocesses).

PyTorch is optional; install the CPU build with exactly ``pip install
torch==2.13.0`` (other specs may fetch a multi-GB CUDA build). Without it the
PyTorch rows are left out. The C backend links BLAS only when PyTensor finds
it; point it at an OpenBLAS with e.g.
``PYTENSOR_FLAGS="blas__ldflags=-L/path -lopenblas"``.

Run ``python -m symrnn.bench --help``; a quick smoke run::

    python -m symrnn.bench --quick --backend py --vocab 11 --hidden 7 --seq 3 --batch 2
"""
import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..lesson.numpy_rnn import init_params
from ..runtime import isolated_caches, keep_freed_memory, with_package_on_path
from . import numpy_gated as bench_numpy_gated
from . import numpy_twins as bench_numpy
from .fastgated import GATE_COUNT, gated_params

TORCH_PIN = "torch==2.13.0"
# Every round repeats steps on one fixed batch; a small rate keeps the weights finite over
# thousands of steps (a diverged model would time inf/NaN arithmetic). Same work at any rate.
LR = 1e-6


# ------------------------------------------------------------------ arguments

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="symrnn bench", description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, default=86)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seq", type=int, nargs="+", default=[8, 40])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--inputs", default="ids", choices=["ids", "onehot"])
    ap.add_argument("--cell", default="simple", choices=["simple", "gru", "lstm"])
    ap.add_argument("--act", default="relu", choices=["relu", "tanh"],
                    help="the simple RNN's activation (gru/lstm: tanh candidates, sigmoid gates)")
    ap.add_argument("--backend", nargs="+", default=["numba"],
                    help="symrnn backends to run (numba, c, py, jax)")
    ap.add_argument("--repeats", type=int, default=7, help="alternating rounds per case")
    ap.add_argument("--round-seconds", type=float, default=0.3, help="target length of one round")
    ap.add_argument("--gen-chars", type=int, default=300,
                    help="characters per generation round (state starts at zeros each round: the "
                         "untrained IRNN's state grows without bound over thousands of steps)")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--system-malloc", action="store_true",
                    help="leave glibc's malloc settings as they are (by default the bench, like "
                         "symrnn train, keeps freed memory for reuse: symrnn.runtime; this "
                         "applies to every implementation, all in one process)")
    ap.add_argument("--no-probes", action="store_true", help="skip the cold/warm subprocesses")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run: 1 round, no probes")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--main-job", action="store_true",
                    help="time the README main job (symrnn train) to its first loss, cold and warm "
                         "caches, auto and numba backends (several minutes), and exit")
    ap.add_argument("--profile", action="store_true",
                    help="print PyTensor's per-op profile of the symrnn train function (C/py backends) and exit")
    ap.add_argument("--probe", help=argparse.SUPPRESS)   # child mode: one implementation
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.round_seconds, args.gen_chars = 1, 0.0, 20
        args.no_probes = True
    return args


# ------------------------------------------------------------ implementations

def make_batch(args, batch, seq):
    rng = np.random.default_rng(args.seed + 1000 * batch + seq)
    ids = rng.integers(0, args.vocab, size=(batch, seq + 1)).astype("int32")
    x, y = ids[:, :-1], ids[:, 1:]
    if args.inputs == "onehot":
        eye = np.eye(args.vocab, dtype=args.dtype)
        x, y = eye[x], eye[y]
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def gates(cell):
    """Gate blocks of a cell: its recurrent matmul is ``gates`` times the simple RNN's."""
    return GATE_COUNT.get(cell, 1)


def initial_params(args):
    """The model's init, as numpy arrays (symrnn draws the same numbers from the seed)."""
    rng = np.random.default_rng(args.seed)
    if args.cell == "simple":
        return init_params(args.vocab, args.hidden, rng, dtype=args.dtype)
    return gated_params(args.vocab, args.hidden, args.cell, rng, dtype=args.dtype)


def symrnn_model(args, backend, trust_input=False):
    """symrnn's fast graph for ``args.cell``: FastRNN (simple) or FastGated (gru, lstm)."""
    from .fastgated import FastGated
    from .fastgraph import FastRNN
    common = dict(dtype=args.dtype, seed=args.seed, inputs=args.inputs, backend=backend,
                  trust_input=trust_input)
    if args.cell == "simple":
        return FastRNN(args.vocab, args.hidden, args.act, **common)
    return FastGated(args.vocab, args.hidden, args.cell, **common)


class SymrnnImpl:
    def __init__(self, args, backend):
        self.name, self.lr = f"symrnn-{backend}", np.asarray(LR, args.dtype)
        self.model = symrnn_model(args, backend, trust_input=True)

    def prepare(self, x, y):
        self.x, self.y, self.h0 = x, y, self.model.zeros_h0(len(x))

    def train(self, n):
        fn = self.model.train_fn
        for _ in range(n):
            err = fn(self.h0, self.x, self.y, self.lr)
        return float(err)

    def generate(self, n, x_id=1):
        fn = self.model.generate_fn
        self.model.reset_state()   # every implementation starts a round from zeros
        for _ in range(n):
            x_id = int(fn(np.asarray(x_id, "int32")).argmax())
        return x_id


class SymrnnSampleImpl:
    """symrnn's compiled sampler on the same model: a whole round of greedy characters in
    one call (:meth:`symrnn.bench.fastgraph.FastRNN.sample`), state carried inside the loop."""

    def __init__(self, symrnn_impl):
        self.per_call = symrnn_impl   # the one-char-per-call row on the same model
        self.model, self.name = symrnn_impl.model, f"{symrnn_impl.name} n/call"

    def generate(self, n, x_id=1):
        self.model.reset_state()   # every implementation starts a round from zeros
        return int(self.model.sample(n, x_id, temperature=None)[-1])


class NumpyImpl:
    """The by-hand numpy twin: :mod:`symrnn.bench.numpy_twins` (simple) or
    :mod:`symrnn.bench.numpy_gated` (gru, lstm)."""
    name = "numpy"

    def __init__(self, args):
        self.params, self.hidden, self.dtype = initial_params(args), args.hidden, args.dtype
        self.lr = np.asarray(LR, args.dtype)
        self.cell = args.cell if args.cell != "simple" else None
        self.how = args.cell if self.cell else args.act   # the twins' last argument

    def prepare(self, x, y):
        self.x, self.y = x, y
        self.h0 = np.zeros((len(x), self.hidden), self.dtype)

    def train(self, n):
        twin = bench_numpy_gated if self.cell else bench_numpy
        for _ in range(n):
            err = twin.train_step(self.params, self.x, self.y, self.h0, self.lr, self.how)
        return err

    def generate(self, n, x_id=1):
        states = [np.zeros(self.hidden, self.dtype)] * (1 + (self.cell == "lstm"))
        for _ in range(n):
            if self.cell:
                probs, states = bench_numpy_gated.generate_step(self.params, x_id, states, self.cell)
            else:
                probs, states[0] = bench_numpy.generate_step(self.params, x_id, states[0], self.how)
            x_id = int(probs.argmax())
        return x_id


def torch_gate_order(cell, hidden):
    """Columns of a Keras-order gate matrix in PyTorch's order: GRU (z, r, h) -> (r, z, n);
    the LSTM's (i, f, c, o) is already PyTorch's (i, f, g, o)."""
    blocks = [np.arange(k * hidden, (k + 1) * hidden) for k in range(gates(cell))]
    return np.concatenate([blocks[1], blocks[0], blocks[2]] if cell == "gru" else blocks)


def torch_fused_layer(torch, args, p):
    """``nn.RNN``/``nn.GRU``/``nn.LSTM`` holding the weights ``p`` (it keeps them as [out, in]).

    ``nn.GRU`` applies the reset gate after the recurrent matmul,
    ``r * (h . U_h + b_hn)``, where the Keras cell multiplies first,
    ``(r * h) . U_h``: same FLOPs, slightly different function.
    """
    if args.cell == "simple":
        layer = torch.nn.RNN(args.vocab, args.hidden, nonlinearity=args.act, batch_first=True)
        w_ih, w_hh, b_ih, b_hh = p["W_x"], p["W_h"], p["b_x"], p["b_h"]
    else:
        layer = getattr(torch.nn, args.cell.upper())(args.vocab, args.hidden, batch_first=True)
        order = torch.from_numpy(torch_gate_order(args.cell, args.hidden))
        w_ih, w_hh, b_ih = p["W"][:, order], p["U"][:, order], p["b"][order]
        b_hh = torch.zeros_like(b_ih)
    layer = layer.to(p["W_y"].dtype)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih.T), ("weight_hh_l0", w_hh.T),
                            ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(layer, name).copy_(value)
    return layer


class TorchImpl:
    """The same model in PyTorch eager: a python loop over steps (``loop``) or the
    fused ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (``nnrnn``: one-hot input, so it always
    does the input matmul; see :func:`torch_fused_layer` for the GRU's difference)."""

    def __init__(self, args, kind):
        import torch
        self.torch, self.kind, self.name = torch, kind, f"torch-{kind}"
        self.onehot, self.act, self.cell, self.lr = args.inputs == "onehot", args.act, args.cell, LR
        dtype = getattr(torch, args.dtype)
        p = {k: torch.tensor(v, dtype=dtype) for k, v in initial_params(args).items()}
        if kind == "nnrnn":
            self.rnn = torch_fused_layer(torch, args, p)
            self.W_y, self.b_y = p["W_y"].requires_grad_(), p["b_y"].requires_grad_()
            self.params = [*self.rnn.parameters(), self.W_y, self.b_y]
        else:
            self.p = {k: v.requires_grad_() for k, v in p.items()}
            self.params = list(self.p.values())
        self.vocab, self.hidden, self.dtype = args.vocab, args.hidden, dtype

    def prepare(self, x, y):
        t = self.torch
        self.x = t.from_numpy(x)
        self.y_ids = t.from_numpy(y.argmax(-1) if self.onehot else y).long().T.reshape(-1)
        if self.kind == "nnrnn" and not self.onehot:
            self.x = t.nn.functional.one_hot(self.x.long(), self.vocab).to(self.dtype)
        elif not self.onehot:
            self.x = self.x.long()
        self.h0 = t.zeros(len(x), self.hidden, dtype=self.dtype)

    def _act(self, a):
        return self.torch.relu(a) if self.act == "relu" else self.torch.tanh(a)

    def _input_weights(self):
        """``(W, b)`` of the input projection; the simple RNN's two biases act as one."""
        p = self.p
        return (p["W_x"], p["b_x"] + p["b_h"]) if self.cell == "simple" else (p["W"], p["b"])

    def _zero_states(self, h):
        return [h] if self.cell != "lstm" else [h, self.torch.zeros_like(h)]

    def _step(self, xw_t, states):
        """One step of the cell (the maths of :mod:`symrnn.graph.cells` / :mod:`symrnn.graph.gated`)."""
        t, p, h = self.torch, self.p, states[0]
        if self.cell == "simple":
            return [self._act(xw_t + h @ p["W_h"])]
        n, U = self.hidden, p["U"]
        if self.cell == "gru":
            z, r = t.sigmoid(xw_t[..., :2 * n] + h @ U[:, :2 * n]).split(n, dim=-1)
            hh = t.tanh(xw_t[..., 2 * n:] + (r * h) @ U[:, 2 * n:])
            return [z * h + (1 - z) * hh]
        i, f, g, o = (xw_t + h @ U).split(n, dim=-1)
        c = t.sigmoid(f) * states[1] + t.sigmoid(i) * t.tanh(g)
        return [t.sigmoid(o) * t.tanh(c), c]

    def _logits(self):
        t = self.torch
        if self.kind == "nnrnn":
            first = self._zero_states(self.h0[None])
            hs, _ = self.rnn(self.x, first[0] if len(first) == 1 else tuple(first))   # [B, T, H]
            hs = hs.transpose(0, 1).reshape(-1, hs.shape[-1])  # time-major like the targets
            return hs @ self.W_y + self.b_y
        W, b = self._input_weights()
        x_tm = self.x.transpose(0, 1)
        xw = (W[x_tm] if not self.onehot else x_tm @ W) + b
        states, hs = self._zero_states(self.h0), []
        for t_ in range(len(xw)):
            states = self._step(xw[t_], states)
            hs.append(states[0])
        return t.stack(hs).reshape(-1, self.hidden) @ self.p["W_y"] + self.p["b_y"]

    def train(self, n):
        t = self.torch
        for _ in range(n):
            loss = t.nn.functional.cross_entropy(self._logits(), self.y_ids,
                                                 reduction="sum") / len(self.h0)
            grads = t.autograd.grad(loss, self.params)
            with t.no_grad():
                for w, g in zip(self.params, grads):
                    w.add_(g, alpha=-self.lr)
        return float(loss.detach())

    def generate(self, n, x_id=1):
        t = self.torch
        if self.kind != "loop":
            return None
        with t.inference_mode():
            W, b = self._input_weights()
            states = self._zero_states(t.zeros(self.hidden, dtype=self.dtype))
            for _ in range(n):
                states = self._step(W[x_id] + b, states)
                x_id = int(t.softmax(states[0] @ self.p["W_y"] + self.p["b_y"], -1).argmax())
        return x_id


def torch_available():
    try:
        return importlib.import_module("torch") is not None   # imports: a broken install is False
    except ImportError:
        return False


def numpy_threads():
    """BLAS threads numpy uses: the usual env vars, else all cores (OpenBLAS' default)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def build_impls(args):
    impls = [SymrnnImpl(args, b) for b in args.backend] + [NumpyImpl(args)]
    if not args.no_torch and torch_available():
        import torch
        torch.set_num_threads(numpy_threads())
        impls += [TorchImpl(args, "loop"), TorchImpl(args, "nnrnn")]
    return impls


# ------------------------------------------------------------------- timing

def timed(fn, *a):
    t0 = time.perf_counter()
    out = fn(*a)
    return time.perf_counter() - t0, out


def steps_per_round(impl, run, target):
    """Steps so that one round lasts about ``target`` seconds (at least 1)."""
    dt, _ = timed(run, 1)
    return max(1, int(round(target / max(dt, 1e-7)))) if target > 0 else 1


def alternate(impls, run_of, per_step_chars, args, target):
    """ABAB rounds; returns {name: [chars/s per round]}."""
    counts = {i.name: steps_per_round(i, run_of(i), target) for i in impls}
    rates = {i.name: [] for i in impls}
    for r in range(args.repeats):
        order = impls[r % len(impls):] + impls[:r % len(impls)]  # rotate who goes first
        for impl in order:
            n = counts[impl.name]
            dt, _ = timed(run_of(impl), n)
            rates[impl.name].append(n * per_step_chars / dt)
    return rates


def summary(rates):
    return {"median": float(np.median(rates)), "min": float(np.min(rates)),
            "max": float(np.max(rates)), "rounds": len(rates)}


# ----------------------------------------------------------------- FLOP bound

def flops_per_char(vocab, hidden, inputs, n_gates=1):
    """Matmul FLOPs per character, forward + backward: the products of
    :func:`step_matmuls` for one character. A one-hot input's matmul has no
    backward product for the data, only ``dW_x``.

    ``n_gates`` widens the input and recurrent weights: 1 simple RNN, 3 GRU, 4 LSTM.
    """
    return sum(2 * m * k * n * c for m, k, n, c in step_matmuls(vocab, hidden, 1, 1, inputs, n_gates))


def step_matmuls(vocab, hidden, batch, seq, inputs, n_gates=1):
    """(m, k, n, count) of every matmul in one training step (a GRU's two recurrent
    products, ``[z, r]`` and ``h``, count as one of the same total size)."""
    bt, width = batch * seq, n_gates * hidden
    shapes = [
        (batch, hidden, width, seq),       # forward recurrence
        (bt, hidden, vocab, 1),            # output layer
        (bt, vocab, hidden, 1),            # d hidden from the output layer
        (batch, width, hidden, seq),       # backward recurrence
        (hidden, bt, width, 1),            # dW_h (dU)
        (hidden, bt, vocab, 1)]            # dW_y
    if inputs == "onehot":
        shapes += [(bt, vocab, width, 1), (vocab, bt, width, 1)]   # x.W_x and dW_x
    return shapes


def matmul_seconds(m, k, n, dtype, budget=0.02):
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), dtype=dtype), rng.random((k, n), dtype=dtype)
    best = []
    for _ in range(3):
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget or reps < 3:
            a @ b
            reps += 1
        best.append((time.perf_counter() - t0) / reps)
    return min(best)


def flop_bound(args, batch, seq):
    shapes = step_matmuls(args.vocab, args.hidden, batch, seq, args.inputs, gates(args.cell))
    seconds = sum(c * matmul_seconds(m, k, n, args.dtype) for m, k, n, c in shapes)
    flops = sum(2 * m * k * n * c for m, k, n, c in shapes)
    return {"flops_per_char": flops_per_char(args.vocab, args.hidden, args.inputs, gates(args.cell)),
            "matmul_gflops": flops / seconds / 1e9, "chars_per_s": batch * seq / seconds}


# --------------------------------------------------------------- subprocesses

def probe_main(args):
    """Child mode: build, compile and take one step of one implementation; print the
    first loss as soon as it exists (the parent timestamps it), then a JSON line."""
    batch, seq = max(args.batch), min(args.seq)
    t0 = time.perf_counter()
    impl = {"numpy": lambda: NumpyImpl(args)}.get(
        args.probe, lambda: TorchImpl(args, "loop") if args.probe == "torch-loop"
        else SymrnnImpl(args, args.probe.split("-", 1)[1]))()
    impl.prepare(*make_batch(args, batch, seq))
    loss = impl.train(1)
    first = time.perf_counter() - t0
    print(f"loss {loss:.4f}", flush=True)
    warm_step, _ = timed(impl.train, 1)
    print(json.dumps({"build_and_first_step_s": first, "next_step_s": warm_step,
                      "maxrss_mb": peak_rss_mb()}), flush=True)
    return 0


def peak_rss_mb():
    """This process's peak RSS. Linux' VmHWM starts afresh at exec, whereas ru_maxrss
    keeps the forking parent's peak (every probe would report the parent's size)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_probe(args, impl_name, env):
    cmd = [sys.executable, "-m", "symrnn.bench", "--probe", impl_name, "--vocab", str(args.vocab),
           "--hidden", str(args.hidden), "--seq", str(min(args.seq)), "--batch", str(max(args.batch)),
           "--dtype", args.dtype, "--inputs", args.inputs, "--act", args.act, "--cell", args.cell,
           "--seed", str(args.seed),
           *(["--system-malloc"] if args.system_malloc else [])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first_loss_s, result = None, {}
    for line in proc.stdout:
        if line.startswith("loss ") and first_loss_s is None:
            first_loss_s = time.perf_counter() - t0
        elif line.startswith("{"):
            result = json.loads(line)
    err = proc.stderr.read()
    if proc.wait() != 0:
        return {"impl": impl_name, "error": err.strip().splitlines()[-1:] or ["failed"]}
    return {"impl": impl_name, "time_to_first_loss_s": first_loss_s, **result}


def probe_env(cache_dir):
    """Environment for a probe whose caches all live under ``cache_dir``
    (see :func:`symrnn.runtime.isolated_caches`)."""
    return isolated_caches(with_package_on_path(dict(os.environ)), cache_dir)


def run_probes(args, impls):
    """Cold then warm subprocess for every implementation, one at a time."""
    rows = []
    for impl in impls:
        if impl.name == "torch-nnrnn":
            continue
        with tempfile.TemporaryDirectory(prefix="symrnn-bench-") as cache:
            env = probe_env(cache)
            for state in ("cold", "warm"):
                rows.append({"cache": state, **run_probe(args, impl.name, env)})
    return rows


def profile_train(args, steps=30):
    """PyTensor's op-level profile of the training function at the largest case."""
    from ..graph.training import compile_function
    model = symrnn_model(args, args.backend[0])
    fn = compile_function([model.h0, model.x, model.y, model.lr], model.error,
                          updates=model.updates, backend=args.backend[0], profile=True)
    x, y = make_batch(args, max(args.batch), max(args.seq))
    h0, lr = model.zeros_h0(len(x)), np.asarray(LR, args.dtype)
    for _ in range(steps):
        fn(h0, x, y, lr)
    fn.profile.summary(n_ops_to_print=15, n_apply_to_print=15)
    return 0


# ------------------------------------------------------------------ reporting

def ratio(a, b):
    return a / b if b else None


def train_rows(rates, bound, batch, seq):
    meds = {k: float(np.median(v)) for k, v in rates.items()}
    torch_best = max((v for k, v in meds.items() if k.startswith("torch")), default=None)
    rows = []
    for name, r in rates.items():
        s = summary(r)
        rows.append({"seq": seq, "batch": batch, "impl": name, **s,
                     "x_torch": ratio(s["median"], torch_best), "x_numpy": ratio(s["median"], meds["numpy"]),
                     "frac_bound": s["median"] / bound["chars_per_s"]})
    return rows


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def print_train(rows, bounds):
    print("\nTraining chars/s (forward+backward+SGD); x torch = vs the faster torch variant")
    print(f"{'seq':>4} {'batch':>5} {'impl':<14} {'median':>10} {'min-max':>21} {'x torch':>8} "
          f"{'x numpy':>8} {'of bound':>8}")
    for r in rows:
        print(f"{r['seq']:>4} {r['batch']:>5} {r['impl']:<14} {r['median']:>10.0f} "
              f"{r['min']:>10.0f}-{r['max']:<10.0f} {fmt(r['x_torch'], '8.2f')} "
              f"{fmt(r['x_numpy'], '8.2f')} {r['frac_bound']:>8.2f}")
    print("\nFLOP bound (matmul FLOPs per char over numpy float32 matmul speed at these shapes)")
    for b in bounds:
        print(f"  seq {b['seq']:>3} batch {b['batch']:>3}: {b['flops_per_char']:,} FLOP/char, "
              f"{b['matmul_gflops']:.1f} GFLOP/s -> {b['chars_per_s']:,.0f} chars/s")


def print_generate(rows):
    print("\nGeneration chars/s (greedy, state carried; one char per call unless n/call)")
    for r in rows:
        same = "" if r.get("same_chars") is None else \
            f"  same chars as one per call: {'yes' if r['same_chars'] else 'NO'}"
        print(f"  {r['impl']:<20} {r['median']:>10.0f}  ({r['min']:.0f}-{r['max']:.0f})  "
              f"x torch {fmt(r['x_torch'], '.2f')}  x numpy {fmt(r['x_numpy'], '.2f')}{same}")


def print_probes(rows, compile_in_process):
    print("\nIn-process build + first call (compile) seconds: " +
          ", ".join(f"{k} {v:.1f}" for k, v in compile_in_process.items()))
    if rows:
        print("Subprocess probes (fresh base_compiledir + NUMBA_CACHE_DIR = cold; same dirs = warm):")
    for r in rows:
        if "error" in r:
            print(f"  {r['impl']:<14} {r['cache']:<5} failed: {r['error']}")
            continue
        print(f"  {r['impl']:<14} {r['cache']:<5} first loss after {r['time_to_first_loss_s']:.1f} s "
              f"(build+first step {r['build_and_first_step_s']:.1f} s), peak RSS {r['maxrss_mb']:.0f} MB")


def machine_info(args):
    import pytensor
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "numpy": np.__version__,
            "pytensor": pytensor.__version__, "threads": numpy_threads(),
            "pytensor_blas_ldflags": pytensor.config.blas__ldflags, "torch": None,
            "malloc_keeps_freed_memory": getattr(args, "kept_freed_memory", False)}
    if not args.no_torch and torch_available():
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    return info


# ----------------------------------------------------------------------- main

def run_training(args, impls):
    rows, bounds, compile_s = [], [], {}
    for seq in args.seq:
        for batch in args.batch:
            for impl in impls:
                impl.prepare(*make_batch(args, batch, seq))
                if impl.name not in compile_s:   # first call builds (and compiles) the function
                    compile_s[impl.name] = timed(impl.train, 1)[0]
            bound = {"seq": seq, "batch": batch, **flop_bound(args, batch, seq)}
            rates = alternate(impls, lambda i: i.train, batch * seq, args, args.round_seconds)
            rows += train_rows(rates, bound, batch, seq)
            bounds.append(bound)
    return rows, bounds, compile_s


def run_generation(args, impls):
    gen = [i for i in impls if i.name != "torch-nnrnn"]
    samplers = [SymrnnSampleImpl(i) for i in gen   # FastRNN has a compiled sampler
                if isinstance(i, SymrnnImpl) and hasattr(i.model, "sample")]
    for impl in gen + samplers:
        impl.generate(2)   # compile / warm up
    # the sampler must produce the characters the one-per-call loop does (its last id here)
    same = {s.name: s.generate(args.gen_chars) == s.per_call.generate(args.gen_chars)
            for s in samplers}
    gen += samplers
    rounds = argparse.Namespace(repeats=3 * args.repeats)   # short rounds: take more of them
    rates = alternate(gen, lambda i: (lambda n: i.generate(n * args.gen_chars)), args.gen_chars,
                      rounds, 0)
    meds = {k: float(np.median(v)) for k, v in rates.items()}
    return [{"impl": k, **summary(v), "x_torch": ratio(meds[k], meds.get("torch-loop")),
             "x_numpy": ratio(meds[k], meds["numpy"]), "same_chars": same.get(k)}
            for k, v in rates.items()]


def main(argv=None):
    args = parse_args(argv)
    args.kept_freed_memory = False if args.system_malloc else keep_freed_memory()
    if args.probe:
        return probe_main(args)
    if args.main_job:
        from .mainjob import main as main_job
        return main_job()
    if args.profile:
        return profile_train(args)
    if not args.no_torch and not torch_available():
        print(f"PyTorch not installed: its rows are left out (pip install {TORCH_PIN})")
    impls = build_impls(args)
    info = machine_info(args)
    print(f"symrnn bench: V={args.vocab} H={args.hidden} {args.dtype} inputs={args.inputs} "
          f"{'act=' + args.act if args.cell == 'simple' else 'cell=' + args.cell} "
          f"threads={info['threads']} torch={info['torch']} "
          f"blas__ldflags={info['pytensor_blas_ldflags']!r} "
          f"malloc={'keeps freed memory' if args.kept_freed_memory else 'system default'}")
    train, bounds, compile_s = run_training(args, impls)
    print_train(train, bounds)
    generate = run_generation(args, impls)
    print_generate(generate)
    probes = [] if args.no_probes else run_probes(args, impls)
    print_probes(probes, compile_s)
    result = {"config": {k: v for k, v in vars(args).items() if k != "probe"}, "machine": info,
              "train": train, "flop_bound": bounds, "generate": generate,
              "compile_in_process_s": compile_s, "probes": probes}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
