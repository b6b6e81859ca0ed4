"""The timed implementations of one benchmarked model: symrnn, numpy and PyTorch.

Every implementation has a ``name``; trainers have ``prepare(x, y)`` (one
batch of int32 ids and int64 targets, ``[B, T]``) and ``train(n)`` (``n``
SGD steps on it, returns the last loss); generators have ``generate(n,
x_id)`` (the ``n`` greedy ids after ``x_id`` from zero states, one round).

What is timed for symrnn (:class:`SymrnnTrainer`) is
``symrnn.layers.fitting.train_fn(model)``, the compiled function that
``Model.fit`` and ``symrnn train`` call, on the model
:func:`symrnn.bench.spec.compiled_model` builds as the CLI does. Its
``trust_input`` is set to True (the inputs are prepared in exactly its
dtypes, so the call skips PyTensor's input conversion and checks; what a
fitting loop that checked its arrays once may do); nothing else differs.
The window length is static in the model's input shape, as in ``symrnn
train``, so there is one compiled model per ``T``; the batch size is not.

>>> import numpy as np
>>> from symrnn.bench.spec import compiled_model, twin_weights
>>> trainer = SymrnnTrainer("gru", vocab=5, hidden=4, embed=3, dtype="float64", backend="py")
>>> ids = np.array([[1, 2, 3], [0, 4, 4]], dtype="int32")
>>> trainer.prepare(ids, np.roll(ids, -1, axis=1).astype("int64"))
>>> bool(trainer.train(2) > 0), sorted(trainer.models)
(True, [3])
"""
import numpy as np

from ..layers import fitting
from ..layers.charmodels import char_model
from ..layers.generation import Generator, gumbel_noise
from . import numpy_twins, stepprofile
from .spec import LR, compiled_model, twin_weights
from .torch_twins import TorchTwin


def failure(impl, stage, err):
    """A failed row: which implementation, at what stage, and the error's first line."""
    message = (str(err).strip().splitlines() or [""])[0]
    return {"impl": impl.name, "stage": stage, "error": f"{type(err).__name__}: {message}"}


def initial_weights(model, vocab, hidden, embed, dtype):
    """The seeded initial weights every implementation starts from (symrnn's own init)."""
    return twin_weights(char_model(vocab, model, hidden=hidden, dtype=dtype, embed=embed))


class SymrnnTrainer:
    """symrnn's training step: ``fitting.train_fn`` of the CLI's model (see the module docstring)."""

    def __init__(self, model, vocab, hidden, embed, dtype, backend):
        self.name, self.backend = f"symrnn-{backend}", backend
        self.sizes = dict(model=model, hidden=hidden, dtype=dtype, embed=embed)
        self.vocab, self.models, self.profiled = vocab, {}, {}

    def model_for(self, seq):
        """The compiled model for windows of ``seq`` characters (built on first use)."""
        if seq not in self.models:
            sizes = self.sizes
            self.models[seq] = compiled_model(self.vocab, sizes["model"], sizes["hidden"], seq,
                                              sizes["dtype"], backend=self.backend,
                                              embed=sizes["embed"])
        return self.models[seq]

    def prepare(self, x, y):
        """Use this batch from now on; the first batch of a new ``T`` builds that model
        and its training function (Numba compiles it at the first call)."""
        fn = fitting.train_fn(self.model_for(x.shape[1]))
        fn.trust_input = True   # the arrays below are exactly the function's input types
        self.fn, self.x, self.y = fn, np.ascontiguousarray(x, "int32"), np.ascontiguousarray(y, "int64")

    def train(self, n):
        for _ in range(n):
            loss = self.fn(self.x, self.y)[0]
        return float(loss)

    def profiled_fn(self):
        """The training function of this batch's ``T`` with PyTensor's profiler on
        (:func:`symrnn.bench.stepprofile.profiled_copy`, made once per ``T``)."""
        seq = self.x.shape[1]
        if seq not in self.profiled:
            self.profiled[seq] = stepprofile.profiled_copy(self.fn)
        return self.profiled[seq]

    def step_profile(self, steps=stepprofile.STEPS, warmup=stepprofile.WARMUP):
        """Where a step on this batch spends its time: ``warmup`` then ``steps`` profiled
        steps (:func:`symrnn.bench.stepprofile.profile_steps`; they train as :meth:`train`)."""
        return stepprofile.profile_steps(self.profiled_fn(), (self.x, self.y), steps, warmup)

    def generator(self):
        """A :class:`symrnn.layers.generation.Generator` on the first model built."""
        return Generator(next(iter(self.models.values())), backend=self.backend)


