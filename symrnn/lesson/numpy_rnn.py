"""The Lesson 6 character RNN written by hand in numpy: forward, BPTT, SGD.

This module is a reference oracle for the PyTensor engine and a piece of
teaching text. It imports numpy and nothing from pytensor, and it is never
used to train real models: it runs one sequence at a time (batch size 1),
time-major, in a plain python loop.

The model, for one sequence of ``T`` steps over a vocabulary of ``V``
symbols with ``H`` hidden units::

    pre_t = x_t @ W_x + b_x + h_tm1 @ W_h + b_h     # (H,)
    h_t   = act(pre_t)                              # relu or tanh
    z_t   = h_t @ W_y + b_y                         # logits, (V,)
    y_t   = softmax(z_t)
    error = sum_t cross_entropy(z_t, target_t)      # summed, not averaged

``h_tm1`` is the hidden state at ``t - 1`` (PyTensor's naming); ``h0`` is the
state before the first step. ``x_t`` is either a one-hot row or an integer id:
an id simply selects row ``x_t`` of ``W_x``, which is what a one-hot row times
``W_x`` computes, so both forms give the same numbers.

The lesson's own numpy model had no biases; ``init_params(...,
use_bias=False)`` builds that variant. Every function here works out which
variant it has from the keys of ``params``: all three biases or none.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> params = init_params(vocab_size=4, n_hidden=3, rng=rng)
>>> ids = np.array([0, 1, 2, 3])
>>> targets = np.array([1, 2, 3, 0])
>>> h0 = np.zeros(3)
>>> error, grads, dh0 = loss_and_grads(params, ids, targets, h0)
>>> sorted(grads) == sorted(PARAM_NAMES)
True
>>> new_params = sgd_step(params, grads, lr=0.1)
>>> bool(loss(new_params, ids, targets, h0) < error)
True
"""

import numpy as np

from ..errors import ConfigError, ShapeError

#: Parameter names in the lesson's step-function signature order.
PARAM_NAMES = ("W_h", "b_h", "W_x", "b_x", "W_y", "b_y")
#: The parameters of the lesson's bias-free numpy variant.
WEIGHT_NAMES = ("W_h", "W_x", "W_y")
BIAS_NAMES = ("b_h", "b_x", "b_y")


# ---------------------------------------------------------------- initialisation

def init_params(vocab_size, n_hidden, rng, dtype=np.float64, use_bias=True):
    """Create the lesson's initial parameters.

    ``W_h`` is the identity (the IRNN trick: at the start the hidden state is
    carried forward unchanged, so gradients neither explode nor vanish
    through it), biases are zeros, and ``W_x`` / ``W_y`` are normal with
    standard deviation ``sqrt(2 / rows)`` (He initialisation, suited to relu).

    Parameters
    ----------
    vocab_size, n_hidden : int
        ``V`` and ``H``.
    rng : numpy.random.Generator
        Source of the random weights; pass a seeded one for repeatable runs.
    dtype : numpy dtype, optional
        dtype of every array (float64 by default: this is an oracle).
    use_bias : bool, optional
        ``False`` gives the lesson's bias-free variant: the dict then holds
        only ``W_h``, ``W_x`` and ``W_y``.

    Returns
    -------
    dict
        name -> array, keys in :data:`PARAM_NAMES` order.

    Examples
    --------
    >>> p = init_params(7, 5, np.random.default_rng(0))
    >>> {name: p[name].shape for name in p}
    {'W_h': (5, 5), 'b_h': (5,), 'W_x': (7, 5), 'b_x': (5,), 'W_y': (5, 7), 'b_y': (7,)}
    >>> list(init_params(7, 5, np.random.default_rng(0), use_bias=False))
    ['W_h', 'W_x', 'W_y']
    """
    if vocab_size < 1 or n_hidden < 1:
        raise ConfigError(
            f"vocab_size and n_hidden must be positive, got {vocab_size} and "
            f"{n_hidden}")
    params = {
        "W_h": np.eye(n_hidden, dtype=dtype),
        "b_h": np.zeros(n_hidden, dtype=dtype),
        "W_x": _he_normal(rng, vocab_size, n_hidden, dtype),
        "b_x": np.zeros(n_hidden, dtype=dtype),
        "W_y": _he_normal(rng, n_hidden, vocab_size, dtype),
        "b_y": np.zeros(vocab_size, dtype=dtype),
    }
    if not use_bias:
        params = {name: params[name] for name in WEIGHT_NAMES}
    return params


