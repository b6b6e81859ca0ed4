"""Learning speed: ``symrnn train``'s held-out loss per epoch beside its PyTorch twin.

Run with ``symrnn bench --learning``. For each seed, every symrnn variant is
a fresh ``python -m symrnn train`` process (the command a user types, with
the variant's flags added), and the PyTorch twin is a fresh ``python -m
symrnn.bench.learning`` process; each prints its held-out loss at every
epoch's end, and the parent times it from start to exit (compiles, corpus
loading and sampling included).

The twin is what a PyTorch user writes for the same model, with PyTorch's
own defaults: ``nn.Embedding(V, 42)`` (N(0, 1)) -> ``nn.LSTM``/``nn.GRU``/
``nn.RNN(relu)`` (U(+-1/sqrt(H)) weights and two biases) -> ``nn.Linear(H, V)``,
``cross_entropy`` averaged over every character, ``torch.optim.Adam`` at the
CLI's learning rate. It trains on the windows ``symrnn train`` trains on
(:func:`symrnn.data.train_heldout_windows` of the same corpus, whole batches,
shuffled each epoch) and is scored on the same held-out windows, each from a
zero state, so the two columns differ only in the implementation and its defaults.

>>> VARIANTS["torch-embedding"]
['--embed-init', 'standard_normal']
>>> parse_heldout("epoch 2/6 step 356: held-out 1.7540 nats/char = 2.5305 bits/char")
(2, 1.754)
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..data import Vocab, load_corpus, train_heldout_windows
from ..runtime import limit_blas_threads, with_package_on_path
from .probes import probe_env

#: symrnn variants: the flags each adds to ``symrnn train``.
VARIANTS = {"defaults": [], "keras-embedding": ["--embed-init", "uniform"],
            "torch-embedding": ["--embed-init", "standard_normal"],
            "keras1-gates": ["--keras1-gates"], "sigmoid-gates": ["--sigmoid-gates"],
            "identity-recurrence": ["--inner-init", "identity"],
            "uniform-recurrence": ["--inner-init", "uniform"],
            "orthogonal-recurrence": ["--inner-init", "orthogonal"]}
DEFAULT_VARIANTS = ("keras-embedding", "torch-embedding")
HELDOUT = re.compile(r"epoch (\d+)/\d+ step \d+: held-out (\d+\.\d+) nats")
TWIN = "torch"


def parse_heldout(line):
    """``(epoch, nats)`` from a held-out line of ``symrnn train`` or the twin, else None."""
    found = HELDOUT.search(line)
    return (int(found.group(1)), float(found.group(2))) if found else None


def train_flags(args, seed):
    """The ``symrnn train`` settings every run of a comparison shares."""
    return ["--model", args.models[0], "--corpus", args.corpus, "--seq-len", str(args.seq[0]),
            "--batch-size", str(args.batch[0]), "--epochs", str(args.epochs),
            "--hidden", str(args.hidden), "--seed", str(seed)]


def run_command(command, env):
    """Run a training process: held-out nats per epoch, wall seconds, exit code, output tail."""
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    heldout = [found for found in map(parse_heldout, proc.stdout.splitlines()) if found]
    return {"heldout": [nats for _, nats in sorted(heldout)], "wall_s": time.perf_counter() - start,
            "exit": proc.returncode, "tail": (proc.stdout + proc.stderr)[-400:]}


def run_symrnn(args, seed, variant, tmp):
    env = with_package_on_path(dict(os.environ))
    if args.cold_caches:
        env = probe_env(tempfile.mkdtemp(prefix="caches-", dir=tmp))
    run_dir = tempfile.mkdtemp(prefix="run-", dir=tmp)
    command = [sys.executable, "-m", "symrnn", "train", *train_flags(args, seed), "--no-progress",
               "--run-dir", f"{run_dir}/run", *VARIANTS[variant]]
    return run_command(command, env)


def run_twin(args, seed):
    command = [sys.executable, "-m", "symrnn.bench.learning", *train_flags(args, seed),
               "--lr", str(args.lr)]
    return run_command(command, with_package_on_path(dict(os.environ)))


def main(args):
    """Every variant and the twin, seed by seed; prints the table, returns the rows."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="symrnn-learning-") as tmp:
        for seed in args.seeds:
            for variant in args.variants:
                rows.append({"impl": f"symrnn {variant}", "seed": seed,
                             **run_symrnn(args, seed, variant, tmp)})
                print_row(rows[-1])
            if not args.no_torch:
                rows.append({"impl": "torch defaults", "seed": seed, **run_twin(args, seed)})
                print_row(rows[-1])
    print_summary(rows, args.epochs)
    return rows


