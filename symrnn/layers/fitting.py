"""compile / fit / evaluate / predict, and Keras' ``train_on_batch`` / ``test_on_batch`` /
``predict_on_batch``, for models.

Every call checks its arrays once, up front (:mod:`.validation`: shapes,
dtypes, finite values, ids in range, matching rows), before anything is
compiled or run, so a refused call changes nothing. The checked arrays are
then fed batch by batch to functions compiled through
:mod:`symrnn.graph.training`; the batch dim is dynamic, so the last, partial
batch is used too (not with a fixed batch size, see :mod:`.stateful`).

Because the arrays were checked (and cast to the exact dtypes and static
shapes the graph declares), the loops call the compiled functions with
PyTensor's ``trust_input`` on, which skips its own conversion of every
argument on every call: at batch 1 (a small Embedding-SimpleRNN model on
Numba) a direct call took 60 to 66 us instead of 84 to 90 us. It is switched
back off after the loop, so code calling :func:`train_fn` directly keeps
PyTensor's checks.

The compiled training and evaluation functions return the total loss, each
output's loss (several outputs) and the metrics (``compile(metrics=[...])``,
:mod:`symrnn.graph.metrics`) in the order of ``model.metrics_names``; ``fit``
reports their sample-weighted means per epoch to its callbacks
(:mod:`.callbacks`) and in the returned :class:`History`.

>>> import numpy as np
>>> from symrnn.layers import Dense, Sequential
>>> model = Sequential([Dense(3, activation="softmax", input_shape=(2,), seed=0)])
>>> model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"], backend="py")
>>> model.metrics_names
['loss', 'acc']
>>> x = np.zeros((4, 2))
>>> model.fit(x, np.array([0, 1, 2, 3]), verbose=0)
Traceback (most recent call last):
...
symrnn.errors.ShapeError: y: id 3 at index (3,) is outside [0, 3), the classes of output ...
>>> loss, acc = model.evaluate(x, np.array([0, 1, 2, 0]))
>>> acc   # one argmax for all four identical rows: right for the two rows of its class
0.5
"""
import itertools
import math
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import pytensor.tensor as pt

from ..errors import ConfigError, ShapeError
from ..graph import losses
from ..graph.backend import check_backend, compile_function
from ..graph.jax import parallel
from ..graph.metrics import get_metric
from ..graph.optimizers import get_optimizer
from ..graph.training import train_function
from ..graph.weighting import masked_mean
from ..runtime import keep_freed_memory
from . import weights as sample_weighting
from .base import as_list
from .callbacks import CallbackList, History, ProgressBar, check_callbacks
from .stateful import check_batches, check_shuffle, fixed_batch_size
from .validation import check_arrays, check_rows, input_specs, target_specs

__all__ = ["History", "compile_model", "fit", "evaluate", "predict", "train_on_batch",
           "evaluate_on_batch", "predict_on_batch", "train_fn", "eval_fn", "predict_fn"]

VALIDATION_BATCH = 256   # rows per evaluation call when fitting on a source of batches


# -- compile --------------------------------------------------------------------
def _metric_requests(model, metrics):
    """``{output index: [metric names]}`` from a list (every output) or a dict by output name."""
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, dict):
        unknown = sorted(set(metrics) - set(model.output_names))
        if unknown:
            raise ConfigError(f"metrics name outputs {unknown} that the model does not have; "
                              f"its outputs: {', '.join(model.output_names)}")
        return {model.output_names.index(k): as_list(v) for k, v in metrics.items()}
    if not isinstance(metrics, (list, tuple)):
        raise ConfigError(f"metrics must be a list of names such as ['accuracy'], got "
                          f"{type(metrics).__name__}")
    return {i: list(metrics) for i in range(len(model.outputs))}


