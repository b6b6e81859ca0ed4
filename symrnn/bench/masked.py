"""``symrnn bench --masked``: masked variable-length training, against PyTorch's packed sequences.

Each case is a batch of ``B`` sequences of ids with lengths uniform in
``[T // 2, T]`` (a fixed seed), post-padded with id 0 to ``T`` by
:func:`symrnn.data.pad_sequences`, and one model per cell (``--cell gru lstm``)
and kind (``--kind``):

- ``one-to-one``: ``GRU/LSTM(H, return_sequences=True) ->
  TimeDistributed(Dense(V, softmax))``, a next-id target per step (0 on padding);
- ``many-to-one``: ``GRU/LSTM(H) -> Dense(10, softmax)`` on the last real
  step's output, one class per row.

symrnn (:class:`MaskedSymrnnTrainer`) is the layer model as a user writes it,
``Sequential([Embedding(V, E, mask_zero=True, input_length=T), GRU or LSTM(H,
return_sequences=...), head])`` with logistic sigmoid gates (what PyTorch
has), compiled with plain SGD and ``sparse_categorical_crossentropy``; the
loss averages over real steps only (the mask comes from the ids). What is
timed is ``fitting.train_fn(model)`` with ``trust_input``, exactly as for
the per-model rows (:class:`symrnn.bench.impls.SymrnnTrainer`).

PyTorch (:class:`MaskedTorchTwin`) is what its users write for the same
thing, eager: ``nn.Embedding(V, E, padding_idx=0)`` ->
``pack_padded_sequence(..., enforce_sorted=False)`` -> ``nn.GRU/nn.LSTM``
(``batch_first``) -> one-to-one: ``pad_packed_sequence`` -> ``nn.Linear`` ->
``cross_entropy(ignore_index=0)`` (padding's targets are 0, real ids are not);
many-to-one: the packed RNN's ``h_n`` -> ``nn.Linear`` -> ``cross_entropy``;
``torch.optim.SGD``. Its weights are symrnn's initial ones, mapped as
:mod:`symrnn.bench.torch_twins` maps them (transposed, GRU gates reordered,
one bias; ``nn.GRU`` resets after its recurrent matmul, the one difference in
the function, same FLOPs). The lengths are computed from the ids when a batch
is given (the user's data loader has them), not in the timed step. A second
PyTorch row, ``torch-padded``, runs the same model over the padded batch
without packing (every ``B * T`` step, the loss still over real steps; exact
for post-padding): at B=64, T=40 PyTorch's CPU RNN took 2 to 3.5 times as long
for a packed batch as for the padded one, so this row is the faster way a
PyTorch user could train these batches.

Throughput counts real characters only (the sum of the lengths, per batch);
padded steps/s counts every one of the ``B * T`` steps. Ratios to PyTorch
(``x_torch``: to the packed row; ``x_torch_padded``: to the padded one) are
medians of alternating rounds (:func:`symrnn.bench.timing.alternate`).

Once per case the first step's loss (initial weights, first batch) of every
implementation is checked against :func:`numpy_masked_loss`, the masked loss
computed in float64 numpy from the same weights: symrnn for both cells,
PyTorch (both rows) for the LSTM; for the GRU, PyTorch copies whose reset gate
is saturated (``r = 1``, where the two GRUs compute the same function) are
checked against numpy on those weights.

>>> lengths, x, y = masked_batch(vocab=5, batch=3, seq=4, kind="one-to-one", seed=0)
>>> x.dtype, y.dtype, x.shape == y.shape == (3, 4)
(dtype('int32'), dtype('int64'), True)
>>> bool(((x != 0).sum(axis=1) == lengths).all() and ((y != 0).sum(axis=1) == lengths).all())
True
"""
import sys

import numpy as np

from ..data import pad_sequences
from ..graph.optimizers import SGD
from ..layers import GRU, LSTM, Dense, Embedding, Sequential, TimeDistributed
from . import numpy_twins
from .impls import SymrnnTrainer, failure
from .spec import CELL, LR, set_twin_weights, twin_weights
from .stepprofile import print_profile
from .timing import alternate, ratio, summary, timed
from .torch_twins import RNN_CLASS, copy_weights

ONE_TO_ONE, MANY_TO_ONE = "one-to-one", "many-to-one"
N_CLASSES = 10   # many-to-one: classes per row
PAD = 0          # the padding id (Embedding(mask_zero=True)), and padding's target
LOSS_RTOL = 1e-5
LAYERS = {"gru": GRU, "lstm": LSTM}


def n_outputs(kind, vocab):
    return vocab if kind == ONE_TO_ONE else N_CLASSES


