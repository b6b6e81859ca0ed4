"""The ``symrnn`` command line: argument parsing and reporting only, no model maths.

  symrnn train      train a model (default: the lesson RNN on the embedded corpus)
  symrnn generate   sample text from a run directory
  symrnn evaluate   held-out loss, bits per char and perplexity of a run
  symrnn graph      the lesson model's graph as text (and images with graphviz)
  symrnn bench      benchmarks (see symrnn.bench)

Exit codes: 0 done; 2 bad input (nothing was changed), a refused checkpoint
or a run directory another live run is training; 3 training diverged (last
finite parameters saved); 4 a checkpoint could not be written (disk full, I/O
error: the previous checkpoint is intact; resume from it); 130 interrupted
with Ctrl-C (a checkpoint was saved; resume with --resume).
"""
import argparse
import os
import sys
import time

from .. import errors
from ..data.sampling import check_temperature
from ..errors import CheckpointWriteError, ConfigError, SymrnnError
from ..layers.monitors import loss_summary
from ..runtime import keep_freed_memory, limit_blas_threads
from . import ahead, graphs, run

DEFAULT_PRIME = "The "
D = run.TRAIN_DEFAULTS   # the help texts name them


# ------------------------------------------------------------------- parser
def add_corpus_arguments(parser):
    parser.add_argument("--corpus", default=None,
                        help="text file path, 'nietzsche' (downloaded once) or unset for the embedded corpus")
    parser.add_argument("--encoding", default=None, help="file encoding (default utf-8; latin-1 reproduces the lesson)")


def add_sampling_arguments(parser, chars_flag):
    parser.add_argument(chars_flag, type=int, default=200, dest="chars", help="characters to sample (default 200)")
    parser.add_argument("--temperature", type=float, default=0.7, help="> 0; lower is safer text (default 0.7)")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely character")
    parser.add_argument("--prime", default=None, help=f"text to start from (default {DEFAULT_PRIME!r})")
    parser.add_argument("--carry-state", action="store_true",
                        help="carry the recurrent state from character to character instead of "
                             "re-reading the last training window for each (the models here are "
                             "trained on windows from a zero state; carried, text degenerates)")