def _metric_fns(model, metrics, sparse_flags, loss_names):
    """``[(output index, log key, metric function)]``: key ``acc`` for one output,
    ``{output}_acc`` for several (Keras' names)."""
    found, keys = [], set()
    for i, names in sorted(_metric_requests(model, metrics).items()):
        for name in names:
            if not isinstance(name, str):
                raise ConfigError(f"metrics are names such as 'accuracy', got {name!r}")
            fn = get_metric(name, sparse_flags[i], model.outputs[i].shape[-1], loss=loss_names[i])
            key = name if len(model.outputs) == 1 else f"{model.output_names[i]}_{name}"
            if key in keys:
                raise ConfigError(f"metric {name!r} is asked for twice on one output")
            keys.add(key)
            found.append((i, key, fn))
    return found


def compile_model(model, optimizer, loss, backend, metrics=None, sample_weight_mode=None):
    """Check every choice, then set them all at once (a refused compile changes nothing)."""
    names = as_list(loss) if isinstance(loss, (list, tuple)) else [loss] * len(model.outputs)
    if len(names) != len(model.outputs):
        raise ConfigError(f"{len(names)} losses for {len(model.outputs)} outputs; "
                          "give one loss, or one per output")
    loss_fns = [losses.get_loss(n) for n in names]  # validates names now
    loss_names = [n if isinstance(n, str) else getattr(n, "__name__", "loss") for n in names]
    sparse_flags = [losses.takes_ids(n) for n in names]
    metric_fns = _metric_fns(model, metrics, sparse_flags, names)
    optimizer = get_optimizer(optimizer)
    check_backend(backend)
    model.sample_weight_mode = sample_weighting.check_mode(model, sample_weight_mode)
    model.loss_fns, model.loss_names, model.sparse_targets = loss_fns, loss_names, sparse_flags
    model.metric_fns, model.optimizer, model.backend = metric_fns, optimizer, backend
    per_output = [f"{n}_loss" for n in model.output_names] if len(model.outputs) > 1 else []
    model.metrics_names = ["loss"] + per_output + [key for _, key, _ in metric_fns]
    model._functions = {}


def _require_compiled(model):
    if getattr(model, "loss_fns", None) is None:
        raise ConfigError("the model is not compiled; call model.compile(optimizer, loss) first")


def _loss_mask(mask, items):
    """The output's time mask where it weighs the items (a [B, T] loss), else None."""
    return mask if mask is not None and mask.ndim == items.ndim else None


def _reported_graph(model, training, weighted=False):
    """Inputs + targets (+ one sample-weight input per output when ``weighted``), the
    total loss, the reported values (``metrics_names`` order), updates. Losses and
    metrics are means over the items that count (:func:`masked_mean`): masked steps of a
    sequence output do not, zero-weight samples do not."""
    inputs, outputs, masks, updates = model.build_graph_with_masks(training)
    targets, weights, per_output = [], [], []
    for i, (out, t, fn, sparse) in enumerate(zip(outputs, model.outputs, model.loss_fns,
                                                 model.sparse_targets)):
        if sparse:
            target = pt.tensor(dtype="int64", shape=(None,) * (out.ndim - 1), name="target_ids")
        else:   # the dtype the model declares, which the checks cast targets to
            target = pt.tensor(dtype=t.dtype, shape=(None,) * out.ndim, name="target")
        targets.append(target)
        weight = None
        if weighted:
            weight = pt.tensor(dtype=sample_weighting.weight_dtype(model, i),
                               shape=sample_weighting.weight_shape(model, i), name="sample_weight")
            weights.append(weight)
        items = fn(out, target)
        per_output.append(masked_mean(items, _loss_mask(masks[i], items), weight))
    total = per_output[0]
    for item in per_output[1:]:
        total = total + item
    metric_values = []
    for i, _, fn in model.metric_fns:
        hits = fn(outputs[i], targets[i])
        metric_values.append(masked_mean(hits, _loss_mask(masks[i], hits)))
    reported = [total] + (per_output if len(outputs) > 1 else []) + metric_values
    return inputs + targets + weights, total, reported, updates


def train_fn(model, weighted=False):
    """The compiled training step: arrays in, ``metrics_names`` values out (loss first).
    ``weighted``: it also takes one sample-weight array per output, last."""
    _require_compiled(model)
    key = "train_weighted" if weighted else "train"
    if key not in model._functions:
        inputs, total, reported, extra = _reported_graph(model, True, weighted)
        model._functions[key] = train_function(
            inputs, total, model.trainable_params, model.optimizer.updates,
            outputs=reported, backend=model.backend, extra_updates=extra)
    return model._functions[key]