def masked_batch(vocab, batch, seq, kind, seed):
    """``(lengths [B], ids int32 [B, T], targets int64)``: ids in ``1..V-1``, post-padded
    with 0; targets are the next ids ``[B, T]`` (0 on padding) or a class per row ``[B]``."""
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    lengths = rng.integers(max(1, seq // 2), seq + 1, size=batch)
    text = rng.integers(1, vocab, size=(batch, seq + 1))
    x = pad_sequences([row[:n] for row, n in zip(text, lengths)], maxlen=seq, padding="post")
    if kind == ONE_TO_ONE:
        y = pad_sequences([row[1:n + 1] for row, n in zip(text, lengths)], maxlen=seq,
                          padding="post", dtype="int64")
    else:
        y = rng.integers(0, N_CLASSES, size=batch)
    return lengths, np.ascontiguousarray(x, "int32"), np.ascontiguousarray(y, "int64")


# --------------------------------------------------------------------- symrnn

def masked_model(cell, kind, vocab, hidden, embed, seq, dtype="float32", backend=None, lr=LR,
                 seed=42, compile=True):
    """The masked layer model of a case (see the module docstring), compiled with SGD and
    sparse cross-entropy unless ``compile=False``."""
    seqs = kind == ONE_TO_ONE
    dense = Dense(n_outputs(kind, vocab), activation="softmax", name="output", seed=seed + 100,
                  dtype=dtype)
    model = Sequential([
        Embedding(vocab, embed, mask_zero=True, input_length=seq, name="embedding", seed=seed,
                  dtype=dtype),
        LAYERS[cell](hidden, return_sequences=seqs, inner_activation="sigmoid", name="rnn_0",
                     seed=seed + 1, dtype=dtype),
        TimeDistributed(dense, name="timedistributed") if seqs else dense,
    ], name=f"masked_{cell}")
    if compile:
        model.compile(SGD(lr=lr), "sparse_categorical_crossentropy", backend=backend)
    return model


def initial_weights(cell, kind, vocab, hidden, embed, dtype):
    """The masked model's seeded initial weights by role (:func:`symrnn.bench.spec.twin_weights`)."""
    return twin_weights(masked_model(cell, kind, vocab, hidden, embed, None, dtype, compile=False))


class MaskedSymrnnTrainer(SymrnnTrainer):
    """``fitting.train_fn`` of the masked layer model, from ``weights``; ``prepare`` and
    ``train`` as :class:`symrnn.bench.impls.SymrnnTrainer`'s (``trust_input``)."""

    def __init__(self, cell, kind, vocab, hidden, embed, dtype, backend, weights=None):
        super().__init__(cell, vocab, hidden, embed, dtype, backend)
        self.kind, self.weights = kind, weights

    def model_for(self, seq):
        if seq not in self.models:
            s = self.sizes
            model = masked_model(s["model"], self.kind, self.vocab, s["hidden"], s["embed"], seq,
                                 s["dtype"], backend=self.backend)
            if self.weights is not None:
                set_twin_weights(model, self.weights)
            self.models[seq] = model
        return self.models[seq]


# -------------------------------------------------------------------- PyTorch

class MaskedTorchTwin:
    """The masked model in PyTorch eager with packed sequences (see the module docstring);
    ``packed=False``: the RNN runs over the padded batch (see :data:`TORCH_IMPLS`)."""

    def __init__(self, torch, cell, kind, weights, lr=LR, packed=True):
        nn = torch.nn
        self.torch, self.model, self.kind, self.packed = torch, cell, kind, packed
        self.hidden = len(weights["W_h"])
        self.embedding = nn.Embedding(*weights["E"].shape, padding_idx=PAD)
        self.rnn = getattr(nn, RNN_CLASS[CELL[cell]])(weights["E"].shape[1], self.hidden,
                                                      batch_first=True)
        self.output = nn.Linear(self.hidden, weights["W_y"].shape[1])
        self.modules = [self.embedding, self.rnn, self.output]
        for module in self.modules:
            module.to(getattr(torch, weights["W_h"].dtype.name))
        copy_weights(torch, self, weights)
        self.rnn.bias_hh_l0.requires_grad_(False)   # symrnn has one bias: this one stays zero
        trained = [p for m in self.modules for p in m.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(trained, lr=lr)

    def loss(self, x, lengths, y):
        """Mean cross-entropy over real steps (one-to-one) or rows (many-to-one) of long ids
        ``x [B, T]`` with CPU long ``lengths [B]``."""
        functional, rnn_utils = self.torch.nn.functional, self.torch.nn.utils.rnn
        if not self.packed:
            return self.padded_loss(x, lengths, y)
        packed = rnn_utils.pack_padded_sequence(self.embedding(x), lengths, batch_first=True,
                                                enforce_sorted=False)
        out, h_n = self.rnn(packed)
        if self.kind == ONE_TO_ONE:
            hs, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            logits = self.output(hs)
            return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                            ignore_index=PAD)
        h_last = (h_n[0] if isinstance(h_n, tuple) else h_n)[-1]   # LSTM: (h_n, c_n)
        return functional.cross_entropy(self.output(h_last), y)

    def padded_loss(self, x, lengths, y):
        """The same loss with the RNN over every padded step (exact for post-padding only:
        a real step never follows padding), reading the last real step by its length."""
        functional = self.torch.nn.functional
        hs, _ = self.rnn(self.embedding(x))
        if self.kind == ONE_TO_ONE:
            logits = self.output(hs)
            return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                            ignore_index=PAD)
        h_last = hs[self.torch.arange(len(hs)), lengths - 1]
        return functional.cross_entropy(self.output(h_last), y)

    def train_step(self, x, lengths, y):
        """One SGD step; the loss before it (a 0-d tensor)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, lengths, y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def torch_batch(torch, x, y):
    """Long tensors ``(ids, lengths, targets)`` of a padded batch; the lengths count the
    non-padding ids of each row (what a PyTorch data loader hands over with the batch)."""
    lengths = (np.asarray(x) != PAD).sum(axis=1).astype("int64")
    return (torch.from_numpy(np.ascontiguousarray(x, "int64")), torch.from_numpy(lengths),
            torch.from_numpy(np.ascontiguousarray(y, "int64")))


#: The PyTorch rows: packed sequences (``torch``, what the ratios are to), and the same
#: model run over the padded batch without packing (``torch-padded``: more steps, but
#: PyTorch's CPU RNN takes longer over a packed batch than over the padded one).
TORCH_IMPLS = {"torch": True, "torch-padded": False}


class MaskedTorchImpl:
    """:class:`MaskedTorchTwin` as a timed trainer: ``prepare(x, y)``, ``train(n)``;
    ``name`` is a key of :data:`TORCH_IMPLS`."""

    def __init__(self, torch, cell, kind, weights, lr=LR, name="torch"):
        self.torch, self.name = torch, name
        self.twin = MaskedTorchTwin(torch, cell, kind, weights, lr, packed=TORCH_IMPLS[name])

    def prepare(self, x, y):
        self.x, self.lengths, self.y = torch_batch(self.torch, x, y)

    def train(self, n):
        for _ in range(n):
            loss = self.twin.train_step(self.x, self.lengths, self.y)
        return float(loss)


# ---------------------------------------------------------------- loss check

def numpy_masked_loss(weights, cell, kind, x, lengths, y):
    """The masked loss in float64 numpy: the unmasked recurrence
    (:func:`symrnn.bench.numpy_twins.forward`) is the masked one on every real step of a
    post-padded row (padding only follows them), so the loss reads ``h`` at the real
    steps (one-to-one) or at each row's last real step (many-to-one)."""
    w = {role: np.asarray(v, "float64") for role, v in weights.items()}
    _, hs, _, _ = numpy_twins.forward(w, cell, np.asarray(x))   # hs: [T, B, H]
    lengths = np.asarray(lengths)
    if kind == ONE_TO_ONE:
        t, b = np.nonzero(np.arange(hs.shape[0])[:, None] < lengths[None, :])
        h, targets = hs[t, b], np.asarray(y)[b, t]
    else:
        h, targets = hs[lengths - 1, np.arange(len(lengths))], np.asarray(y)
    logits = h @ w["W_y"] + w["b_y"]
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(h)), targets].mean())