def print_row(row):
    nats = " ".join(f"{v:.4f}" for v in row["heldout"])
    failed = "" if row["exit"] == 0 else f"  FAILED ({row['exit']}): {row['tail']!r}"
    print(f"  {row['impl']:<26} seed {row['seed']:<4} {row['wall_s']:7.1f} s  held-out by epoch: "
          f"{nats}{failed}", flush=True)


def print_summary(rows, epochs):
    print("\nHeld-out nats/char after each epoch, mean over seeds (wall s: mean per run)")
    print(f"  {'impl':<26} " + " ".join(f"{'ep ' + str(e):>7}" for e in range(1, epochs + 1))
          + f" {'wall s':>7}")
    for impl in dict.fromkeys(r["impl"] for r in rows):
        runs = [r for r in rows if r["impl"] == impl and len(r["heldout"]) == epochs]
        if not runs:
            print(f"  {impl:<26} (no complete run)")
            continue
        means = np.mean([r["heldout"] for r in runs], axis=0)
        print(f"  {impl:<26} " + " ".join(f"{v:7.4f}" for v in means)
              + f" {np.mean([r['wall_s'] for r in runs]):7.1f}  ({len(runs)} seeds)")


# --------------------------------------------------------------- the twin
def twin_model(torch, model, vocab_size, hidden, embed):
    """Embedding -> cell -> Linear with PyTorch's default initialisation."""
    nn = torch.nn
    rnn_class = {"simplernn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[model]
    kwargs = {"nonlinearity": "relu"} if model == "simplernn" else {}

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed)
            self.rnn = rnn_class(embed, hidden, batch_first=True, **kwargs)
            self.output = nn.Linear(hidden, vocab_size)

        def forward(self, ids):
            hs, _ = self.rnn(self.embedding(ids))
            return self.output(hs)
    return Twin()


def twin_windows(corpus, seq_len, batch_size, sequences=30_000):
    """The training windows (whole batches) and held-out windows ``symrnn train`` uses."""
    text = load_corpus(corpus)
    vocab = Vocab.from_text(text)
    x, y, hx, hy = train_heldout_windows(vocab.encode(text), seq_len, sequences=sequences)
    full = len(x) // batch_size * batch_size
    return vocab.size, (x[:full], y[:full]), (hx, hy)


def twin_main(argv):
    """Child mode: train the PyTorch twin and print a held-out line per epoch."""
    ap = argparse.ArgumentParser(prog="python -m symrnn.bench.learning")
    for flag, kind in (("--model", str), ("--corpus", str), ("--seq-len", int),
                       ("--batch-size", int), ("--epochs", int), ("--hidden", int),
                       ("--seed", int), ("--lr", float)):
        ap.add_argument(flag, type=kind, required=True)
    a = ap.parse_args(argv)
    import torch
    limit_blas_threads()
    torch.set_num_threads(1)   # as the bench times every implementation: one thread
    torch.manual_seed(a.seed)
    vocab_size, (x, y), (hx, hy) = twin_windows(a.corpus, a.seq_len, a.batch_size)
    model = twin_model(torch, a.model, vocab_size, a.hidden, 42)
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    x, y = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))
    hx, hy = torch.from_numpy(hx.astype(np.int64)), torch.from_numpy(hy.astype(np.int64))
    loss_of = lambda xb, yb: torch.nn.functional.cross_entropy(
        model(xb).reshape(-1, vocab_size), yb.reshape(-1))
    for epoch in range(a.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for start in range(0, len(x), a.batch_size):
            rows = order[start:start + a.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_of(x[rows], y[rows]).backward()
            optimizer.step()
        with torch.no_grad():
            total = sum(float(loss_of(hx[i:i + 512], hy[i:i + 512])) * len(hx[i:i + 512])
                        for i in range(0, len(hx), 512))
        print(f"epoch {epoch + 1}/{a.epochs} step {(epoch + 1) * (len(x) // a.batch_size)}: "
              f"held-out {total / len(hx):.4f} nats/char", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(twin_main(sys.argv[1:]))
