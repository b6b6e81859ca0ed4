"""compile / fit / evaluate / predict for models.

Arrays are checked once per call (shapes against the model's static shapes,
dtypes, finite values) and then fed batch by batch to functions compiled
through :mod:`symrnn.graph.training`. The batch dim is dynamic, so the last,
partial batch is used too (not with a fixed batch size, see :mod:`.stateful`).
"""
import numpy as np
import pytensor.tensor as pt
from tqdm.auto import tqdm

from ..errors import ConfigError, ShapeError
from ..graph import losses, parallel
from ..graph.optimizers import get_optimizer
from ..graph.training import compile_function, train_function
from .base import as_list
from .stateful import check_batches, check_shuffle


class History:
    """Per-epoch logs: ``history["loss"][e]`` is epoch e's mean training loss."""

    def __init__(self):
        self.history, self.epoch = {}, []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


# -- compile --------------------------------------------------------------------
def compile_model(model, optimizer, loss, backend):
    names = as_list(loss) if isinstance(loss, (list, tuple)) else [loss] * len(model.outputs)
    if len(names) != len(model.outputs):
        raise ConfigError(f"{len(names)} losses for {len(model.outputs)} outputs; "
                          "give one loss, or one per output")
    model.loss_fns = [losses.get_loss(n) for n in names]  # validates names now
    model.loss_names = [n if isinstance(n, str) else getattr(n, "__name__", "loss") for n in names]
    model.sparse_targets = [losses.takes_ids(n) for n in names]
    model.optimizer = get_optimizer(optimizer)
    model.backend = backend
    model._functions = {}


def _require_compiled(model):
    if getattr(model, "loss_fns", None) is None:
        raise ConfigError("the model is not compiled; call model.compile(optimizer, loss) first")


def _loss_graph(model, training):
    inputs, outputs, updates = model.build_graph(training)
    targets, per_output = [], []
    for out, fn, sparse in zip(outputs, model.loss_fns, model.sparse_targets):
        if sparse:
            target = pt.tensor(dtype="int64", shape=(None,) * (out.ndim - 1), name="target_ids")
        else:
            target = pt.tensor(dtype=out.dtype, shape=(None,) * out.ndim, name="target")
        targets.append(target)
        per_output.append(losses.mean(fn(out, target)))
    total = per_output[0]
    for item in per_output[1:]:
        total = total + item
    return inputs + targets, total, per_output, updates


def train_fn(model):
    _require_compiled(model)
    if "train" not in model._functions:
        inputs, total, per_output, extra = _loss_graph(model, training=True)
        model._functions["train"] = train_function(
            inputs, total, model.trainable_params, model.optimizer.updates,
            outputs=[total] + per_output, backend=model.backend, extra_updates=extra)
    return model._functions["train"]


def eval_fn(model):
    _require_compiled(model)
    if "eval" not in model._functions:
        inputs, total, per_output, extra = _loss_graph(model, training=False)  # extra: stateful states
        model._functions["eval"] = compile_function(inputs, [total] + per_output, updates=extra,
                                                    backend=model.backend)
    return model._functions["eval"]


def predict_fn(model, backend=None):
    backend = backend if backend is not None else getattr(model, "backend", None)
    key = ("predict", backend)
    if key not in model._functions:
        inputs, outputs, extra = model.build_graph(training=False)
        model._functions[key] = compile_function(inputs, outputs, updates=extra, backend=backend)
    return model._functions[key]


# -- checking arrays -----------------------------------------------------------
def _as_arrays(data, count, what):
    arrays = list(data) if isinstance(data, (list, tuple)) else [data]
    if len(arrays) != count:
        raise ShapeError(f"the model has {count} {what}(s), got {len(arrays)} array(s); "
                         f"pass a list of {count} arrays")
    return [np.asarray(a) for a in arrays]