class SymrnnPerCall:
    """symrnn's one character per call: ``Generator.feed([id])``, state carried, argmax."""

    def __init__(self, generator, backend):
        self.gen, self.name = generator, f"symrnn-{backend} 1/call"

    def generate(self, n, x_id=1):
        self.gen.reset()
        return per_call_ids(self.gen, n, x_id)


class SymrnnSampler:
    """symrnn's n characters per call: ``Generator.sample_ids(n, id)``, greedy."""

    def __init__(self, generator, backend):
        self.gen, self.name = generator, f"symrnn-{backend} n/call"

    def generate(self, n, x_id=1):
        self.gen.reset()
        return self.gen.sample_ids(n, x_id).tolist()


def per_call_ids(gen, n, x_id, noise=None, temperature=1.0):
    """The per-call loop :meth:`Generator.sample_ids` compiles: feed an id, pick the next
    one, ``argmax(log p / temperature + noise_t)`` (greedy without noise)."""
    ids = []
    for t in range(n):
        probs = gen.feed([x_id])
        if noise is None:
            x_id = int(np.argmax(probs))
        else:
            with np.errstate(divide="ignore"):   # log 0 = -inf: never drawn, as intended
                x_id = int(np.argmax(np.log(probs) / temperature + noise[t]))
        ids.append(x_id)
    return ids


def sampler_matches_per_call(gen, n, x_id=1, temperature=1.0, seed=0):
    """Whether ``sample_ids`` draws the per-call loop's ids: greedy, and with a seeded
    Gumbel noise sequence at ``temperature``."""
    gen.reset()
    greedy = gen.sample_ids(n, x_id).tolist()
    gen.reset()
    same = greedy == per_call_ids(gen, n, x_id)
    gen.reset()
    drawn = gen.sample_ids(n, x_id, temperature=temperature, seed=seed).tolist()
    gen.reset()
    probs = gen.feed([x_id])   # for the noise's shape and dtype: the sampler's own
    gen.reset()
    noise = gumbel_noise(n, len(probs), seed, probs.dtype)
    return same and drawn == per_call_ids(gen, n, x_id, noise, temperature)


class NumpyImpl:
    """The model by hand in numpy (:mod:`symrnn.bench.numpy_twins`)."""

    name = "numpy"

    def __init__(self, model, weights, lr=LR):
        self.model, self.weights = model, {k: v.copy() for k, v in weights.items()}
        self.lr = weights["W_h"].dtype.type(lr)

    def prepare(self, x, y):
        self.x, self.y = x, y

    def train(self, n):
        for _ in range(n):
            loss = numpy_twins.train_step(self.weights, self.model, self.x, self.y, self.lr)
        return loss

    def generate(self, n, x_id=1):
        states, ids = numpy_twins.zero_states(self.weights, self.model), []
        for _ in range(n):
            probs, states = numpy_twins.generate_step(self.weights, self.model, x_id, states)
            x_id = int(probs.argmax())
            ids.append(x_id)
        return ids


class TorchImpl:
    """The model in PyTorch eager (:mod:`symrnn.bench.torch_twins`)."""

    name = "torch"

    def __init__(self, torch, model, weights, lr=LR):
        self.torch, self.twin = torch, TorchTwin(torch, model, weights, lr)

    def prepare(self, x, y):
        self.x = self.torch.from_numpy(np.ascontiguousarray(x, "int64"))
        self.y = self.torch.from_numpy(np.ascontiguousarray(y, "int64"))

    def train(self, n):
        for _ in range(n):
            loss = self.twin.train_step(self.x, self.y)
        return float(loss)

    def generate(self, n, x_id=1):
        return self.twin.generate(n, x_id)