def _he_normal(rng, rows, cols, dtype):
    return rng.normal(scale=np.sqrt(2.0 / rows), size=(rows, cols)).astype(dtype)


def has_bias(params):
    """True if ``params`` holds the three biases, False if it holds none.

    >>> has_bias(init_params(3, 2, np.random.default_rng(0), use_bias=False))
    False
    """
    present = [name in params for name in BIAS_NAMES]
    if all(present):
        return True
    if not any(present):
        return False
    raise ConfigError(
        f"params must hold all of {BIAS_NAMES} or none of them, got "
        f"{sorted(params)}; build them with init_params(use_bias=...)")


# ------------------------------------------------------------------ activations
# The derivatives take the activation's *output*: that is what the forward pass
# stores, and for relu and tanh it is all the derivative needs.

def relu(pre):
    """max(pre, 0), elementwise."""
    return np.maximum(pre, 0)


def relu_grad(h):
    """d relu / d pre, from ``h = relu(pre)``: 1 where the unit fired, else 0.

    At pre == 0 exactly relu has no derivative; this picks 0 (``h > 0``).

    >>> relu_grad(relu(np.array([-2.0, 3.0])))
    array([0., 1.])
    """
    return (h > 0).astype(h.dtype)


def tanh(pre):
    """Hyperbolic tangent, elementwise."""
    return np.tanh(pre)


def tanh_grad(h):
    """d tanh / d pre, from ``h = tanh(pre)``: ``1 - h**2``.

    >>> float(tanh_grad(tanh(np.array(0.0))))
    1.0
    """
    return 1 - h * h


ACTIVATIONS = {"relu": (relu, relu_grad), "tanh": (tanh, tanh_grad)}


def _activation_pair(activation):
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ConfigError(
            f"unknown activation {activation!r}; use one of "
            f"{sorted(ACTIVATIONS)}") from None


# ------------------------------------------------------- softmax, cross-entropy

def softmax(logits):
    """Softmax over the last axis.

    Subtracting the row maximum first changes nothing mathematically (the
    factor ``exp(-max)`` cancels) but keeps ``exp`` from overflowing.

    >>> softmax(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits):
    """log(softmax(logits)) over the last axis, without ever taking log(0).

    ``z - logsumexp(z)``: with the max subtracted the sum of exponentials is
    at least 1, so its log is finite even when some probabilities underflow
    to 0 and ``np.log(softmax(z))`` would give ``-inf``.

    >>> log_softmax(np.array([0.0, 1e4]))
    array([-10000.,      0.])
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(logits, targets):
    """Item-wise categorical cross-entropy, in nats, from logits.

    Taking logits (not probabilities) lets us use :func:`log_softmax`, so a
    target whose probability underflows gives a large finite loss instead of
    ``inf`` (or NaN from ``0 * log 0``).

    Parameters
    ----------
    logits : ndarray, shape (T, V) or (V,)
    targets : ndarray
        One-hot rows with the shape of ``logits``, or integer ids of shape
        ``logits.shape[:-1]``.

    Returns
    -------
    ndarray, shape ``logits.shape[:-1]``
        One loss per row; aggregate (``.sum()``) explicitly.

    >>> cross_entropy(np.zeros((2, 4)), np.array([0, 3])).round(4)
    array([1.3863, 1.3863])
    """
    onehot = as_onehot(targets, logits.shape[-1])
    return -(onehot * log_softmax(logits)).sum(axis=-1)


def cross_entropy_grad(logits, targets):
    """d cross_entropy / d logits = ``softmax(logits) - onehot(targets)``.

    Row ``t``'s loss depends only on row ``t``'s logits, so this is also the
    gradient of the summed loss. The short form relies on each target row
    summing to 1 (true for one-hot rows and ids).

    >>> cross_entropy_grad(np.zeros(4), np.array(2))
    array([ 0.25,  0.25, -0.75,  0.25])
    """
    return softmax(logits) - as_onehot(targets, logits.shape[-1])