def eval_fn(model, weighted=False):
    """The compiled evaluation step (inference mode), same outputs as :func:`train_fn`."""
    _require_compiled(model)
    key = "eval_weighted" if weighted else "eval"
    if key not in model._functions:
        inputs, _, reported, extra = _reported_graph(model, False, weighted)  # extra: stateful states
        model._functions[key] = compile_function(inputs, reported, updates=extra,
                                                 backend=model.backend)
    return model._functions[key]


def predict_fn(model, backend=None):
    backend = backend if backend is not None else getattr(model, "backend", None)
    key = ("predict", backend)
    if key not in model._functions:
        inputs, outputs, extra = model.build_graph(training=False)
        model._functions[key] = compile_function(inputs, outputs, updates=extra, backend=backend)
    return model._functions[key]


# -- checking arguments and arrays -------------------------------------------------
def _whole(value, name, minimum):
    """``value`` as an int >= ``minimum``, or a ConfigError."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not math.isfinite(value) or value != int(value) or int(value) < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _epochs(epochs, nb_epoch):
    """Keras 1 spells ``epochs`` ``nb_epoch``; both may be given if they agree."""
    if nb_epoch is not None:
        if epochs is not None and epochs != nb_epoch:
            raise ConfigError(f"epochs={epochs!r} and nb_epoch={nb_epoch!r} disagree; nb_epoch "
                              "is Keras 1's name for epochs: pass one of them")
        epochs = nb_epoch
    return _whole(1 if epochs is None else epochs, "epochs", 0)


def check_inputs(model, x):
    """Checked input arrays and their common number of rows."""
    specs = input_specs(model)
    arrays = check_arrays(x, specs, "input")
    return arrays, check_rows(arrays, [s.label for s in specs])


def check_xy(model, x, y):
    """Checked input and target arrays (one list) and their common number of rows."""
    x_specs = input_specs(model)
    y_specs = target_specs(model, model.sparse_targets, model.loss_names)
    arrays = check_arrays(x, x_specs, "input") + check_arrays(y, y_specs, "output")
    return arrays, check_rows(arrays, [s.label for s in x_specs + y_specs])


def check_weighted(model, x, y, sample_weight=None, class_weight=None):
    """:func:`check_xy` with the sample weights (:mod:`.weights`) after the targets:
    ``(arrays, rows, weighted)``; ``weighted`` is False when no weights are given."""
    arrays, n = check_xy(model, x, y)
    targets = arrays[len(model.inputs):]
    weights = sample_weighting.sample_weights(model, targets, sample_weight, class_weight)
    return arrays + (weights or []), n, weights is not None


def _validation_pair(model, validation_data):
    """Checked ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``: ``(arrays, weighted)``."""
    if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
        raise ConfigError("validation_data must be a pair (x_val, y_val) or a triple "
                          "(x_val, y_val, sample_weight_val)")
    try:
        weights = validation_data[2] if len(validation_data) == 3 else None
        arrays, _, weighted = check_weighted(model, validation_data[0], validation_data[1], weights)
        return arrays, weighted
    except ShapeError as err:      # the same error, saying which arrays it is about
        raise type(err)(f"validation_data: {err}") from None


def _split(arrays, n, validation_split):
    ok = isinstance(validation_split, (int, float, np.integer, np.floating)) \
        and not isinstance(validation_split, bool)
    if not ok or not 0.0 <= validation_split < 1.0:
        raise ConfigError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    n_val = int(round(n * validation_split))
    if n_val == 0:
        return arrays, None
    if n_val == n:
        raise ShapeError(f"validation_split={validation_split} of {n} samples leaves none to "
                         "train on; use a smaller split or more samples")
    return [a[:-n_val] for a in arrays], [a[-n_val:] for a in arrays]  # Keras: the last samples


def _exact_batch(model, rows, what):
    """A fixed batch size (stateful models) needs every single call to have exactly that many rows."""
    fixed = fixed_batch_size(model)
    if fixed is not None and rows != fixed:
        raise ShapeError(f"{what} has {rows} rows, but the model has a fixed batch size of "
                         f"{fixed}; pass exactly {fixed} rows")


# -- batches and loops --------------------------------------------------------------
def check_signature(fn, arrays):
    """Refuse to feed ``fn`` arrays whose dtype, rank or static sizes (past the batch dim,
    which :mod:`.stateful` checks) differ from its inputs, once per loop: ``trust_input``
    skips PyTensor's own conversion, so an array that does not match the graph exactly
    must never reach it."""
    for i, (var, arr) in enumerate(zip(_input_variables(fn), arrays)):
        want = var.type
        fits = all(w is None or w == d for w, d in zip(want.shape[1:], arr.shape[1:]))
        if want.dtype != arr.dtype or want.ndim != arr.ndim or not fits:
            raise ShapeError(f"internal: argument {i} is {arr.dtype} {arr.shape} but the compiled "
                             f"function takes {want}; please report this")


def _input_variables(fn):
    """The input variables of a compiled function: a PyTensor ``Function``'s, or those of
    the jax backend's shape-keyed wrapper (:mod:`symrnn.graph.jax.static_shapes`), which keeps them."""
    maker = getattr(fn, "maker", None)
    return list(fn.inputs) if maker is None else [inp.variable for inp in maker.inputs]


