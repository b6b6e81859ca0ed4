"""One compiled training function: gradients, an update rule, ``compile_function``.

The layers compile their training step here (the gradients and update
dictionaries come from :mod:`symrnn.graph.gradients`, the compiled function
from :func:`symrnn.graph.backend.compile_function`); the raw lesson models in
:mod:`symrnn.lesson` call those by hand, as the lesson did.
"""
from .backend import compile_function
from .gradients import training_updates


def train_function(inputs, loss, params, update_rule, outputs=None, backend=None,
                   clipnorm=None, clipvalue=None, extra_updates=None, **kwargs):
    """Compile ``inputs -> outputs`` (default: the loss) that also applies the updates."""
    updates = training_updates(loss, params, update_rule, clipnorm, clipvalue, extra_updates)
    return compile_function(inputs, loss if outputs is None else outputs,
                            updates=updates, backend=backend, **kwargs)
