"""The ``symrnn`` command line: argument parsing only, no model maths.

``symrnn train`` trains the lesson RNN (facts section 8) on a corpus, showing
a progress bar with the running error and characters/s, then prints
predictions and sampled text. ``symrnn bench`` runs the benchmark harness.
"""
import argparse
import sys
import time

import numpy as np

from .errors import SymrnnError

DEFAULT_PRIME = "The "


def add_corpus_arguments(parser):
    parser.add_argument("--corpus", default=None,
                        help="text file path, 'nietzsche' (downloaded once) or unset for the embedded corpus")
    parser.add_argument("--encoding", default="utf-8", help="file encoding (latin-1 reproduces the lesson)")


def build_parser():
    parser = argparse.ArgumentParser(prog="symrnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the lesson RNN and sample from it")
    add_corpus_arguments(train)
    train.add_argument("--sequences", type=int, default=30_000,
                       help="number of 8-character sequences to train on (default 30,000; 0 = all)")
    train.add_argument("--hidden", type=int, default=256, help="hidden units (default 256)")
    train.add_argument("--seq-len", type=int, default=8, help="characters per sequence (default 8)")
    train.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    train.add_argument("--backend", default=None, help="numba, c, py or jax (default: numba)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--sample", type=int, default=200, help="characters to sample after training")
    train.add_argument("--temperature", type=float, default=0.7)
    train.add_argument("--prime", default=DEFAULT_PRIME, help="text to start sampling from")
    train.set_defaults(run=run_train)
    bench = commands.add_parser("bench", help="benchmark against numpy and PyTorch", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(run=run_bench)
    return parser


def _check_positive(**values):
    for name, value in values.items():
        if value <= 0:
            raise SymrnnError(f"--{name.replace('_', '-')} must be positive, got {value}")


def run_train(args):
    from tqdm import tqdm

    from .backend import check_backend
    from .data import Vocab, load_corpus, windows
    from .lesson_rnn import LessonRNN
    from .sampling import check_temperature, generate_from_windows

    _check_positive(hidden=args.hidden, seq_len=args.seq_len, lr=args.lr)
    check_temperature(args.temperature)
    check_backend(args.backend)
    text = load_corpus(args.corpus, encoding=args.encoding)
    vocab = Vocab.from_text(text)
    vocab.encode(args.prime)  # fail now, not after training, on an unknown character
    x, y = windows(vocab.encode(text), args.seq_len)
    if args.sequences:
        x, y = x[:args.sequences], y[:args.sequences]
    print(f"corpus: {len(text):,} characters, vocabulary {vocab.size}, {len(x):,} sequences of {args.seq_len}")
    rnn = LessonRNN(vocab.size, args.hidden, seed=args.seed, backend=args.backend)
    start = time.perf_counter()
    train_fn = rnn.train_fn
    print(f"compiled the training function in {time.perf_counter() - start:.1f} s")
    eye, h0, lr = np.eye(vocab.size, dtype=rnn.dtype), rnn.zeros_h0(), np.asarray(args.lr, rnn.dtype)
    running = None
    with tqdm(total=len(x), unit="seq", unit_scale=True, mininterval=0.5) as bar:
        for i in range(len(x)):
            error = float(train_fn(h0, eye[x[i]], eye[y[i]], lr))
            running = error if running is None else 0.99 * running + 0.01 * error
            if i % 200 == 0 or i == len(x) - 1:
                bar.set_postfix(error=f"{running:.2f}", per_char=f"{running / args.seq_len:.3f}",
                                chars_s=f"{bar.format_dict['rate'] * args.seq_len if bar.format_dict['rate'] else 0:,.0f}")
            bar.update(1)
    show_predictions(rnn, vocab, text, args.seq_len)
    rng = np.random.default_rng(args.seed)
    next_probs = lambda ids: rnn.predict_proba(eye[ids])[-1]
    sample = generate_from_windows(next_probs, vocab, args.prime, args.sample, args.seq_len, rng, args.temperature)
    print(f"\nsampled text (temperature {args.temperature}):\n{args.prime}{sample}")
    return 0


def show_predictions(rnn, vocab, text, seq_len):
    print("\npredicted next characters (argmax after each position):")
    for start in (0, len(text) // 3, 2 * len(text) // 3):
        snippet = text[start:start + seq_len]
        guess = vocab.decode(rnn.predict_ids(np.eye(vocab.size)[vocab.encode(snippet)]))
        print(f"  {snippet!r:>16} -> {guess!r}")


def run_bench(args):
    from . import bench
    return bench.main(args.bench_args)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except SymrnnError as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsymrnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
