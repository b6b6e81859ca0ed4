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
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytensor.printing

from .. import errors
from ..bench import runner as bench
from ..data import Vocab, load_corpus, windows
from ..data.sampling import check_temperature
from ..errors import CheckpointError, ConfigError, CorpusError, SymrnnError
from ..graph import jax_backend, parallel
from ..graph.backend import require_backend
from ..layers.generation import Generator
from ..lesson.rnn import LessonRNN
from ..runtime import keep_freed_memory, limit_blas_threads
from .checkpoint import (
    list_checkpoints,
    load_checkpoint,
    remove_stale_temporaries,
    restore_variables,
)
from .models import build_model, saved_config
from .rundir import RunDirLock
from .trainer import (
    CheckpointWriteError,
    NonFiniteLoss,
    Trainer,
    TrainingInterrupted,
    loss_summary,
    prepare_windows,
    write_loss_curve,
)

DEFAULT_PRIME = "The "
# Defaults of `symrnn train`; options left unset on --resume keep the run's saved values.
TRAIN_DEFAULTS = dict(model="lesson", hidden=256, seq_len=8, batch_size=32, epochs=1, sequences=30_000,
                      optimizer="adam", lr=None, clipnorm=None, loss="mean", dtype="float32", seed=42,
                      checkpoint_every=500, layers=1, keras1_gates=False)
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.01, "adam": 0.002, "rmsprop": 0.001, "adagrad": 0.05}
# What may change when a run is resumed (the rest would break bit-exact continuation).
RESUME_OVERRIDES = ("epochs", "lr", "checkpoint_every")


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


