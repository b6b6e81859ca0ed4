"""``symrnn bench`` options, checked before anything is built.

>>> args = parse_args(["--cell", "gru", "lstm", "--quick"])
>>> args.models, args.repeats, args.probes
(['gru', 'lstm'], 1, False)
>>> parse_args([]).models
['simplernn', 'gru', 'lstm']
"""
import argparse

from ..graph.backend import BACKENDS
from ..layers.charmodels import CHAR_DEFAULTS, EMBED, MODELS
from .spec import CELL_ALIASES, DEFAULT_MODELS

DESCRIPTION = ("Time the character models symrnn trains (built as `symrnn train --model NAME` "
               "builds them) against the same models in PyTorch eager and by hand in numpy, "
               "alternating in one process; report ratios.")


def _at_least(minimum, kind=int):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value >= minimum:   # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value
    return parse


def build_parser():
    ap = argparse.ArgumentParser(prog="symrnn bench", description=DESCRIPTION)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--model", nargs="+", choices=[*MODELS, "all"], metavar="NAME",
                       help=f"models to run: {', '.join(MODELS)} or all "
                            f"(default: {' '.join(DEFAULT_MODELS)}, one per cell)")
    which.add_argument("--cell", nargs="+", choices=sorted(CELL_ALIASES), metavar="CELL",
                       help="the same by cell: simple (= simplernn), gru, lstm")
    ap.add_argument("--vocab", type=_at_least(2), default=86, help="vocabulary size (default 86, "
                    "the lesson's Nietzsche text)")
    ap.add_argument("--hidden", type=_at_least(1), default=CHAR_DEFAULTS["hidden"])
    ap.add_argument("--embed", type=_at_least(1), default=EMBED, help="embedding width (layer models)")
    ap.add_argument("--seq", type=_at_least(1), nargs="+", default=[8, 40], help="window lengths T")
    ap.add_argument("--batch", type=_at_least(1), nargs="+", default=[1, 64], help="batch sizes B")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--backend", nargs="+", default=["numba"], choices=BACKENDS,
                    help="symrnn backends to time (default numba); one that fails is reported "
                         "as a failed row")
    ap.add_argument("--repeats", type=_at_least(1), default=7, help="alternating rounds per case")
    ap.add_argument("--round-seconds", type=_at_least(0.0, float), default=0.3,
                    help="target length of one implementation's round")
    ap.add_argument("--gen-chars", type=_at_least(1), default=300,
                    help="characters per generation round (states start at zeros each round)")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--system-malloc", action="store_true",
                    help="leave glibc's malloc settings alone (by default the bench, like symrnn "
                         "train, keeps freed memory for reuse; see symrnn.runtime)")
    probes = ap.add_mutually_exclusive_group()
    probes.add_argument("--probes", dest="probes", action="store_true", default=None,
                        help="run the compile probes (default, except with --quick)")
    probes.add_argument("--no-probes", dest="probes", action="store_false",
                        help="skip the cold/warm compile probes (subprocesses)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: one round per case, 20 generated characters, no probes")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--seed", type=int, default=0, help="seed of the timed batches")
    ap.add_argument("--main-job", action="store_true",
                    help="time the README main job (symrnn train) to its first loss and to the end, "
                         "cold and warm caches (minutes), and exit")
    ap.add_argument("--profile", action="store_true",
                    help="print PyTensor's per-op profile of the first model's training function "
                         "(largest case, first backend) and exit")
    ap.add_argument("--probe", help=argparse.SUPPRESS)   # child mode: one implementation
    return ap


def parse_args(argv):
    args = build_parser().parse_args(argv)
    if args.cell:
        args.models = [CELL_ALIASES[c] for c in args.cell]
    elif args.model:
        args.models = list(MODELS) if "all" in args.model else args.model
    else:
        args.models = list(DEFAULT_MODELS)
    args.models = list(dict.fromkeys(args.models))   # each once, in the order given
    if args.quick:
        args.repeats, args.round_seconds, args.gen_chars = 1, 0.0, 20
    if args.probes is None:
        args.probes = not args.quick
    return args