def saturated_reset_gate(weights):
    """GRU weights whose reset gate is 1 (a bias of 50 on its block of Keras' (z, r, h)):
    there ``nn.GRU``'s ``r * (h . U)`` equals Keras' ``(r * h) . U``."""
    hidden = len(weights["W_h"])
    found = {role: np.array(v) for role, v in weights.items()}
    found["b"][hidden:2 * hidden] = 50.0
    return found


def loss_check(first_losses, weights, cell, kind, batch, torch):
    """Every first-step loss against :func:`numpy_masked_loss` on the same weights (see the
    module docstring): ``{"entries": [{"impl", "weights", "loss", "numpy", "rel_diff"}],
    "rtol", "ok"}``."""
    lengths, x, y = batch
    expected = numpy_masked_loss(weights, cell, kind, x, lengths, y)
    gru = CELL[cell] == "gru"
    entries = [{"impl": name, "weights": "initial", "loss": loss, "numpy": expected}
               for name, loss in first_losses.items() if not (gru and name in TORCH_IMPLS)]
    if torch is not None and gru:   # nn.GRU on the shared weights is a different function
        saturated = saturated_reset_gate(weights)
        saturated_expected = numpy_masked_loss(saturated, cell, kind, x, lengths, y)
        for name, packed in TORCH_IMPLS.items():
            if name in first_losses:
                twin = MaskedTorchTwin(torch, cell, kind, saturated, 0.0, packed)
                loss = float(twin.loss(*torch_batch(torch, x, y)).detach())
                entries.append({"impl": name, "weights": "reset gate saturated", "loss": loss,
                                "numpy": saturated_expected})
    for entry in entries:
        entry["rel_diff"] = abs(entry["loss"] - entry["numpy"]) / abs(entry["numpy"])
    return {"entries": entries, "rtol": LOSS_RTOL,
            "ok": all(e["rel_diff"] <= LOSS_RTOL for e in entries)}


