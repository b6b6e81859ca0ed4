"""The benchmarked models in PyTorch eager, holding a copy of symrnn's initial weights.

``nn.Embedding(V, embed)`` (or one-hot rows for ``lesson``) ->
``nn.RNN(relu)``/``nn.GRU``/``nn.LSTM`` (``batch_first``) -> ``nn.Linear(H, V)``,
``cross_entropy`` averaged over every character, ``torch.optim.SGD``: what a
PyTorch user writes for the models ``symrnn train`` builds.

Weight copy (:func:`copy_weights`): PyTorch keeps weights as ``[out, in]``,
so each matrix goes in transposed; its gate order is GRU ``(r, z, n)`` where
symrnn/Keras have ``(z, r, h)`` (:func:`torch_gate_order` moves the blocks),
and LSTM ``(i, f, g, o)``, the same as ``(i, f, c, o)``. symrnn's one bias
goes into ``bias_ih``; ``bias_hh`` is zero and frozen (not trained), so both
models have the same weights and take the same SGD step.

One difference remains: ``nn.GRU`` applies its reset gate after the recurrent
matmul, ``n = tanh(x_n + r * (h . U_h + b_hn))``, where symrnn's (Keras') GRU
multiplies first, ``tanh(x_h + (r * h) . U_h)``. Same FLOPs, a slightly
different function: the two agree exactly only where ``r = 1`` (the test
saturates the reset gate to check the copy).

PyTorch is optional (:func:`load_torch`); the bench leaves its rows out
without it. Install the CPU build with exactly ``pip install torch==2.13.0``.
"""
import importlib

import numpy as np

from .spec import CELL, uses_embedding

TORCH_PIN = "torch==2.13.0"
RNN_CLASS = {"simple": "RNN", "gru": "GRU", "lstm": "LSTM"}


def load_torch():
    """The ``torch`` module, or None when it is not installed (or does not import)."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def torch_gate_order(model, hidden):
    """Columns of a Keras-order gate matrix in PyTorch's order: GRU (z, r, h) -> (r, z, n);
    simple RNN and LSTM keep theirs.

    >>> torch_gate_order("gru", 2).tolist(), torch_gate_order("lstm", 1).tolist()
    ([2, 3, 0, 1, 4, 5], [0, 1, 2, 3])
    """
    n_gates = {"simple": 1, "gru": 3, "lstm": 4}[CELL[model]]
    blocks = [np.arange(k * hidden, (k + 1) * hidden) for k in range(n_gates)]
    if CELL[model] == "gru":
        blocks = [blocks[1], blocks[0], blocks[2]]
    return np.concatenate(blocks)


class TorchTwin:
    """The model ``model`` (a CLI model name) in PyTorch, from role-keyed ``weights``."""

    def __init__(self, torch, model, weights, lr):
        self.torch, self.model = torch, model
        self.dtype = getattr(torch, weights["W_h"].dtype.name)
        self.vocab_size, self.hidden = weights["W_y"].shape[1], len(weights["W_h"])
        nn = torch.nn
        self.embedding = nn.Embedding(*weights["E"].shape) if uses_embedding(model) else None
        kwargs = {"nonlinearity": "relu"} if CELL[model] == "simple" else {}
        self.rnn = getattr(nn, RNN_CLASS[CELL[model]])(len(weights["W_x"]), self.hidden,
                                                       batch_first=True, **kwargs)
        self.output = nn.Linear(self.hidden, self.vocab_size)
        self.modules = [m for m in (self.embedding, self.rnn, self.output) if m is not None]
        for module in self.modules:
            module.to(self.dtype)
        copy_weights(torch, self, weights)
        self.rnn.bias_hh_l0.requires_grad_(False)   # symrnn has one bias: this one stays zero
        trained = [p for m in self.modules for p in m.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(trained, lr=lr)

    def rows(self, ids):
        """The recurrent layer's input rows for long ids ``[B, T]``."""
        if self.embedding is not None:
            return self.embedding(ids)
        return self.torch.nn.functional.one_hot(ids, self.vocab_size).to(self.dtype)

    def loss(self, x, y):
        """Mean cross-entropy per character of long ids ``x`` against targets ``y``."""
        hs, _ = self.rnn(self.rows(x))
        logits = self.output(hs)
        return self.torch.nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size),
                                                      y.reshape(-1))

    def train_step(self, x, y):
        """One SGD step; the loss before it (a 0-d tensor)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def generate(self, n_chars, x_id):
        """Greedy: ``n_chars`` ids after ``x_id``, one step per character, from zero states."""
        torch, state, ids = self.torch, None, []
        with torch.inference_mode():
            for _ in range(n_chars):
                h, state = self.rnn(self.rows(torch.tensor([[x_id]])), state)
                probs = torch.softmax(self.output(h[0, 0]), dim=-1)
                x_id = int(probs.argmax())
                ids.append(x_id)
        return ids

    def weights(self):
        """The trained weights back in symrnn's roles and layouts (numpy)."""
        order = np.argsort(torch_gate_order(self.model, self.hidden))
        rnn = {name: p.detach().numpy() for name, p in self.rnn.named_parameters()}
        found = {"W_x": rnn["weight_ih_l0"].T[:, order], "W_h": rnn["weight_hh_l0"].T[:, order],
                 "b": rnn["bias_ih_l0"][order], "W_y": self.output.weight.detach().numpy().T,
                 "b_y": self.output.bias.detach().numpy()}
        if self.embedding is not None:
            found["E"] = self.embedding.weight.detach().numpy()
        return {role: np.array(value) for role, value in found.items()}


def copy_weights(torch, twin, weights):
    """Load role-keyed symrnn ``weights`` into ``twin``'s modules (see the module docstring)."""
    order = torch_gate_order(twin.model, twin.hidden)
    values = {(twin.rnn, "weight_ih_l0"): weights["W_x"][:, order].T,
              (twin.rnn, "weight_hh_l0"): weights["W_h"][:, order].T,
              (twin.rnn, "bias_ih_l0"): weights["b"][order],
              (twin.rnn, "bias_hh_l0"): np.zeros_like(weights["b"]),
              (twin.output, "weight"): weights["W_y"].T, (twin.output, "bias"): weights["b_y"]}
    if twin.embedding is not None:
        values[(twin.embedding, "weight")] = weights["E"]
    with torch.no_grad():
        for (module, name), value in values.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