@contextmanager
def trusted(*fns):
    """The compiled functions with ``trust_input`` on while our checked arrays feed them."""
    fns = [fn for fn in fns if fn is not None]
    before = [fn.trust_input for fn in fns]
    for fn in fns:
        fn.trust_input = True
    try:
        yield
    finally:
        for fn, flag in zip(fns, before):
            fn.trust_input = flag


def _array_batches(arrays, batch_size, order=None):
    """Lists of batch arrays: row slices in order, or the rows of a permutation."""
    n = len(arrays[0])
    for start in range(0, n, batch_size):
        if order is None:
            yield [a[start:start + batch_size] for a in arrays]
        else:
            idx = order[start:start + batch_size]
            yield [a[idx] for a in arrays]


def _source_batches(model, source, steps):
    """Up to ``steps`` batches from ``source``, each checked as it arrives (new data)."""
    for _ in range(steps):
        try:
            batch = next(source)
        except StopIteration:
            return  # a finite source ends the epoch early
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2):
            raise ShapeError(f"a batch source must yield (x, y) pairs, got {type(batch).__name__}")
        arrays, rows = check_xy(model, *batch)
        _exact_batch(model, rows, "a batch from the source")
        yield arrays


def _run(fn, batches, names, callbacks=None, model=None, state=None):
    """``{name: sample-weighted mean}`` of ``fn``'s outputs over ``batches``.

    With ``state`` (a :class:`FitState`), batches are numbered from ``state.batch``
    and the state counts each one before ``on_batch_end``, so a callback that saves
    there records where training is. The loop is kept lean (plain floats, one logs
    dict per batch): at batch 1 it runs once per training step."""
    sums, seen = [0.0] * len(names), 0
    first = 0 if state is None else state.batch
    if first:   # resumed inside an epoch: its means go on from the batches done before
        sums, seen = list(state.sums), state.seen
    for batch, arrays in enumerate(batches, start=first):
        if batch == first:
            check_signature(fn, arrays)
        size = len(arrays[0])
        if callbacks is not None:
            callbacks.on_batch_begin(batch, {"batch": batch, "size": size})
        values = [float(v) for v in fn(*arrays)]
        for i, value in enumerate(values):
            sums[i] += value * size
        seen += size
        if state is not None:
            state.batch, state.step = batch + 1, state.step + 1
            state.sums, state.seen = sums, seen
        if callbacks is not None:
            logs = dict(zip(names, values))
            logs["batch"], logs["size"] = batch, size
            callbacks.on_batch_end(batch, logs)
            if model.stop_training:
                break
    if seen == 0:
        raise ShapeError("the batch source yielded no batches; check that it is not exhausted")
    return zip_logs(names, [total / seen for total in sums])