def as_onehot(symbols, vocab_size):
    """Integer ids -> one-hot float rows; float arrays pass through unchanged.

    >>> as_onehot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    symbols = np.asarray(symbols)
    if not np.issubdtype(symbols.dtype, np.integer):
        return symbols
    _check_ids(symbols, vocab_size)
    return np.eye(vocab_size)[symbols]


def _check_ids(ids, vocab_size):
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ShapeError(
            f"ids must lie in [0, {vocab_size}), got values from {ids.min()} "
            f"to {ids.max()}; check the vocabulary used to encode them")


# --------------------------------------------------------------------- forward

def forward(params, x, h0, activation="relu"):
    """Run the RNN over one sequence and keep what backward needs.

    Parameters
    ----------
    params : dict
        As made by :func:`init_params` (with or without biases).
    x : ndarray
        One-hot rows, shape (T, V), or integer ids, shape (T,).
    h0 : ndarray, shape (H,)
        Hidden state before the first step.
    activation : {"relu", "tanh"}

    Returns
    -------
    ForwardCache
        ``x`` and ``h0`` as given, ``pre_activations`` and ``hidden_states``
        (T, H), ``logits`` and ``probs`` (T, V), and ``activation``.

    >>> p = init_params(3, 2, np.random.default_rng(0))
    >>> cache = forward(p, np.array([0, 2, 1]), np.zeros(2))
    >>> cache.hidden_states.shape, cache.probs.shape
    ((3, 2), (3, 3))
    >>> np.allclose(cache.probs.sum(axis=1), 1)
    True
    """
    act, _ = _activation_pair(activation)
    x, h0 = _check_sequence(params, x, h0)
    input_part = _input_projection(params, x)   # x_t @ W_x + b_x for all t at once
    pre_activations = np.empty_like(input_part)
    hidden_states = np.empty_like(input_part)
    h_tm1 = h0
    for t in range(len(input_part)):             # the hand-written scan
        pre_activations[t] = input_part[t] + _recurrent_part(params, h_tm1)
        hidden_states[t] = h_tm1 = act(pre_activations[t])
    logits = _output_logits(params, hidden_states)
    return ForwardCache(x, h0, pre_activations, hidden_states, logits,
                        softmax(logits), activation)


class ForwardCache:
    """What :func:`forward` computed, kept for :func:`backward`.

    A plain record (attribute access); ``as_dict()`` gives a name -> value
    dict for code that compares against another implementation.
    """

    FIELDS = ("x", "h0", "pre_activations", "hidden_states", "logits",
              "probs", "activation")

    def __init__(self, x, h0, pre_activations, hidden_states, logits, probs,
                 activation):
        self.x = x
        self.h0 = h0
        self.pre_activations = pre_activations
        self.hidden_states = hidden_states
        self.logits = logits
        self.probs = probs
        self.activation = activation

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self):
        return (f"ForwardCache(T={len(self.logits)}, "
                f"activation={self.activation!r})")


def _input_projection(params, x):
    # An id picks row x_t of W_x; a one-hot row times W_x picks the same row.
    projected = params["W_x"][x] if _is_ids(x) else x @ params["W_x"]
    return projected + params["b_x"] if has_bias(params) else projected


def _recurrent_part(params, h_tm1):
    recurrent = h_tm1 @ params["W_h"]
    return recurrent + params["b_h"] if has_bias(params) else recurrent


def _output_logits(params, hidden_states):
    logits = hidden_states @ params["W_y"]
    return logits + params["b_y"] if has_bias(params) else logits


def _is_ids(x):
    return np.issubdtype(x.dtype, np.integer)


def _check_sequence(params, x, h0):
    vocab_size, n_hidden = params["W_x"].shape
    x, h0 = np.asarray(x), np.asarray(h0)
    if _is_ids(x):
        if x.ndim != 1:
            raise ShapeError(f"integer ids must have shape (T,), got {x.shape}")
        _check_ids(x, vocab_size)
    elif x.ndim != 2 or x.shape[1] != vocab_size:
        raise ShapeError(
            f"one-hot inputs must have shape (T, {vocab_size}), got {x.shape}; "
            "pass one sequence at a time (batch size 1)")
    if h0.shape != (n_hidden,):
        raise ShapeError(f"h0 must have shape ({n_hidden},), got {h0.shape}")
    return x, h0


def _check_targets(targets, n_steps, vocab_size):
    targets = np.asarray(targets)
    expected = (n_steps,) if _is_ids(targets) else (n_steps, vocab_size)
    if targets.shape != expected:
        raise ShapeError(
            f"targets must have shape {expected} to match the inputs, got "
            f"{targets.shape}")
    return targets


# ------------------------------------------------------------------------ loss

def loss(params, x, targets, h0, activation="relu"):
    """Cross-entropy summed over the steps of one sequence (a python float).

    This is the lesson's "error": about 8 x 2 nats for an 8-char sequence
    from a trained model.

    >>> p = init_params(4, 3, np.random.default_rng(0))
    >>> round(loss(p, np.array([0, 1]), np.array([1, 2]), np.zeros(3)), 4) > 0
    True
    """
    cache = forward(params, x, h0, activation)
    targets = _check_targets(targets, len(cache.logits), cache.logits.shape[1])
    return float(cross_entropy(cache.logits, targets).sum())


# -------------------------------------------------------------------- backward

def backward(params, cache, targets, activation=None):
    """Back-propagation through time, by hand.

    Walks the steps in reverse. At step ``t`` the hidden state receives
    gradient from two places: the output at ``t`` (through ``W_y``) and the
    next step's pre-activation (through ``W_h``); the sum goes back through
    the activation into ``pre_t``, whose gradient feeds every weight that
    produced it.

    Parameters
    ----------
    params : dict
        The parameters :func:`forward` used.
    cache : ForwardCache
        The result of :func:`forward`.
    targets : ndarray
        One-hot rows (T, V) or integer ids (T,).
    activation : {"relu", "tanh"}, optional
        Defaults to the one the forward pass used; giving a different one
        raises :class:`~symrnn.errors.ConfigError` (it would silently give
        wrong gradients).

    Returns
    -------
    grads : dict
        Gradient of the summed loss for every key of ``params`` (so the
        bias-free variant gets no bias gradients).
    dh0 : ndarray, shape (H,)
        Gradient with respect to the initial hidden state.

    >>> p = init_params(4, 3, np.random.default_rng(0), use_bias=False)
    >>> cache = forward(p, np.array([0, 1]), np.zeros(3))
    >>> grads, dh0 = backward(p, cache, np.array([1, 2]))
    >>> sorted(grads)
    ['W_h', 'W_x', 'W_y']
    """
    _, act_grad = _activation_pair(_backward_activation(cache, activation))
    n_steps, vocab_size = cache.logits.shape
    targets = _check_targets(targets, n_steps, vocab_size)

    dlogits = cross_entropy_grad(cache.logits, targets)            # (T, V)
    dhidden_from_output = dlogits @ params["W_y"].T                # (T, H)
    dpre = np.empty_like(cache.pre_activations)                    # (T, H)
    dh_next = np.zeros_like(cache.h0)   # gradient flowing in from step t + 1
    for t in reversed(range(n_steps)):
        dh_t = dhidden_from_output[t] + dh_next
        dpre[t] = dh_t * act_grad(cache.hidden_states[t])
        dh_next = dpre[t] @ params["W_h"].T
    dh0 = dh_next                       # what step 0 sends back to h0

    grads = {
        "W_h": _previous_states(cache).T @ dpre,
        "W_x": _input_weight_grad(cache.x, dpre, params["W_x"]),
        "W_y": cache.hidden_states.T @ dlogits,
    }
    if has_bias(params):
        # b_h and b_x enter pre_t only through their sum, so their gradients
        # are equal; the lesson kept both and so do we.
        grads.update(b_h=dpre.sum(axis=0), b_x=dpre.sum(axis=0),
                     b_y=dlogits.sum(axis=0))
    return {name: grads[name] for name in params}, dh0


def _backward_activation(cache, activation):
    if activation is None or activation == cache.activation:
        return cache.activation
    raise ConfigError(
        f"backward got activation={activation!r} but forward used "
        f"{cache.activation!r}; leave activation out to use the forward one")


def _previous_states(cache):
    # h_tm1 for every step: h0, then all hidden states but the last.
    return np.vstack([cache.h0[None, :], cache.hidden_states[:-1]])


def _input_weight_grad(x, dpre, W_x):
    if not _is_ids(x):
        return x.T @ dpre
    dW_x = np.zeros_like(W_x)
    np.add.at(dW_x, x, dpre)   # add.at, not +=: a repeated id must accumulate
    return dW_x


def loss_and_grads(params, x, targets, h0, activation="relu"):
    """Forward then backward: ``(summed loss, grads dict, dh0)``.

    The one call a gradient comparison needs.
    """
    cache = forward(params, x, h0, activation)
    grads, dh0 = backward(params, cache, targets)
    targets = np.asarray(targets)
    return float(cross_entropy(cache.logits, targets).sum()), grads, dh0


# -------------------------------------------------------------------- training

def sgd_step(params, grads, lr):
    """Plain SGD, ``w - lr * grad`` for every parameter; returns new arrays.

    The input dicts and arrays are left untouched.

    >>> sgd_step({"W_h": np.ones(2)}, {"W_h": np.array([1.0, -2.0])}, 0.5)
    {'W_h': array([0.5, 2. ])}
    """
    if set(grads) != set(params):
        raise ConfigError(
            f"grads must have the keys of params; params has {sorted(params)}, "
            f"grads has {sorted(grads)}")
    return {name: params[name] - lr * grads[name] for name in params}


def train(params, xs, ys, lr, h0=None, report_every=1000, callback=None,
          activation="relu"):
    """Train with plain SGD, one sequence per step (batch size 1).

    The lesson trained its bias-free numpy model on 10,000 8-char sequences
    at ``lr = 1e-4`` (error per sequence 35.2 -> 27.7). The default
    parameters here have biases too; pass ``init_params(...,
    use_bias=False)`` to reproduce the lesson's model.

    Parameters
    ----------
    params : dict
        Starting parameters; not modified.
    xs, ys : sequences of arrays
        Inputs and targets, one (T, V) or (T,) array per sequence.
    lr : float
        Learning rate.
    h0 : ndarray, shape (H,), optional
        Initial state used for every sequence; zeros by default, as in the
        lesson (no state is carried between sequences).
    report_every : int
        Number of sequences per reported mean error. A final partial block
        is reported too.
    callback : callable, optional
        Called as ``callback(n_seen, mean_error, params)`` at each report.

    Returns
    -------
    params : dict
        The trained parameters (new arrays).
    report_errors : list of float
        Mean summed-over-steps error of each block of ``report_every``
        sequences, measured before each sequence's update.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(3, 4, rng)
    >>> xs = [np.array([0, 1, 2])] * 20
    >>> ys = [np.array([1, 2, 0])] * 20
    >>> p, errors = train(p, xs, ys, lr=0.1, report_every=10)
    >>> len(errors), bool(errors[-1] < errors[0])
    (2, True)
    """
    if report_every < 1:
        raise ConfigError(f"report_every must be positive, got {report_every}")
    if h0 is None:
        h0 = np.zeros(params["W_h"].shape[0], dtype=params["W_h"].dtype)
    report_errors, block = [], []
    for n_seen, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
        error, grads, _ = loss_and_grads(params, x, y, h0, activation)
        params = sgd_step(params, grads, lr)
        block.append(error)
        if len(block) == report_every:
            _report(report_errors, block, n_seen, params, callback)
            block = []
    if block:
        _report(report_errors, block, n_seen, params, callback)
    return params, report_errors


def _report(report_errors, block, n_seen, params, callback):
    report_errors.append(float(np.mean(block)))
    if callback is not None:
        callback(n_seen, report_errors[-1], params)