def _check_array(arr, shape, dtype, label):
    """``arr`` cast to ``dtype`` after checking it against ``shape`` (None = any)."""
    if arr.ndim == len(shape) - 1 and shape[-1] == 1:
        arr = arr[..., None]                      # (N,) for an Input((1,))
    if arr.ndim == len(shape) + 1 and arr.shape[-1] == 1:
        arr = arr[..., 0]                         # Keras' sparse (N, T, 1) targets
    if arr.ndim != len(shape) or any(w is not None and w != d for w, d in zip(shape, arr.shape)):
        raise ShapeError(f"{label}: expected shape {tuple(shape)} (None = any), got {arr.shape}")
    if np.dtype(dtype).kind in "iu":
        if arr.dtype.kind not in "iu":
            raise ShapeError(f"{label}: expected integer ids, got dtype {arr.dtype}; "
                             "cast with .astype(int)")
    elif arr.dtype.kind not in "iufb" or not np.all(np.isfinite(arr)):
        raise ShapeError(f"{label}: needs finite numbers (dtype {arr.dtype}); "
                         "remove NaN/inf before fitting")
    return arr.astype(dtype, copy=False)


def check_inputs(model, x):
    arrays = _as_arrays(x, len(model.inputs), "input")
    return [_check_array(a, (None,) + t.shape[1:], t.dtype, f"input {t.name or i}")
            for i, (a, t) in enumerate(zip(arrays, model.inputs))]


def check_targets(model, y):
    arrays = _as_arrays(y, len(model.outputs), "output")
    checked = []
    for a, t, sparse, out_name in zip(arrays, model.outputs, model.sparse_targets, model.output_names):
        if sparse:
            arr = _check_array(a, (None,) + t.shape[1:-1], "int64", f"target for {out_name}")
            if arr.size and (arr.min() < 0 or arr.max() >= t.shape[-1]):
                raise ShapeError(f"target for {out_name}: ids must be in [0, {t.shape[-1]}), "
                                 f"got {arr.min()}..{arr.max()}")
        else:
            arr = _check_array(a, (None,) + t.shape[1:], t.dtype, f"target for {out_name}")
        checked.append(arr)
    return checked


def _check_lengths(arrays):
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ShapeError(f"all inputs and targets need the same number of samples, got {sorted(lengths)}")
    return lengths.pop()


# -- loops ----------------------------------------------------------------------
def _batches(n, batch_size, order=None):
    order = np.arange(n) if order is None else order
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _run(fn, arrays, batch_size, order=None, bar=None):
    """Sample-weighted mean of every output of ``fn`` over the batches."""
    n, sums, seen = len(arrays[0]), None, 0
    for idx in _batches(n, batch_size, order):
        values = np.array([float(v) for v in fn(*[a[idx] for a in arrays])])
        sums = values * len(idx) if sums is None else sums + values * len(idx)
        seen += len(idx)
        if bar is not None:
            bar.update(len(idx))
            bar.set_postfix(loss=f"{sums[0] / seen:.4f}")
    return sums / max(seen, 1)


def _logs(model, values, prefix=""):
    logs = {f"{prefix}loss": float(values[0])}
    if len(model.outputs) > 1:
        for name, value in zip(model.output_names, values[1:]):
            logs[f"{prefix}{name}_loss"] = float(value)
    return logs


def _split(arrays, validation_split):
    if not 0.0 <= validation_split < 1.0:
        raise ConfigError(f"validation_split must be in [0, 1), got {validation_split}")
    n_val = int(round(len(arrays[0]) * validation_split))
    if n_val == 0:
        return arrays, None
    return [a[:-n_val] for a in arrays], [a[-n_val:] for a in arrays]  # Keras: the last samples


def is_batch_source(x):
    """True for an iterator/generator of ``(x_batch, y_batch)`` (e.g. a BatchMixer)."""
    return hasattr(x, "__next__")


def _steps(source, steps_per_epoch):
    if steps_per_epoch is None:
        if not hasattr(source, "__len__"):
            raise ConfigError("fit on a generator needs steps_per_epoch=N (batches per epoch); "
                              "this source has no len() to take it from")
        steps_per_epoch = len(source)
    if int(steps_per_epoch) <= 0:
        raise ConfigError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
    return int(steps_per_epoch)


def _run_source(model, fn, source, steps, bar=None):
    """Like :func:`_run`, but each batch comes from ``source`` and is checked as it arrives
    (every batch is new data, so there is no once-per-fit shortcut)."""
    sums, seen = None, 0
    for _ in range(steps):
        try:
            xb, yb = next(source)
        except StopIteration:
            break  # a finite source ends the epoch early
        arrays = check_inputs(model, xb) + check_targets(model, yb)
        rows = _check_lengths(arrays)
        values = np.array([float(v) for v in fn(*arrays)])
        sums = values * rows if sums is None else sums + values * rows
        seen += rows
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{sums[0] / seen:.4f}")
    if seen == 0:
        raise ShapeError("the batch source yielded no batches; check that it is not exhausted")
    return sums / seen


