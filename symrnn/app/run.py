"""What ``symrnn train`` does, apart from parsing and printing: plan, lock, train, report.

:func:`plan_training` checks every option and builds everything in memory
(settings, corpus and its identity, windows, the model) without touching the
disk; :func:`train` takes the run directory's lock and trains through the
model's ``fit`` with callbacks (:class:`symrnn.layers.BackupAndRestore` for
checkpoints and bit-exact resume, :class:`symrnn.layers.TerminateOnNaN` as the
divergence guard, :class:`symrnn.layers.HeldOutEvaluation`,
:class:`symrnn.layers.StopAtStep`, :class:`symrnn.layers.StopOnInterrupt`),
returning a :class:`TrainResult`. Every refusal is a :class:`symrnn.errors.SymrnnError`
raised before anything on disk changes; the command line maps them to exit codes.

>>> import tempfile, types
>>> options = dict(TRAIN_DEFAULTS, corpus=None, encoding=None, resume=None, max_steps=2,
...                run_dir=tempfile.mkdtemp() + "/run", backend="py", devices=None, hidden=8,
...                sequences=64, no_progress=True)
>>> plan = plan_training(types.SimpleNamespace(**options))
>>> result = train(plan, log=None)
>>> result.status, result.step, result.last_checkpoint.name
('done', 2, 'ckpt-000000002.npz')
"""
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data import Vocab, load_corpus, train_heldout_windows, windows
from ..errors import (
    CheckpointError,
    CheckpointWriteError,
    ConfigError,
    CorpusError,
    SymrnnError,
    check_positive,
)
from ..graph.backend import BACKENDS, require_backend
from ..graph.jax import parallel
from ..graph.jax import static_shapes as jax_backend
from ..graph.params import INITIALISERS
from ..io import save_bytes
from ..layers import (
    BackupAndRestore,
    HeldOutEvaluation,
    StopAtStep,
    StopOnInterrupt,
    TerminateOnNaN,
)
from ..layers.charmodels import CHAR_DEFAULTS
from ..layers.checkpoints import (
    check_variables,
    list_checkpoints,
    load_checkpoint,
    remove_stale_temporaries,
    restore_variables,
)
from ..layers.generation import Generator
from .models import (
    DTYPES,
    LOSS_AGGREGATIONS,
    MODELS,
    OPTIMIZERS,
    build_model,
    saved_config,
)
from .rundir import RunDirLock

# Defaults of `symrnn train`; options left unset on --resume keep the run's saved values.
TRAIN_DEFAULTS = {**{k: CHAR_DEFAULTS[k] for k in ("model", "hidden", "layers", "optimizer", "clipnorm",
                                                   "loss", "dtype", "seed", "keras1_gates",
                                                   "embed_init", "inner_init")},
                  "lr": None, "seq_len": 8, "batch_size": 32, "epochs": 1, "sequences": 30_000,
                  "checkpoint_every": 500}
# --lr's default by optimizer (adam's is the models' own)
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.01, "adam": CHAR_DEFAULTS["lr"], "rmsprop": 0.001,
              "adagrad": 0.05}
# What may change when a run is resumed (the rest would break bit-exact continuation).
RESUME_OVERRIDES = ("epochs", "lr", "checkpoint_every")
# The values argparse offers for the options that name something.
CHOICES = {"model": MODELS, "optimizer": list(OPTIMIZERS), "loss": LOSS_AGGREGATIONS, "dtype": DTYPES,
           "backend": BACKENDS, "embed_init": sorted(INITIALISERS),
           "inner_init": sorted(INITIALISERS)}
MODEL_SETTINGS = ("model", "hidden", "layers", "optimizer", "lr", "clipnorm", "loss", "dtype", "seed",
                  "seq_len", "keras1_gates", "embed_init", "inner_init")


class NonFiniteLoss(SymrnnError):
    """Training produced NaN or inf; the last finite parameters were restored and saved."""


def flag(name):
    return "--" + name.replace("_", "-")