def zip_logs(names, values):
    return OrderedDict((name, float(v)) for name, v in zip(names, values))


def _result(values):
    """Keras' return value: a float for the loss alone, else a list in ``metrics_names`` order."""
    values = list(values.values()) if isinstance(values, dict) else [float(v) for v in values]
    return values[0] if len(values) == 1 else values


# -- fit ---------------------------------------------------------------------------
def is_batch_source(x):
    """True for an iterator/generator of ``(x_batch, y_batch)`` (e.g. a BatchMixer)."""
    return hasattr(x, "__next__")


def _steps(source, steps_per_epoch):
    if steps_per_epoch is None:
        if not hasattr(source, "__len__"):
            raise ConfigError("fit on a generator needs steps_per_epoch=N (batches per epoch); "
                              "this source has no len() to take it from")
        steps_per_epoch = len(source)
    return _whole(steps_per_epoch, "steps_per_epoch", 1)


class _Plan:
    """What one fit call runs: per-epoch training batches, validation arrays, sizes, the
    generator that shuffles each epoch (None: a batch source orders its own), and
    whether the training and validation arrays end with sample weights."""

    def __init__(self, batches, val, samples, steps, val_batch, rng=None, weighted=False,
                 val_weighted=False):
        self.batches, self.val, self.samples, self.steps = batches, val, samples, steps
        self.val_batch, self.rng = val_batch, rng
        self.weighted, self.val_weighted = weighted, val_weighted


class FitState:
    """Where a ``fit`` call is: what a checkpoint needs to continue it bit for bit.

    ``epoch`` and ``batch`` are the next epoch and the batches of it already done,
    ``step`` the batches trained in all (across resumed runs), ``epoch_rng_state``
    the shuffling generator's state at the start of ``epoch`` (None for a batch
    source), ``sums`` and ``seen`` the sample-weighted sums of the epoch's logged
    values so far and its samples (so its means are the same after a resume). ``fit`` keeps it in ``model.fit_state``; a callback may move it in
    ``on_train_begin`` (:class:`symrnn.layers.backup.BackupAndRestore` does) and
    ``fit`` then starts there: the same order, the same batches skipped.
    """

    def __init__(self, epoch=0, batch=0, step=0, epoch_rng_state=None, sums=(), seen=0):
        self.epoch, self.batch, self.step = epoch, batch, step
        self.epoch_rng_state, self.sums, self.seen = epoch_rng_state, list(sums), seen

    def as_dict(self):
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step,
                "epoch_rng_state": self.epoch_rng_state, "sums": list(self.sums), "seen": self.seen}


