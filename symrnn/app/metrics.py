"""Per-character loss in the units people quote: nats, bits per character, perplexity.

A model trained with (sparse) categorical cross-entropy reports the mean
negative log-likelihood per character in nats (natural log). Bits per
character divide by ln 2; perplexity is ``e ** nats`` (not ``2 ** nats``).

>>> round(bits_per_char(1.29), 3), round(perplexity(1.29), 3)
(1.861, 3.633)
"""
import math

import numpy as np

from ..errors import ConfigError

CROSSENTROPY = ("categorical_crossentropy", "sparse_categorical_crossentropy")


def _nats(value):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"a loss in nats must be a finite number >= 0, got {value!r}")
    return value


def bits_per_char(nats):
    """Loss in nats per character -> bits per character (``nats / ln 2``)."""
    return _nats(nats) / math.log(2)


def perplexity(nats):
    """Loss in nats per character -> perplexity ``e ** nats``."""
    return math.exp(_nats(nats))


def heldout_report(model, x, y, batch_size=32):
    """Evaluate a compiled cross-entropy model on held-out ``x, y``.

    Returns ``{"loss_nats", "bits_per_char", "perplexity"}`` per character.
    """
    names = getattr(model, "loss_names", None)
    if not names or len(names) != 1 or names[0] not in CROSSENTROPY:
        raise ConfigError(f"heldout_report needs a model compiled with one of {CROSSENTROPY} "
                          f"(its loss is then nats per character), got {names}")
    nats = model.evaluate(x, y, batch_size=batch_size)
    return {"loss_nats": float(nats), "bits_per_char": bits_per_char(nats),
            "perplexity": perplexity(nats)}
