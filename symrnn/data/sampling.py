"""Turning next-character distributions into text.

>>> import numpy as np
>>> p = np.array([0.1, 0.7, 0.2])
>>> int(sample_index(p, np.random.default_rng(0), temperature=None))  # greedy
1
"""
import numpy as np

from ..errors import ConfigError


def check_temperature(temperature):
    if temperature is not None and not (np.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature must be a positive number (or None for greedy), "
                          f"got {temperature!r}; try 1.0, or 0.5 for safer text")


def reweight(probs, temperature):
    """p^(1/T), renormalised; T < 1 sharpens, T > 1 flattens."""
    log_p = np.log(np.clip(probs, 1e-30, 1.0)) / temperature
    log_p -= log_p.max()
    weights = np.exp(log_p)
    return weights / weights.sum()


def sample_index(probs, rng, temperature=1.0):
    """Draw an index from ``probs`` at ``temperature``; ``None`` means argmax."""
    check_temperature(temperature)
    probs = np.asarray(probs, dtype=np.float64)
    if temperature is None:
        return int(probs.argmax())
    return int(rng.choice(len(probs), p=reweight(probs, temperature)))


def generate_from_windows(next_probs, vocab, prime, n_chars, seq_len, rng, temperature=1.0):
    """Generate by re-reading the last ``seq_len`` characters for every new one.

    ``next_probs(ids) -> probs`` returns the distribution of the character
    after the id sequence ``ids`` (as the lesson did with its predict
    function). Costs ``seq_len`` steps per character; a model that carries
    its state between calls can do one.
    """
    check_temperature(temperature)
    if n_chars < 0:
        raise ConfigError(f"number of characters must be >= 0, got {n_chars}")
    ids = list(vocab.encode(prime))  # names any character outside the vocabulary
    if not ids:
        raise ConfigError("the prime string is empty; give at least one character to start from")
    for _ in range(n_chars):
        ids.append(sample_index(next_probs(np.asarray(ids[-seq_len:])), rng, temperature))
    return vocab.decode(ids[len(prime):])
