"""Parameter initialisers and shared variables.

Initialisers are plain numpy functions ``(shape, rng) -> ndarray`` so the same
numbers can seed the PyTensor graph, the numpy reference and a layer.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> W = init_array("identity", (3, 3), rng)
>>> W.tolist()
[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
>>> q = orthogonal((4, 4), rng)
>>> bool(np.allclose(q.T @ q, np.eye(4)))
True
"""
import numpy as np
import pytensor

from ..errors import ConfigError


def normal(shape, rng, scale=None):
    """Gaussian with the lesson's scale sqrt(2 / rows) (He init for relu)."""
    if scale is None:
        scale = np.sqrt(2.0 / shape[0])
    return rng.normal(0.0, scale, size=shape)


def zeros(shape, rng=None):
    return np.zeros(shape)


def ones(shape, rng=None):
    return np.ones(shape)


def identity(shape, rng=None):
    """Identity matrix: the IRNN start, where h passes through unchanged."""
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ConfigError(f"identity init needs a square 2-d shape, got {shape}; "
                          "use 'orthogonal' or 'normal' for this weight")
    return np.eye(shape[0])


def orthogonal(shape, rng, gain=1.0):
    """Orthogonal matrix from the QR decomposition of a Gaussian matrix."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # fix signs so q is uniformly distributed
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)


def glorot_uniform(shape, rng):
    """Keras' default kernel init: U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (shape[0] + int(np.prod(shape[1:]))))
    return rng.uniform(-limit, limit, size=shape)


def uniform(shape, rng, scale=0.05):
    """Keras' default embedding init: U(-0.05, 0.05)."""
    return rng.uniform(-scale, scale, size=shape)


def standard_normal(shape, rng):
    """N(0, 1): PyTorch's ``nn.Embedding`` init (the character models' embedding default)."""
    return rng.normal(0.0, 1.0, size=shape)


INITIALISERS = {
    "normal": normal, "zeros": zeros, "zero": zeros, "ones": ones,
    "identity": identity, "orthogonal": orthogonal,
    "glorot_uniform": glorot_uniform, "uniform": uniform, "standard_normal": standard_normal,
}


def initialiser(init):
    """The initialiser ``init`` names (or ``init`` itself, a callable ``(shape, rng)``); a
    ConfigError naming the valid names otherwise, so a layer can refuse it when it is made.

    >>> initialiser("orthogonal").__name__
    'orthogonal'
    """
    if callable(init):
        return init
    try:
        return INITIALISERS[init]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown initialiser {init!r}; valid names: "
                          f"{', '.join(sorted(INITIALISERS))} (or a callable (shape, rng))") from None


def init_array(init, shape, rng, dtype="float64"):
    """Evaluate an initialiser given by name or callable, cast to ``dtype``."""
    return np.asarray(initialiser(init)(tuple(shape), rng), dtype=dtype)


def shared(value, name, dtype=None):
    """A PyTensor shared variable holding a *copy* of ``value``."""
    value = np.array(value, dtype=dtype or np.asarray(value).dtype)
    return pytensor.shared(value, name=name)