def add_train_parser(commands):
    train = commands.add_parser("train", help="train a model with checkpoints; --resume continues one")
    add_corpus_arguments(train)
    opt = lambda flag, kind, text: train.add_argument(flag, type=kind, default=None, help=text)
    opt("--model", str, "lesson (the lesson's RNN: one-hot, relu, identity W_h; default), simplernn, gru "
                        "or lstm (Embedding 42 -> the cell); all built from symrnn.layers")
    opt("--layers", int, "stacked recurrent layers for the layer-API models (default 1)")
    opt("--hidden", int, "hidden units (default 256)")
    opt("--seq-len", int, "characters per window (default 8)")
    opt("--batch-size", int, "windows per step (default 32; 1 with --optimizer sgd --loss sum is the lesson)")
    opt("--epochs", int, "passes over the training windows (default 1)")
    opt("--sequences", int, "training windows per epoch (default 30,000; 0 = all)")
    opt("--optimizer", str, "sgd, momentum, adam, rmsprop or adagrad (default adam)")
    opt("--lr", float, "learning rate (default depends on the optimizer: adam 0.002, sgd 0.05)")
    opt("--clipnorm", float, "clip gradients to this global norm (default: no clipping)")
    opt("--loss", str, "mean (cross-entropy per char, default) or sum (over a window, the lesson's)")
    opt("--dtype", str, "float32 (default) or float64")
    opt("--seed", int, "seed for weights and shuffling (default 42)")
    opt("--checkpoint-every", int, "steps between checkpoints (default 500; also at each epoch end)")
    train.add_argument("--keras1-gates", action="store_const", const=True, default=None,
                       help="gru/lstm with Keras 1's hard_sigmoid gates and zero forget-gate bias (the "
                            "lesson's); default: sigmoid gates, forget-gate bias 1")
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    train.add_argument("--run-dir", default=None, help="where checkpoints go (default runs/<date-time>)")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    train.add_argument("--backend", default=None,
                       help="numba, c, py or jax (default: $SYMRNN_BACKEND, else numba)")
    train.add_argument("--devices", type=int, default=None,
                       help="with --backend jax: split each batch across this many JAX devices "
                            "(GPUs; on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N "
                            "makes N host devices)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_sampling_arguments(train, "--sample")
    train.set_defaults(run=run_train)


def build_parser():
    parser = argparse.ArgumentParser(prog="symrnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_parser(commands)
    generate = commands.add_parser("generate", help="sample text from a trained run")
    generate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or ckpt-*.npz file")
    add_sampling_arguments(generate, "--chars")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--backend", default=None)
    generate.set_defaults(run=run_generate)
    evaluate = commands.add_parser("evaluate", help="held-out loss, bits/char and perplexity of a run")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or ckpt-*.npz file")
    add_corpus_arguments(evaluate)
    evaluate.add_argument("--backend", default=None)
    evaluate.set_defaults(run=run_evaluate)
    graph = commands.add_parser("graph", help="write the lesson model's graph (scan and unrolled)")
    graph.add_argument("--out", default="graphs", help="output directory (default ./graphs)")
    graph.add_argument("--hidden", type=int, default=256)
    graph.add_argument("--seq-len", type=int, default=8)
    graph.add_argument("--vocab-size", type=int, default=86, help="default 86, the lesson's Nietzsche vocabulary")
    graph.set_defaults(run=run_graph)
    bench = commands.add_parser("bench", help="benchmark against numpy and PyTorch", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(run=run_bench)
    return parser


# ------------------------------------------------------------------- checks
def check_positive(**values):
    """Like :func:`symrnn.errors.check_positive`, naming each value by its ``--flag``."""
    errors.check_positive(values, label=lambda name: f"--{name.replace('_', '-')}")


def check_sampling(args):
    check_positive(temperature=args.temperature)
    check_temperature(args.temperature)
    if args.chars < 0:
        raise ConfigError(f"the number of characters to sample must be >= 0, got {args.chars}")


def corpus_sha256(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def check_run_dir(path, new_run):
    """Refuse an unusable run directory without creating anything."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"run directory {str(path)!r} is a file; choose another --run-dir")
    if new_run and path.is_dir():
        if list_checkpoints(path):
            raise ConfigError(f"run directory {str(path)!r} already holds a run; continue it with "
                              f"'symrnn train --resume {path}' or choose another --run-dir")
    existing = next(p for p in [path, *path.absolute().parents] if p.exists())
    try:
        if not existing.is_dir():
            raise OSError(f"{existing} is not a directory")
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=existing))  # the only reliable test (root, read-only fs)
    except OSError as err:
        raise ConfigError(f"run directory {str(path)!r} is not writable ({err}); "
                          "choose another --run-dir") from None


# ------------------------------------------------------------------- train
def resolve_train_settings(args, meta):
    """Options given on the command line, else the run's saved ones, else defaults."""
    saved = {} if meta is None else {**meta["model"], **meta["data"], **meta["trainer"]}
    settings = {}
    for name, default in TRAIN_DEFAULTS.items():
        given = getattr(args, name)
        if meta is not None and given is not None and name not in RESUME_OVERRIDES and given != saved.get(name):
            raise ConfigError(f"--{name.replace('_', '-')} {given} differs from the run's {saved.get(name)}; "
                              f"on --resume only {', '.join('--' + o.replace('_', '-') for o in RESUME_OVERRIDES)}, "
                              "--max-steps, --backend and the sampling options can change")
        settings[name] = given if given is not None else saved.get(name, default)
    if settings["lr"] is None:
        settings["lr"] = DEFAULT_LR.get(settings["optimizer"], 0.01)
    return settings


def load_training_corpus(args, meta):
    """The corpus text, its vocabulary and description; on resume, the run's own."""
    saved = (meta or {}).get("corpus", {})
    source = args.corpus if args.corpus is not None else saved.get("source")
    encoding = args.encoding or saved.get("encoding") or "utf-8"
    text = load_corpus(source, encoding=encoding)
    vocab, sha = Vocab.from_text(text), corpus_sha256(text)
    if meta is not None:
        check_same_corpus(meta, vocab, sha)
    return text, vocab, {"source": source, "encoding": encoding, "sha256": sha, "chars": len(text)}


def check_same_corpus(meta, vocab, sha):
    saved = meta["vocab"]
    if vocab.to_list() != saved:
        extra, missing = sorted(set(vocab.chars) - set(saved)), sorted(set(saved) - set(vocab.chars))
        raise CorpusError(f"this corpus' vocabulary differs from the run's ({len(vocab.chars)} vs {len(saved)} "
                          f"characters; new {extra[:10]!r}, missing {missing[:10]!r}); resume with the "
                          "corpus the run was trained on")
    if sha != meta["corpus"]["sha256"]:
        raise CorpusError("this corpus is not the text the run was trained on (sha256 differs); resume "
                          "with the original corpus, or start a new run")


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


def plan_training(args):
    """Everything checked and built in memory; nothing on disk changed yet."""
    checkpoint = load_checkpoint(args.resume) if args.resume else None
    meta = checkpoint[1] if checkpoint else None
    if meta is not None:
        meta["model"] = saved_config(meta["model"], meta["version"])
    s = resolve_train_settings(args, meta)
    check_positive(**{k: s[k] for k in ("layers", "hidden", "seq_len", "batch_size", "epochs", "lr", "clipnorm",
                                        "checkpoint_every")})
    if s["sequences"] < 0:
        raise ConfigError(f"--sequences must be >= 0 (0 = all), got {s['sequences']}")
    check_sampling(args)
    backend = require_backend(args.backend)
    devices = parallel.check_devices(args.devices, backend)
    if devices is not None:
        parallel.check_split(s["batch_size"], devices)
    if backend == "jax":
        jax_backend.check_training_batch(s["batch_size"])
    text, vocab, corpus = load_training_corpus(args, meta)
    prime = prime_for(args, vocab)
    x, y, hx, hy = prepare_windows(vocab.encode(text), s["seq_len"], sequences=s["sequences"])
    run_dir = args.resume or args.run_dir or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    check_run_dir(run_dir, new_run=not args.resume)
    if s["model"] == "lesson" and s["layers"] != 1:
        raise ConfigError("--layers is for --model simplernn, gru and lstm; the lesson RNN has one layer")
    model_config = {k: s[k] for k in ("model", "hidden", "layers", "optimizer", "lr", "clipnorm", "loss",
                                      "dtype", "seed", "seq_len", "keras1_gates")}
    model = build_model(vocab, model_config, backend=backend, devices=devices)
    run_meta = {"corpus": corpus, "data": {"seq_len": s["seq_len"], "sequences": s["sequences"]}}
    trainer = Trainer(model, x, y, hx, hy, batch_size=s["batch_size"], epochs=s["epochs"], seed=s["seed"],
                      run_dir=run_dir, checkpoint_every=s["checkpoint_every"], max_steps=args.max_steps,
                      run_meta=run_meta, progress=not args.no_progress)
    if checkpoint:
        trainer.restore(checkpoint[0], meta, checkpoint[2])
        model.set_lr(s["lr"])
    return trainer, text, prime


def run_train(args):
    trainer, text, prime = plan_training(args)
    os.makedirs(trainer.run_dir, exist_ok=True)
    with RunDirLock(trainer.run_dir):   # one writer: refused here before anything is written
        return train_locked(args, trainer, text, prime)


def train_locked(args, trainer, text, prime):
    model, run_dir = trainer.model, trainer.run_dir
    if not args.resume and list_checkpoints(run_dir):   # another run got here between check and lock
        raise ConfigError(f"run directory {run_dir!r} already holds a run; continue it with "
                          f"'symrnn train --resume {run_dir}' or choose another --run-dir")
    remove_stale_temporaries(run_dir)   # ours to clean now that we hold the lock
    describe_run(trainer, text, args.resume)
    start = time.perf_counter()
    model.compile(evaluation=False)   # the evaluation function is built when first needed
    print(f"built the training function in {time.perf_counter() - start:.1f} s"
          + (" (numba compiles it on first use)" if model.backend == "numba" else ""))
    try:
        trainer.fit()
    except TrainingInterrupted as stop:
        write_curve(trainer)
        print(f"\nsymrnn: interrupted at step {stop.step}; saved {stop.checkpoint}\n"
              f"resume with: symrnn train --resume {run_dir}", file=sys.stderr)
        return 130
    except NonFiniteLoss as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 3
    except CheckpointWriteError as err:
        print(f"symrnn: error: {err}", file=sys.stderr)
        return 4
    print(f"stopped at step {trainer.step} ({trainer.epoch} of {trainer.epochs} epochs done); "
          f"latest checkpoint {trainer.last_checkpoint}")
    write_curve(trainer)
    show_predictions(model, text, trainer.x.shape[1])
    print_sample(model, args, prime, seed=trainer.seed)
    return 0


def describe_run(trainer, text, resumed):
    model, x = trainer.model, trainer.x
    print(f"corpus: {len(text):,} characters, vocabulary {model.vocab.size}, {len(x):,} training windows "
          f"of {x.shape[1]}, {len(trainer.heldout_x):,} held-out")
    c = model.config
    print(f"model {c['model']}: hidden {c['hidden']}, {c['optimizer']} lr {c['lr']:g}, clipnorm {c['clipnorm']}, "
          f"batch {trainer.batch_size}, {trainer.n_batches} steps per epoch, {trainer.epochs} epoch(s)")
    action = f"resuming at step {trainer.step} (epoch {trainer.epoch + 1})" if resumed else "checkpoints"
    print(f"{action} in {trainer.run_dir}")


def write_curve(trainer):
    if not trainer.losses:
        return
    try:
        path = write_loss_curve(os.path.join(trainer.run_dir, "loss.png"), trainer.losses,
                                trainer.heldout, trainer.n_batches)
    except OSError as err:   # a picture is not worth failing a finished run for
        print(f"loss curve: not written ({err})", file=sys.stderr)
        return
    print(f"loss curve: {path}" if path else
          "loss curve: not drawn, matplotlib is missing (pip install 'symrnn[plot]')")


def show_predictions(model, text, seq_len):
    print("\npredicted next characters (argmax after each position):")
    for start in (0, len(text) // 3, 2 * len(text) // 3):
        snippet = text[start:start + seq_len]
        ids = model.vocab.encode(snippet)[None, :]
        guess = model.vocab.decode(model.predict_proba(ids)[0].argmax(axis=-1))
        print(f"  {snippet!r:>16} -> {guess!r}")


def print_sample(model, args, prime, seed):
    temperature = None if args.greedy else args.temperature
    # one compiled step carrying the recurrent states: n characters cost n steps
    sample = Generator(model.model, backend=model.backend).sample(
        model.vocab, prime, args.chars, temperature=temperature, seed=seed)
    how = "greedy" if temperature is None else f"temperature {temperature}"
    print(f"\nsampled text ({how}):\n{prime}{sample}")


# ------------------------------------------------------------------- generate / evaluate
def load_run(run_dir, backend):
    """The model of a saved run with its trained parameters, and the checkpoint metadata."""
    backend = require_backend(backend)
    arrays, meta, file = load_checkpoint(run_dir)
    config = saved_config(meta.get("model", {}), meta["version"])   # names an old lesson checkpoint
    try:
        vocab = Vocab.from_list(meta["vocab"])
        model = build_model(vocab, config, backend=backend)
        meta["data"]["seq_len"]
    except (KeyError, TypeError, SymrnnError) as err:
        raise CheckpointError(f"{str(file)!r} does not describe a model symrnn can build ({err}); "
                              "was it saved by another version or model?") from None
    restore_variables({"param": model.params}, arrays, {}, file)
    return model, meta, file


def run_generate(args):
    check_sampling(args)
    model, meta, file = load_run(args.run_dir, args.backend)
    prime = prime_for(args, model.vocab)
    print(f"checkpoint {file} (step {meta['step']})")
    print_sample(model, args, prime, seed=args.seed)
    return 0


def run_evaluate(args):
    model, meta, file = load_run(args.run_dir, args.backend)
    seq_len = meta["data"]["seq_len"]
    if args.corpus is None:
        corpus = meta["corpus"]
        text = load_corpus(corpus["source"], encoding=args.encoding or corpus["encoding"])
        check_same_corpus(meta, model.vocab, corpus_sha256(text))
        _, _, x, y = prepare_windows(model.vocab.encode(text), seq_len)
        what = "held-out tail of the training corpus"
    else:
        text = load_corpus(args.corpus, encoding=args.encoding or "utf-8")
        x, y = windows(model.vocab.encode(text), seq_len)
        what = f"all of {args.corpus}"
    nats = model.evaluate(x, y)
    print(f"checkpoint {file} (step {meta['step']}), {what}: {len(x):,} windows of {seq_len}")
    print(f"loss {loss_summary(nats)}")
    return 0


# ------------------------------------------------------------------- graph
def write_text(path, text):
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def run_graph(args):


    check_positive(hidden=args.hidden, seq_len=args.seq_len, vocab_size=args.vocab_size)
    check_run_dir(args.out, new_run=False)
    os.makedirs(args.out, exist_ok=True)
    images = shutil.which("dot") is not None and _has_pydot()
    for form, unroll in (("scan", False), ("unrolled", True)):
        rnn = LessonRNN(args.vocab_size, args.hidden, seq_len=args.seq_len, unroll=unroll, backend="py")
        buffer = io.StringIO()
        pytensor.printing.debugprint(rnn.error, file=buffer)
        path = os.path.join(args.out, f"lesson_{form}.txt")
        write_text(path, buffer.getvalue())
        print(f"{form:>8} form: {path} ({buffer.getvalue().count(chr(10))} lines)")
        if images:
            image = os.path.join(args.out, f"lesson_{form}.png")
            pytensor.printing.pydotprint(rnn.error, outfile=image, format="png", print_output_file=False)
            print(f"{'':>8}       {image}")
    if not images:
        print("images: not drawn; install pydot (pip install pydot) and graphviz (apt-get install graphviz)")
    return 0


def _has_pydot():
    return importlib.util.find_spec("pydot") is not None


def run_bench(args):
    return bench.main(args.bench_args)


def main(argv=None):
    limit_blas_threads()  # small matmuls: one BLAS thread is fastest (see threads.limit_blas_threads)
    keep_freed_memory()   # no page faults from per-step arrays (see symrnn.runtime)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "bench":  # argparse.REMAINDER does not take leading options such as --quick
        args.bench_args = unknown + args.bench_args
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