def corpus_sha256(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ------------------------------------------------------------------- checks
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


def resolve_train_settings(options, meta):
    """Options given, else the run's saved ones, else defaults."""
    saved = {} if meta is None else {**meta["model"], **meta["data"], **meta["trainer"]}
    settings = {}
    for name, default in TRAIN_DEFAULTS.items():
        given = getattr(options, name)
        if meta is not None and given is not None and name not in RESUME_OVERRIDES and given != saved.get(name):
            raise ConfigError(f"{flag(name)} {given} differs from the run's {saved.get(name)}; "
                              f"on --resume only {', '.join(flag(o) for o in RESUME_OVERRIDES)}, "
                              "--max-steps, --backend and the sampling options can change")
        settings[name] = given if given is not None else saved.get(name, default)
    if settings["lr"] is None:
        settings["lr"] = DEFAULT_LR.get(settings["optimizer"], 0.01)
    check_positive({k: settings[k] for k in ("layers", "hidden", "seq_len", "batch_size", "epochs", "lr",
                                              "clipnorm", "checkpoint_every")}, label=flag)
    if settings["sequences"] < 0:
        raise ConfigError(f"--sequences must be >= 0 (0 = all), got {settings['sequences']}")
    if settings["model"] == "lesson" and settings["layers"] != 1:
        raise ConfigError("--layers is for --model simplernn, gru and lstm; the lesson RNN has one layer")
    if options.max_steps is not None and options.max_steps < 0:
        raise ConfigError(f"--max-steps must be >= 0, got {options.max_steps}")
    return settings


def load_training_corpus(options, meta):
    """The corpus text, its vocabulary and description; on resume, the run's own."""
    saved = (meta or {}).get("corpus", {})
    source = options.corpus if options.corpus is not None else saved.get("source")
    encoding = options.encoding or saved.get("encoding") or "utf-8"
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


def check_backend_for(settings, options):
    """The backend and JAX devices, refused before anything is built."""
    backend = require_backend(options.backend)
    devices = parallel.check_devices(options.devices, backend)
    if devices is not None:
        parallel.check_split(settings["batch_size"], devices)
    if backend == "jax":
        jax_backend.check_training_batch(settings["batch_size"])
    return backend, devices


# ------------------------------------------------------------------- plan
@dataclass
class TrainPlan:
    """Everything a run needs, checked and built in memory (nothing on disk yet)."""
    model: object               # symrnn.app.models.CharModel
    settings: dict
    text: str
    windows: tuple              # x, y, heldout_x, heldout_y
    run_dir: str
    meta: dict                  # facts every checkpoint holds (corpus, model, vocab, data)
    resumed_at: dict            # the checkpoint's position ({"step", "epoch", ...}) or None
    max_steps: int = None
    progress: bool = True

    @property
    def steps_per_epoch(self):
        return len(self.windows[0]) // self.settings["batch_size"]   # whole batches: see below


def plan_training(options, check_vocab=None):
    """Check every option, load the corpus, build the model; raises before any disk change.
    ``check_vocab(vocab)`` checks what depends on the corpus' characters (the CLI's prime)."""
    checkpoint = load_checkpoint(options.resume) if options.resume else None
    meta = checkpoint[1] if checkpoint else None
    if meta is not None:
        meta["model"] = saved_config(meta["model"], meta["version"])
    s = resolve_train_settings(options, meta)
    backend, devices = check_backend_for(s, options)
    text, vocab, corpus = load_training_corpus(options, meta)
    if check_vocab is not None:
        check_vocab(vocab)
    x, y, heldout_x, heldout_y = train_heldout_windows(vocab.encode(text), s["seq_len"],
                                                       sequences=s["sequences"])
    if len(x) < s["batch_size"]:
        raise CorpusError(f"only {len(x)} training windows, fewer than one batch of "
                          f"{s['batch_size']}; use a smaller --batch-size, a shorter --seq-len or a "
                          "longer corpus")
    # whole batches only: every step sees batch_size windows (and JAX one compiled shape)
    full = len(x) // s["batch_size"] * s["batch_size"]
    windows = (x[:full], y[:full], heldout_x, heldout_y)
    run_dir = options.resume or options.run_dir or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    check_run_dir(run_dir, new_run=not options.resume)
    model = build_model(vocab, {k: s[k] for k in MODEL_SETTINGS}, backend=backend, devices=devices)
    run_meta = {"corpus": corpus, "model": model.config, "vocab": vocab.to_list(),
                "data": {"seq_len": s["seq_len"], "sequences": s["sequences"]},
                # trained on windows that each start from a zero state: sample the same way
                "generation": {"window": s["seq_len"]},
                "trainer": {k: s[k] for k in ("batch_size", "epochs", "seed", "checkpoint_every")}}
    if checkpoint:   # the weights fit this model (the rest is checked when fit restores it)
        check_variables({"param": model.params}, checkpoint[0], {}, checkpoint[2])
        model.set_lr(s["lr"])
    resumed_at = meta.get("fit") if meta else None
    return TrainPlan(model, s, text, windows, run_dir, run_meta, resumed_at,
                     options.max_steps, not options.no_progress)


# ------------------------------------------------------------------- train
@dataclass
class TrainResult:
    """How a run ended: ``status`` is ``done``, ``interrupted`` or ``diverged``."""
    status: str
    step: int
    epoch: int
    last_checkpoint: Path
    batch_losses: list = field(default_factory=list)
    heldout: list = field(default_factory=list)      # [step, epoch, nats] per finished epoch
    restored_step: int = None


def train(plan, log=tqdm.write, helper=None):
    """Lock the run directory, train through ``fit``, and say how it ended. ``helper``: a
    :class:`symrnn.app.ahead.Helper` compiling the evaluation function; its
    ``callback()`` waits for it before the first held-out evaluation."""
    os.makedirs(plan.run_dir, exist_ok=True)
    with RunDirLock(plan.run_dir):   # one writer: refused here before anything is written
        if plan.resumed_at is None and list_checkpoints(plan.run_dir):   # another run got here first
            raise ConfigError(f"run directory {plan.run_dir!r} already holds a run; continue it with "
                              f"'symrnn train --resume {plan.run_dir}' or choose another --run-dir")
        remove_stale_temporaries(plan.run_dir)   # ours to clean now that we hold the lock
        try:
            return _fit(plan, log, helper)
        except CheckpointWriteError as err:
            raise CheckpointWriteError(f"{err} (resume with: symrnn train --resume {plan.run_dir})") \
                from err


def _fit(plan, log, helper):
    s, model = plan.settings, plan.model
    x, y, heldout_x, heldout_y = plan.windows
    seq_len = x.shape[1]
    backup = BackupAndRestore(plan.run_dir, save_freq=s["checkpoint_every"], meta=plan.meta)
    guard, interrupt = TerminateOnNaN(), StopOnInterrupt()
    # order matters: restore before anything reads the step; evaluate before the checkpoint
    held_out = HeldOutEvaluation(heldout_x, heldout_y, per=model.chars_per_loss(seq_len), log=log)
    callbacks = [backup, guard, held_out, interrupt]
    if plan.max_steps is not None:
        callbacks.insert(1, StopAtStep(plan.max_steps))
    if helper is not None:   # its compiled evaluation function first
        callbacks.insert(callbacks.index(held_out), helper.callback())
    model.model.fit(x, y.astype(np.int64), batch_size=s["batch_size"], epochs=s["epochs"],
                    seed=s["seed"], callbacks=callbacks, verbose=1 if plan.progress else 0,
                    devices=model.devices)
    state, history = model.model.fit_state, model.model.history.history
    heldout = [[st, e + 1, nats] for st, e, nats in zip(history.get("step", []),
                                                        model.model.history.epoch,
                                                        history.get("heldout_loss", []))
               if np.isfinite(nats)]   # an epoch stopped inside has no held-out loss
    status = ("diverged" if guard.stopped_batch is not None
              else "interrupted" if interrupt.interrupted else "done")
    result = TrainResult(status, state.step, state.epoch, backup.last_checkpoint,
                         [v / model.chars_per_loss(seq_len) for v in backup.batch_losses], heldout,
                         guard.restored_step)
    if status == "diverged":
        raise NonFiniteLoss(divergence_message(plan, guard, result))
    return result


def divergence_message(plan, guard, result):
    config = plan.model.config
    epoch, batch = guard.stopped_batch
    where = f"batch {batch + 1} of epoch {epoch + 1}" if batch is not None else f"the end of epoch {epoch + 1}"
    where = f"step {guard.stopped_step} ({where})"
    cause = f"the learning rate {config['lr']:g} is probably too high (try --lr {config['lr'] / 10:g})"
    if config.get("clipnorm") is None:
        cause += " and gradients are not clipped (add --clipnorm 5)"
    return (f"training diverged at {where}: the loss or the weights became NaN or inf. Restored the "
            f"parameters from step {result.step} (the last finite ones) and saved them to "
            f"{result.last_checkpoint}. Likely cause: {cause}")


# ------------------------------------------------------------------- after training
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


def generation_window(meta):
    """The window a saved run's model re-reads for each sampled character: the length of
    the windows it was trained on, each from a zero state (checkpoints that do not say
    were trained that way too)."""
    return meta.get("generation", {}).get("window", meta["data"]["seq_len"])


def predictions(model, text, seq_len):
    """``(snippet, guess)`` for three windows of ``text`` (its start, a third and two
    thirds in): the model's most likely next character after each position."""
    pairs = []
    for start in (0, len(text) // 3, 2 * len(text) // 3):
        snippet = text[start:start + seq_len]
        ids = model.vocab.encode(snippet)[None, :]
        pairs.append((snippet, model.vocab.decode(model.predict_proba(ids)[0].argmax(axis=-1))))
    return pairs


def sample_text(model, prime, n_chars, temperature, seed, window):
    """``n_chars`` sampled after ``prime`` (``temperature=None``: greedy): each after
    re-reading the last ``window`` characters from zero states, as the model was trained;
    ``window=None`` carries the recurrent states instead (n characters cost n steps)."""
    return Generator(model.model, backend=model.backend, window=window).sample(
        model.vocab, prime, n_chars, temperature=temperature, seed=seed)


@dataclass
class Evaluation:
    file: Path
    step: int
    seq_len: int
    windows: int
    nats: float


def evaluate_run(run_dir, corpus=None, encoding=None, backend=None):
    """The held-out loss of a saved run: on its corpus' held-out tail (checked to be the run's
    own text), or on all of another ``corpus``."""
    model, meta, file = load_run(run_dir, backend)
    seq_len = meta["data"]["seq_len"]
    if corpus is None:
        saved = meta["corpus"]
        text = load_corpus(saved["source"], encoding=encoding or saved["encoding"])
        check_same_corpus(meta, model.vocab, corpus_sha256(text))
        _, _, x, y = train_heldout_windows(model.vocab.encode(text), seq_len)
    else:
        text = load_corpus(corpus, encoding=encoding or "utf-8")
        x, y = windows(model.vocab.encode(text), seq_len)
    return Evaluation(file, meta["step"], seq_len, len(x), model.evaluate(x, y))


def write_loss_curve(path, losses, heldout, steps_per_epoch):
    """A PNG of the training loss (smoothed) and held-out loss per epoch.

    Returns ``path``, or ``None`` when matplotlib is not installed. Written
    atomically, like the checkpoints.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    losses = np.asarray(losses, dtype=float)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="0.8", lw=0.8, label="training loss per step")
    width = max(1, min(len(losses) // 20, max(steps_per_epoch // 10, 1)))
    if len(losses) >= width > 1:
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        ax.plot(steps[width - 1:], smooth, color="C0", label=f"mean of {width} steps")
    if heldout:
        h = np.asarray(heldout, dtype=float)
        ax.plot(h[:, 0], h[:, 2], "o-", color="C1", label="held-out")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title="symrnn training")
    ax.legend()
    save_bytes(path, lambda f: fig.savefig(f, format="png"), ".png")
    return path