def add_train_parser(commands):
    train = commands.add_parser("train", help="train a model with checkpoints; --resume continues one")
    add_corpus_arguments(train)
    def opt(flag, kind, text, choices=None):
        train.add_argument(flag, type=kind, default=None, help=text, choices=choices)
    opt("--model", str, "lesson (the lesson's RNN: one-hot, relu, identity W_h; default), simplernn, gru "
                        "or lstm (Embedding 42 -> the cell); all built from symrnn.layers", run.CHOICES["model"])
    opt("--layers", int, "stacked recurrent layers for the layer-API models (default 1)")
    opt("--hidden", int, f"hidden units (default {D['hidden']})")
    opt("--seq-len", int, f"characters per window (default {D['seq_len']})")
    opt("--batch-size", int, f"windows per step (default {D['batch_size']}; 1 with --optimizer sgd --loss sum is the lesson)")
    opt("--epochs", int, f"passes over the training windows (default {D['epochs']})")
    opt("--sequences", int, "training windows per epoch (default 30,000; 0 = all)")
    opt("--optimizer", str, f"sgd, momentum, adam, rmsprop or adagrad (default {D['optimizer']})", run.CHOICES["optimizer"])
    opt("--lr", float, "learning rate (default depends on the optimizer: adam 0.002, sgd 0.05)")
    opt("--clipnorm", float, "clip gradients to this global norm (default: no clipping)")
    opt("--loss", str, "mean (cross-entropy per char, default) or sum (over a window, the lesson's)",
        run.CHOICES["loss"])
    opt("--dtype", str, "float32 (default) or float64", run.CHOICES["dtype"])
    opt("--seed", int, f"seed for weights and shuffling (default {D['seed']})")
    opt("--checkpoint-every", int, f"steps between checkpoints (default {D['checkpoint_every']}; also at each epoch end)")
    opt("--embed-init", str, f"initialiser of the embedding (default {D['embed_init']})",
        run.CHOICES["embed_init"])
    opt("--inner-init", str, "initialiser of the recurrent weights (default: identity for lesson, "
        "orthogonal for simplernn, gru and lstm)", run.CHOICES["inner_init"])
    gates = train.add_mutually_exclusive_group()
    gates.add_argument("--keras1-gates", action="store_const", const=True, default=None,
                       help="gru/lstm with Keras 1's hard_sigmoid gates and zero forget-gate bias (the "
                            "lesson's; the default: measured to learn faster, see the README)")
    gates.add_argument("--sigmoid-gates", dest="keras1_gates", action="store_const", const=False,
                       help="gru/lstm with logistic sigmoid gates and (lstm) a forget-gate bias of 1")
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    train.add_argument("--run-dir", default=None, help="where checkpoints go (default runs/<date-time>)")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    train.add_argument("--backend", default=None, choices=run.CHOICES["backend"],
                       help="numba, c, py or jax (default: $SYMRNN_BACKEND, else numba)")
    train.add_argument("--devices", type=int, default=None,
                       help="with --backend jax: split each batch across this many JAX devices "
                            "(GPUs; on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N "
                            "makes N host devices)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_sampling_arguments(train, "--sample")
    train.set_defaults(run=run_train)


class UsageError(ConfigError):
    """A command line argparse refused (unknown option, a value outside its choices)."""


class Parser(argparse.ArgumentParser):
    """argparse, with its refusals reported like every other bad input (exit code 2, one
    ``symrnn: error:`` line) instead of exiting from inside the parser."""

    def error(self, message):
        raise UsageError(f"{message} ({self.prog} --help lists the options)")


def build_parser():
    parser = Parser(prog="symrnn", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_parser(commands)
    generate = commands.add_parser("generate", help="sample text from a trained run")
    generate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or ckpt-*.npz file")
    add_sampling_arguments(generate, "--chars")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--backend", default=None, choices=run.CHOICES["backend"])
    generate.set_defaults(run=run_generate)
    evaluate = commands.add_parser("evaluate", help="held-out loss, bits/char and perplexity of a run")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or ckpt-*.npz file")
    add_corpus_arguments(evaluate)
    evaluate.add_argument("--backend", default=None, choices=run.CHOICES["backend"])
    evaluate.set_defaults(run=run_evaluate)
    graph = commands.add_parser("graph", help="write the lesson model's graph (scan and unrolled)")
    graph.add_argument("--out", default="graphs", help="output directory (default ./graphs)")
    graph.add_argument("--hidden", type=int, default=D["hidden"])
    graph.add_argument("--seq-len", type=int, default=8)
    graph.add_argument("--vocab-size", type=int, default=86, help="default 86, the lesson's Nietzsche vocabulary")
    graph.set_defaults(run=run_graph)
    bench = commands.add_parser("bench", help="benchmark against numpy and PyTorch", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(run=run_bench)
    return parser


# ------------------------------------------------------------------- checks
def check_flags_positive(**values):
    """Like :func:`symrnn.errors.check_positive`, naming each value by its ``--flag``."""
    errors.check_positive(values, label=lambda name: f"--{name.replace('_', '-')}")


def check_sampling(args):
    check_flags_positive(temperature=args.temperature)
    check_temperature(args.temperature)
    if args.chars < 0:
        raise ConfigError(f"the number of characters to sample must be >= 0, got {args.chars}")


# ------------------------------------------------------------------- train
def prime_for(args, vocab):
    """The prime string, checked against the vocabulary (names unknown characters)."""
    prime = args.prime if args.prime is not None else DEFAULT_PRIME
    try:
        vocab.encode(prime)
    except SymrnnError:
        if args.prime is not None:
            raise
        prime = vocab.chars[-1]  # the default prime is not in this corpus; any known char will do
    if not prime:
        raise ConfigError("--prime is empty; give at least one character to start from")
    return prime


def run_train(args):
    check_sampling(args)
    plan = run.plan_training(args, check_vocab=lambda vocab: prime_for(args, vocab))
    prime = prime_for(args, plan.model.vocab)
    describe_run(plan)
    window = sampling_window(args, plan.meta)
    helper = ahead.start(plan.model, window, prime)   # compiles the after-training functions
    try:
        start = time.perf_counter()
        plan.model.model.make_train_function()   # built now, so its time is reported apart
        print(f"built the training function in {time.perf_counter() - start:.1f} s"
              + (" (numba compiles it on first use)" if plan.model.backend == "numba" else ""))
        result = run.train(plan, helper=helper)
        if helper is not None and result.status == "done":
            helper.wait()   # the predictions and the sample come next
    except run.NonFiniteLoss as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 3
    except CheckpointWriteError as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 4
    finally:
        if helper is not None:
            helper.stop()
    write_curve(plan, result)
    if result.status == "interrupted":
        print(f"\nsymrnn: interrupted at step {result.step}; saved {result.last_checkpoint}\n"
              f"resume with: symrnn train --resume {plan.run_dir}", file=sys.stderr)
        return 130
    print(f"stopped at step {result.step} ({result.epoch} of {plan.settings['epochs']} epochs done); "
          f"latest checkpoint {result.last_checkpoint}")
    show_predictions(plan.model, plan.text, plan.settings["seq_len"])
    print_sample(plan.model, args, prime, plan.settings["seed"], window)
    return 0


def describe_run(plan):
    model, (x, _, heldout_x, _), s = plan.model, plan.windows, plan.settings
    print(f"corpus: {len(plan.text):,} characters, vocabulary {model.vocab.size}, {len(x):,} training "
          f"windows of {x.shape[1]}, {len(heldout_x):,} held-out")
    c = model.config
    print(f"model {c['model']}: hidden {c['hidden']}, {c['optimizer']} lr {c['lr']:g}, clipnorm {c['clipnorm']}, "
          f"batch {s['batch_size']}, {plan.steps_per_epoch} steps per epoch, {s['epochs']} epoch(s)")
    at = plan.resumed_at
    print((f"resuming at step {at['step']} (epoch {at['epoch'] + 1})" if at else "checkpoints")
          + f" in {plan.run_dir}")


def write_curve(plan, result):
    if not result.batch_losses:
        return
    try:
        path = run.write_loss_curve(os.path.join(plan.run_dir, "loss.png"), result.batch_losses,
                                    result.heldout, plan.steps_per_epoch)
    except OSError as err:   # a picture is not worth failing a finished run for
        print(f"loss curve: not written ({err})", file=sys.stderr)
        return
    print(f"loss curve: {path}" if path else
          "loss curve: not drawn, matplotlib is missing (pip install 'symrnn[plot]')")


def show_predictions(model, text, seq_len):
    print("\npredicted next characters (argmax after each position):")
    for snippet, guess in run.predictions(model, text, seq_len):
        print(f"  {snippet!r:>16} -> {guess!r}")


def sampling_window(args, meta):
    """The characters each sampled one re-reads (the run's training windows), or None
    with ``--carry-state``."""
    return None if args.carry_state else run.generation_window(meta)


def print_sample(model, args, prime, seed, window):
    temperature = None if args.greedy else args.temperature
    sample = run.sample_text(model, prime, args.chars, temperature, seed, window)
    how = "greedy" if temperature is None else f"temperature {temperature}"
    how += ", state carried" if window is None else f", each re-reading the last {window} characters"
    print(f"\nsampled text ({how}):\n{prime}{sample}")


# ------------------------------------------------------------------- generate / evaluate
def run_generate(args):
    check_sampling(args)
    model, meta, file = run.load_run(args.run_dir, args.backend)
    prime = prime_for(args, model.vocab)
    print(f"checkpoint {file} (step {meta['step']})")
    print_sample(model, args, prime, args.seed, sampling_window(args, meta))
    return 0


def run_evaluate(args):
    found = run.evaluate_run(args.run_dir, args.corpus, args.encoding, args.backend)
    what = "held-out tail of the training corpus" if args.corpus is None else f"all of {args.corpus}"
    print(f"checkpoint {found.file} (step {found.step}), {what}: {found.windows:,} windows of "
          f"{found.seq_len}")
    print(f"loss {loss_summary(found.nats)}")
    return 0


def run_graph(args):
    check_flags_positive(hidden=args.hidden, seq_len=args.seq_len, vocab_size=args.vocab_size)
    run.check_run_dir(args.out, new_run=False)
    written = graphs.write_lesson_graphs(args.out, args.vocab_size, args.hidden, args.seq_len)
    for form, path, lines, image in written:
        print(f"{form:>8} form: {path} ({lines} lines)")
        if image:
            print(f"{'':>8}       {image}")
    if not graphs.can_draw():
        print("images: not drawn; install pydot (pip install pydot) and graphviz (apt-get install graphviz)")
    return 0


def run_bench(args):
    # imported here: `symrnn train` and the rest never load the benchmark (and PyTorch's twins)
    from ..bench.runner import main as bench_main
    return bench_main(args.bench_args)


def main(argv=None):
    limit_blas_threads()  # small matmuls: one BLAS thread is fastest (see threads.limit_blas_threads)
    keep_freed_memory()   # no page faults from per-step arrays (see symrnn.runtime)
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if args.command == "bench":  # argparse.REMAINDER does not take leading options such as --quick
            args.bench_args = unknown + args.bench_args
        elif unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        return args.run(args) or 0
    except SymrnnError as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsymrnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