# ---------------------------------------------------------------------- cases

def start(live, symrnn, x, y, failures):
    """Give every implementation the batch and take its first step:
    ``({name: build + first step seconds}, {name: first loss})``; a symrnn backend that
    fails is dropped with a failed row (anything else is a bug)."""
    seconds, losses = {}, {}
    for impl in list(live):
        try:
            prepare_s, _ = timed(impl.prepare, x, y)
            step_s, loss = timed(impl.train, 1)
            seconds[impl.name], losses[impl.name] = prepare_s + step_s, loss
        except Exception as err:   # noqa: BLE001 (a backend's own error, reported as a row)
            if impl not in symrnn:
                raise
            failures.append(failure(impl, "masked training", err))
            live.remove(impl)
    return seconds, losses


def run_case(args, torch, cell, kind, seq, batch):
    """One case's rows: training rates, the loss check, first steps, failures."""
    lengths, x, y = masked_batch(args.vocab, batch, seq, kind, args.seed)
    real, padded = int(lengths.sum()), batch * seq
    weights = initial_weights(cell, kind, args.vocab, args.hidden, args.embed, args.dtype)
    symrnn = [MaskedSymrnnTrainer(cell, kind, args.vocab, args.hidden, args.embed, args.dtype,
                                  backend, weights) for backend in args.backend]
    live = symrnn + ([MaskedTorchImpl(torch, cell, kind, weights, name=name)
                      for name in TORCH_IMPLS] if torch else [])
    failures = []
    first_steps, first_losses = start(live, symrnn, x, y, failures)
    check = loss_check(first_losses, weights, cell, kind, (lengths, x, y), torch)
    rates = alternate(live, lambda impl: impl.train, real, args.repeats, args.round_seconds)
    medians = {name: float(np.median(r)) for name, r in rates.items()}
    rows = [{"cell": cell, "kind": kind, "seq": seq, "batch": batch, "impl": name, **summary(r),
             "padded_steps_per_s": medians[name] * padded / real,
             "x_torch": ratio(medians[name], medians.get("torch")),
             "x_torch_padded": ratio(medians[name], medians.get("torch-padded"))}
            for name, r in rates.items()]
    return {"cell": cell, "kind": kind, "seq": seq, "batch": batch,
            "outputs": n_outputs(kind, args.vocab), "lengths": lengths.tolist(), "real_chars": real, "padded_steps": padded,
            "train": rows, "loss_check": check, "first_step_s": first_steps, "failures": failures}


def run_masked(args, torch):
    """Every case of ``--masked``: ``{"sizes", "cases"}`` (the JSON's ``masked`` key)."""
    sizes = {k: getattr(args, k) for k in ("vocab", "embed", "hidden", "dtype", "seed")}
    cases = []
    for cell in args.models:
        for kind in args.kinds:
            for seq in args.seq:
                for batch in args.batch:
                    cases.append(run_case(args, torch, cell, kind, seq, batch))
                    sys.stdout.flush()
    return {"sizes": {**sizes, "classes": N_CLASSES}, "cases": cases}


def profile_masked(args, steps=30):
    """PyTensor's op-level profile of the first masked case's training function (first
    cell and kind, largest T and B, first backend)."""
    cell, kind = args.models[0], args.kinds[0]
    weights = initial_weights(cell, kind, args.vocab, args.hidden, args.embed, args.dtype)
    trainer = MaskedSymrnnTrainer(cell, kind, args.vocab, args.hidden, args.embed, args.dtype,
                                  args.backend[0], weights)
    _, x, y = masked_batch(args.vocab, max(args.batch), max(args.seq), kind, args.seed)
    print(f"--masked {cell} {kind}, B={len(x)}, T={x.shape[1]}, {int((x != PAD).sum())} real steps, "
          f"backend {args.backend[0]}")
    trainer.prepare(x, y)
    print_profile(trainer, steps)
    if args.backend[0] == "numba":
        print(f"(`python -m symrnn.bench.recurrence_op {len(x)} {x.shape[1]} {args.hidden}` times "
              "the recurrence kernels alone, with and without a step mask, against PyTorch's "
              "layer)")
    return 0
