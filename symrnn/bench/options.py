"""``symrnn bench`` options, checked before anything is built.

>>> args = parse_args(["--cell", "gru", "lstm", "--quick"])
>>> args.models, args.repeats, args.probes
(['gru', 'lstm'], 1, False)
>>> parse_args([]).models
['simplernn', 'gru', 'lstm']
>>> masked = parse_args(["--masked"])
>>> masked.models, masked.kinds, masked.hidden, masked.seq, masked.batch
(['gru', 'lstm'], ['one-to-one', 'many-to-one'], 128, [40], [64])
"""
import argparse

from ..graph.backend import BACKENDS
from ..layers.charmodels import CHAR_DEFAULTS, EMBED, MODELS
from .learning import DEFAULT_VARIANTS as DEFAULT_LEARNING_VARIANTS
from .learning import VARIANTS as LEARNING_VARIANTS
from .spec import CELL_ALIASES, DEFAULT_MODELS

#: ``--masked``: its cells, its kinds of model, and its sizes where --hidden/--seq/--batch
#: are not given (the per-model rows' defaults are DEFAULT_SIZES).
MASKED_MODELS = ("gru", "lstm")
MASKED_KINDS = ("one-to-one", "many-to-one")
MASKED_SIZES = {"hidden": 128, "seq": [40], "batch": [64]}
DEFAULT_SIZES = {"hidden": CHAR_DEFAULTS["hidden"], "seq": [8, 40], "batch": [1, 64]}
LEARNING_SIZES = {"hidden": CHAR_DEFAULTS["hidden"], "seq": [50], "batch": [64]}

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
    ap.add_argument("--hidden", type=_at_least(1),
                    help=f"hidden units (default {DEFAULT_SIZES['hidden']}; "
                         f"--masked: {MASKED_SIZES['hidden']})")
    ap.add_argument("--embed", type=_at_least(1), default=EMBED, help="embedding width (layer models)")
    ap.add_argument("--seq", type=_at_least(1), nargs="+",
                    help="window lengths T (default 8 40; --masked: 40, the padded length)")
    ap.add_argument("--batch", type=_at_least(1), nargs="+",
                    help="batch sizes B (default 1 64; --masked: 64)")
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
    ap.add_argument("--no-step-profile", dest="step_profile", action="store_false",
                    help="leave out where a symrnn training step's time goes (PyTensor's "
                         "per-op profile of a few steps per case, grouped, beside the rates; "
                         "--quick: the largest case only). On Numba it compiles every node "
                         "on its own: a second or two per model, some 20 s on cold caches")
    ap.add_argument("--masked", action="store_true",
                    help="time masked variable-length training instead (symrnn.bench.masked): "
                         "Embedding(mask_zero=True) -> GRU/LSTM -> a per-step or a last-step "
                         "head, against PyTorch's packed sequences; --cell gru/lstm and --kind "
                         "pick the cases")
    ap.add_argument("--kind", nargs="+", choices=MASKED_KINDS, metavar="KIND",
                    help="with --masked: one-to-one (a target per step) and/or many-to-one "
                         "(a class per row; default both)")
    ap.add_argument("--learning", action="store_true",
                    help="compare learning speed instead (symrnn.bench.learning): symrnn train's "
                         "held-out loss per epoch for each --variants against its PyTorch twin "
                         "with PyTorch's defaults, in fresh processes, timed to exit")
    ap.add_argument("--corpus", default="nietzsche",
                    help="with --learning: the corpus (default nietzsche, downloaded once)")
    ap.add_argument("--epochs", type=_at_least(1), default=2, help="with --learning: epochs (default 2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43],
                    help="with --learning: the seeds (default 42 43)")
    ap.add_argument("--variants", nargs="+", choices=sorted(LEARNING_VARIANTS),
                    default=list(DEFAULT_LEARNING_VARIANTS),
                    help="with --learning: the symrnn train variants "
                         f"(default {' '.join(DEFAULT_LEARNING_VARIANTS)})")
    ap.add_argument("--lr", type=_at_least(0.0, float), default=CHAR_DEFAULTS["lr"],
                    help="with --learning: Adam's learning rate (default the CLI's)")
    ap.add_argument("--cold-caches", action="store_true",
                    help="with --learning: every symrnn run compiles in fresh caches")
    ap.add_argument("--probe", help=argparse.SUPPRESS)   # child mode: one implementation
    return ap


def parse_args(argv):
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.cell:
        args.models = [CELL_ALIASES[c] for c in args.cell]
    elif args.model:
        args.models = list(MODELS) if "all" in args.model else args.model
    else:
        args.models = list(MASKED_MODELS if args.masked else DEFAULT_MODELS)
    args.models = list(dict.fromkeys(args.models))   # each once, in the order given
    if args.kind and not args.masked:
        ap.error("--kind picks --masked cases; add --masked")
    args.kinds = None
    if args.masked:
        unmasked = [m for m in args.models if m not in MASKED_MODELS]
        if unmasked:
            ap.error(f"--masked times gru and lstm (--cell gru lstm), not {' '.join(unmasked)}")
        if args.main_job:
            ap.error("--masked cannot go with --main-job")
        if args.probes:
            ap.error("--masked has no compile probes (the per-model rows have them)")
        args.probes = False
        args.kinds = list(dict.fromkeys(args.kind or MASKED_KINDS))
    if args.learning:
        if args.masked or args.main_job:
            ap.error("--learning cannot go with --masked or --main-job")
        if not (args.cell or args.model):
            args.models = ["lstm"]
        if len(args.models) != 1 or args.models[0] == "lesson":
            ap.error("--learning compares one layer model: --cell simple, gru or lstm")
        args.probes = False
    sizes = (LEARNING_SIZES if args.learning else MASKED_SIZES if args.masked
             else DEFAULT_SIZES)
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, list(value) if isinstance(value, list) else value)
    if args.quick:
        args.repeats, args.round_seconds, args.gen_chars = 1, 0.0, 20
    if args.probes is None:
        args.probes = not args.quick
    return args