def _array_plan(model, x, y, batch_size, shuffle, validation_split, validation_data, seed,
                sample_weight=None, class_weight=None):
    if y is None:
        raise ConfigError("fit needs targets y (or x must be a generator of (x, y) batches)")
    arrays, n, weighted = check_weighted(model, x, y, sample_weight, class_weight)
    arrays, val = _split(arrays, n, validation_split)
    val_weighted = weighted and val is not None   # the split keeps the weights beside the rows
    if validation_data is not None:
        val, val_weighted = _validation_pair(model, validation_data)
    batch_size = check_batches(model, len(arrays[0]), batch_size)
    if val is not None:
        check_batches(model, len(val[0]), batch_size, "validation samples")
    shuffle, rng = check_shuffle(model, shuffle), np.random.default_rng(seed)
    n = len(arrays[0])
    batches = lambda epoch: _array_batches(arrays, batch_size, rng.permutation(n) if shuffle else None)
    return _Plan(batches, val, n, -(-n // batch_size), batch_size, rng, weighted, val_weighted)


def _peeked(model, source):
    """``source`` with its first batch already checked (and put back in front), so a bad
    first batch is refused before training starts."""
    try:
        first = next(source)
    except StopIteration:
        raise ShapeError("the batch source yielded no batches; check that it is not "
                         "exhausted") from None
    if not (isinstance(first, (list, tuple)) and len(first) == 2):
        raise ShapeError(f"a batch source must yield (x, y) pairs, got {type(first).__name__}")
    _exact_batch(model, check_xy(model, *first)[1], "a batch from the source")
    return itertools.chain([first], source)


def _source_plan(model, source, y, steps_per_epoch, validation_split, validation_data):
    if y is not None:
        raise ConfigError("x is a source of (x, y) batches, so y must be None")
    if validation_split:
        raise ConfigError("validation_split needs arrays; pass validation_data=(x_val, y_val)")
    steps = _steps(source, steps_per_epoch)
    for x_rows, y_rows in getattr(source, "array_sources", lambda: [])():
        check_xy(model, x_rows, y_rows)   # every row a mixer can draw, before training starts
    source = _peeked(model, source)
    val, val_weighted = (None, False) if validation_data is None else \
        _validation_pair(model, validation_data)
    val_batch = fixed_batch_size(model) or VALIDATION_BATCH
    if val is not None:
        check_batches(model, len(val[0]), val_batch, "validation samples")
    return _Plan(lambda epoch: _source_batches(model, source, steps), val, None, steps, val_batch,
                 val_weighted=val_weighted)


def fit(model, x, y=None, batch_size=32, epochs=None, shuffle=True, validation_split=0.0,
        validation_data=None, verbose=1, seed=None, steps_per_epoch=None, callbacks=None,
        nb_epoch=None, initial_epoch=0, devices=None, sample_weight=None, class_weight=None):
    """Train on arrays ``(x, y)``, or on a source of batches: ``fit(mixer, epochs=...)``
    where ``x`` yields ``(x_batch, y_batch)`` and ``y`` is None (Keras' fit_generator).
    ``devices=N`` splits every batch across N JAX devices (:mod:`symrnn.graph.jax.parallel`).

    Everything is checked before the first batch: arguments, every array (and
    every row of a mixer's array sources), callbacks' monitored values.

    Training asks glibc's malloc to keep freed memory for reuse
    (:func:`symrnn.runtime.keep_freed_memory`, as ``symrnn train`` does): a step's
    arrays then reuse the last step's memory instead of faulting in fresh pages
    (measured: the character LSTM's B=64, T=40 step on Numba took 52-55 ms
    without it, 42 ms with it). The process keeps its peak heap; glibc's own
    ``MALLOC_*_`` variables, where set, win.
    """
    _require_compiled(model)
    epochs, batch_size = _epochs(epochs, nb_epoch), _whole(batch_size, "batch_size", 1)
    initial_epoch = _whole(initial_epoch, "initial_epoch", 0)
    callbacks = check_callbacks(callbacks)
    devices = parallel.check_devices(devices, model.backend)
    if is_batch_source(x):
        if sample_weight is not None or class_weight is not None:
            raise ConfigError("sample_weight and class_weight go with arrays; a source of "
                              "batches cannot take them (pass arrays, or weigh the data itself)")
        plan = _source_plan(model, x, y, steps_per_epoch, validation_split, validation_data)
    else:
        plan = _array_plan(model, x, y, batch_size, shuffle, validation_split, validation_data,
                           seed, sample_weight, class_weight)
        parallel.check_batches(plan.samples, batch_size, devices)
    keep_freed_memory()
    fn = parallel.split_batches(train_fn(model, plan.weighted), devices)
    val_fn = eval_fn(model, plan.val_weighted) if plan.val is not None else None
    history, names = History(), list(model.metrics_names)
    progress = [ProgressBar(verbose)] if verbose else []
    hooks = CallbackList(callbacks + [history] + progress)
    hooks.set_model(model)
    hooks.set_params({"epochs": epochs, "steps": plan.steps, "samples": plan.samples,
                      "batch_size": batch_size, "verbose": verbose,
                      "do_validation": plan.val is not None,
                      "metrics": names + ([f"val_{n}" for n in names] if plan.val is not None else [])})
    model.stop_training, previous = False, getattr(model, "history", None)
    model.history, model.fit_state = history, FitState(epoch=initial_epoch)
    try:
        hooks.on_train_begin()             # may refuse (e.g. an unlogged monitor): nothing ran
    except BaseException:
        model.history = previous
        raise
    try:
        with trusted(fn, val_fn):
            _epochs_from(model.fit_state, epochs, plan, fn, val_fn, names, hooks, model)
        hooks.on_train_end()
    finally:
        hooks.close()
    return history


def _epochs_from(state, epochs, plan, fn, val_fn, names, hooks, model):
    """The epochs of ``fit`` from where ``state`` says, skipping the batches it has done."""
    while state.epoch < epochs and not model.stop_training:
        epoch = state.epoch
        if plan.rng is not None:
            if state.epoch_rng_state is not None:   # a no-op but after a restore
                plan.rng.bit_generator.state = state.epoch_rng_state
            state.epoch_rng_state = plan.rng.bit_generator.state
        hooks.on_epoch_begin(epoch)
        batches = itertools.islice(plan.batches(epoch), state.batch, None)
        logs = _run(fn, batches, names, hooks, model, state)
        if val_fn is not None:
            val = _run(val_fn, _array_batches(plan.val, plan.val_batch), names)
            logs.update((f"val_{k}", v) for k, v in val.items())
        if not (model.stop_training and state.batch < plan.steps):   # else: it stays inside
            state.epoch, state.batch = epoch + 1, 0
            if plan.rng is not None:
                state.epoch_rng_state = plan.rng.bit_generator.state   # the next epoch's start
        hooks.on_epoch_end(epoch, logs)


# -- evaluate / predict / on_batch -----------------------------------------------------
def evaluate(model, x, y, batch_size=32, sample_weight=None):
    """Mean loss in inference mode: a float, or ``[loss, *output losses, *metrics]``
    (``model.metrics_names``) for several outputs or with metrics; ``sample_weight``
    weighs the losses as in ``fit``."""
    _require_compiled(model)
    arrays, n, weighted = check_weighted(model, x, y, sample_weight)
    batch_size = check_batches(model, n, _whole(batch_size, "batch_size", 1))
    fn = eval_fn(model, weighted)
    with trusted(fn):
        return _result(_run(fn, _array_batches(arrays, batch_size), model.metrics_names))


def predict(model, x, batch_size=32, backend=None):
    """Outputs for ``x`` in inference mode, batch by batch (a list for several outputs)."""
    arrays, n = check_inputs(model, x)
    batch_size = check_batches(model, n, _whole(batch_size, "batch_size", 1))
    fn = predict_fn(model, backend)
    check_signature(fn, arrays)
    with trusted(fn):
        chunks = [fn(*batch) for batch in _array_batches(arrays, batch_size)]
    outs = [np.concatenate([c[i] for c in chunks]) for i in range(len(model.outputs))]
    return outs[0] if len(outs) == 1 else outs


def _on_batch(model, x, y, compiled, sample_weight=None, class_weight=None):
    """``compiled(model)`` (the training or evaluation function) on one checked batch."""
    _require_compiled(model)
    arrays, n, weighted = check_weighted(model, x, y, sample_weight, class_weight)
    _exact_batch(model, n, "the batch")
    fn = compiled(model, weighted)
    check_signature(fn, arrays)
    with trusted(fn):
        return _result(fn(*arrays))


def train_on_batch(model, x, y, sample_weight=None, class_weight=None):
    """One update on one batch; the loss (and metrics) computed before it, as Keras returns."""
    return _on_batch(model, x, y, train_fn, sample_weight, class_weight)


def evaluate_on_batch(model, x, y, sample_weight=None):   # Keras' test_on_batch
    """Loss (and metrics) on one batch in inference mode."""
    return _on_batch(model, x, y, eval_fn, sample_weight)


def predict_on_batch(model, x):
    """Outputs for one batch in inference mode (a list for several outputs)."""
    arrays, n = check_inputs(model, x)
    _exact_batch(model, n, "the batch")
    fn = predict_fn(model)
    check_signature(fn, arrays)
    with trusted(fn):
        outs = fn(*arrays)
    return outs[0] if len(outs) == 1 else list(outs)