def _fit_source(model, source, epochs, steps_per_epoch, validation_data, verbose, devices=None):
    fn = parallel.split_batches(train_fn(model), devices)   # each batch checked as it comes
    steps, history = _steps(source, steps_per_epoch), History()
    val = None
    if validation_data is not None:
        val = check_inputs(model, validation_data[0]) + check_targets(model, validation_data[1])
        _check_lengths(val)
    for epoch in range(int(epochs)):
        with tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch",
                  disable=not verbose, leave=True) as bar:
            logs = _logs(model, _run_source(model, fn, source, steps, bar))
            if val is not None:
                logs.update(_logs(model, _run(eval_fn(model), val, 256), "val_"))
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
        history.append(epoch, logs)
    return history


def fit(model, x, y=None, batch_size=32, epochs=1, shuffle=True, validation_split=0.0,
        validation_data=None, verbose=1, seed=None, steps_per_epoch=None, devices=None):
    """Train on arrays ``(x, y)``, or on a source of batches: ``fit(mixer, epochs=...)``
    where ``x`` yields ``(x_batch, y_batch)`` and ``y`` is None (Keras' fit_generator).
    ``devices=N`` splits every batch across N JAX devices (:mod:`symrnn.graph.parallel`)."""
    _require_compiled(model)
    devices = parallel.check_devices(devices, model.backend)
    if int(batch_size) <= 0 or int(epochs) < 0:
        raise ConfigError(f"batch_size must be positive and epochs >= 0, got {batch_size}, {epochs}")
    if is_batch_source(x):
        if y is not None:
            raise ConfigError("x is a source of (x, y) batches, so y must be None")
        if validation_split:
            raise ConfigError("validation_split needs arrays; pass validation_data=(x_val, y_val)")
        return _fit_source(model, x, epochs, steps_per_epoch, validation_data, verbose, devices)
    if y is None:
        raise ConfigError("fit needs targets y (or x must be a generator of (x, y) batches)")
    arrays = check_inputs(model, x) + check_targets(model, y)
    _check_lengths(arrays)
    arrays, val = _split(arrays, validation_split)
    if validation_data is not None:
        val = check_inputs(model, validation_data[0]) + check_targets(model, validation_data[1])
        _check_lengths(val)
    shuffle = check_shuffle(model, shuffle)
    batch_size = check_batches(model, len(arrays[0]), batch_size)
    parallel.check_batches(len(arrays[0]), batch_size, devices)
    if val is not None:
        check_batches(model, len(val[0]), batch_size, "validation samples")
    rng, history = np.random.default_rng(seed), History()
    fn = parallel.split_batches(train_fn(model), devices)
    n = len(arrays[0])
    for epoch in range(int(epochs)):
        order = rng.permutation(n) if shuffle else None
        with tqdm(total=n, desc=f"Epoch {epoch + 1}/{epochs}", unit="sample",
                  disable=not verbose, leave=True) as bar:
            logs = _logs(model, _run(fn, arrays, int(batch_size), order, bar))
            if val is not None:
                logs.update(_logs(model, _run(eval_fn(model), val, int(batch_size)), "val_"))
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
        history.append(epoch, logs)
    return history


def evaluate(model, x, y, batch_size=32):
    """Mean loss in inference mode: a float, or [total, *per_output] for several outputs."""
    arrays = check_inputs(model, x) + check_targets(model, y)
    batch_size = check_batches(model, _check_lengths(arrays), batch_size)
    values = _run(eval_fn(model), arrays, int(batch_size))
    return float(values[0]) if len(model.outputs) == 1 else [float(v) for v in values]


def predict(model, x, batch_size=32, backend=None):
    """Outputs for ``x`` in inference mode, batch by batch (a list for several outputs)."""
    arrays = check_inputs(model, x)
    n = _check_lengths(arrays)
    batch_size = check_batches(model, n, batch_size)
    fn, chunks = predict_fn(model, backend), []
    for idx in _batches(n, int(batch_size)):
        chunks.append(fn(*[a[idx] for a in arrays]))
    outs = [np.concatenate([c[i] for c in chunks]) for i in range(len(model.outputs))]
    return outs[0] if len(outs) == 1 else outs
