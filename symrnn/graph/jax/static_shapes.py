"""The ``jax`` backend: PyTensor's JAX linker, handed graphs whose shapes are known.

Why shapes: JAX traces a function once per set of input shapes, and every
shape argument it meets while tracing (of ``zeros``, ``arange``, ``reshape``,
``scan``'s length) must be a Python int by then. PyTensor's JAX dispatch passes
a shape on as an int only when it is read straight off an array
(``x.shape[0]``); a shape *computed* from one (``scan``'s gradient pads and
slices its buffers by ``n_steps - 1``; flattening ``[B, T, V]`` logits to rows
divides sizes) is fused into an elementwise op, which JAX traces into an
abstract value and then refuses as a shape. Every recurrent model's gradient
has such shapes, for any batch size.

So :class:`StaticShapeFunction` compiles the same graph once per distinct set
of shapes (of the arguments and of the shared variables), each time with every
input and shared variable read through ``specify_shape(x, its shape now)``.
PyTensor's rewrites then fold every shape computation to a constant (the loss's
``arange(rows)`` included), and JAX gets a graph it can trace. JAX would trace
and compile again for a new shape anyway; what the specialising adds is
PyTensor's own rewrite pass per shape. A training loop sees one or two shapes
(full batches and a last, partial one), a generator one. The other backends'
graphs are not touched.

:func:`enable` also mends, for this process, PyTensor 3.0's JAX reduction,
which returns its accumulator's dtype (a ``float32`` sum came back ``float64``):
inside ``scan`` that changes a carried value's dtype and JAX refuses the loop.
It is called by :func:`symrnn.graph.backend.get_mode` for ``jax``, never on import.

What is refused (:func:`check_scans`, :func:`check_x64`): training a layer with
``truncate_gradient`` (PyTensor's JAX ``scan`` cannot size a truncated backward
loop), and float64 graphs when JAX runs without 64-bit types.

Values: after a call the shared variables the function updates hold JAX arrays
on the device that computed them, so training does not copy weights back to
the host each step. A function compiled for another backend in the same process
is wrapped (:func:`host_values`) so that it first brings such values back as
numpy arrays; :func:`to_host` does it by hand.

>>> shape_key([np.zeros((2, 3)), 0.5, [1, 2]])
((2, 3), (), (2,))
"""
import warnings
import weakref
from contextlib import contextmanager

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import ancestors, graph_inputs
from pytensor.scan.op import Scan
from pytensor.tensor.type import TensorType

from ...errors import ConfigError

# Warnings PyTensor's JAX linker gives on every compile, about what the notes below explain:
QUIET = (
    # a shared random generator is replaced by a copy that the jitted function threads
    # through; the copy still advances from call to call (dropout draws new masks)
    "The RandomType SharedVariables",
    # runtime shape checks are dropped: JAX traces with concrete shapes, and a mismatch
    # fails the trace (inside scan's step, where shapes stay symbolic, too)
    "Skipping .* as JAX tracing would remove it",
)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def shape_key(args):
    """The shapes of a call's arguments: one compiled function per distinct key."""
    return tuple(tuple(np.shape(a)) for a in args)


class StaticShapeFunction:
    """A graph compiled by PyTensor for JAX once per distinct set of input shapes.

    Called like the ``pytensor.function`` it stands for (positional arguments,
    the same outputs and updates). The shapes that key a compiled function are
    the arguments' and the shared variables' (a weight's shape is as much part
    of the graph as a batch's). :meth:`function_for` returns the PyTensor
    ``Function`` specialised to some arguments (compiling it if needed); its
    ``vm.jit_fn`` is the jitted JAX function.
    """

    def __init__(self, inputs, outputs, updates=None, mode=None, **kwargs):
        self.inputs = list(inputs)
        for var in self.inputs:
            if not isinstance(var, Variable) or var.owner is not None:
                raise ConfigError(f"the jax backend compiles functions of plain input variables, "
                                  f"got {var!r}")
        self.single = not isinstance(outputs, (list, tuple))
        self.outputs = _as_list(outputs)
        self.updates = list(dict(updates or {}).items())
        self.mode, self.kwargs = mode, kwargs
        self.trust_input = bool(kwargs.pop("trust_input", False))
        roots = graph_inputs(self.outputs + [value for _, value in self.updates])
        self.shared = [v for v in roots if isinstance(v, SharedVariable)
                       and isinstance(v.type, TensorType)]
        check_x64(self.inputs + self.outputs + self.shared)
        check_scans(self.outputs + [value for _, value in self.updates])
        self.functions = {}

    def function_for(self, *args):
        """The PyTensor function specialised to the shapes of ``args`` and the shared values."""
        if len(args) != len(self.inputs):
            raise TypeError(f"the function takes {len(self.inputs)} arguments, got {len(args)}")
        key = shape_key(list(args) + [v.get_value(borrow=True) for v in self.shared])
        fn = self.functions.get(key)
        if fn is None:
            fn = self.functions[key] = self._compile(key)
        fn.trust_input = self.trust_input
        return fn

    def _compile(self, shapes):
        roots = self.inputs + self.shared
        for var, shape in zip(roots, shapes):
            if len(shape) != var.type.ndim:
                raise TypeError(f"{var.name or var}: expected {var.type.ndim} dimensions, "
                                f"got shape {shape}")
        # every root read through specify_shape: its consumers are rebuilt with static shapes
        static = {var: pt.specify_shape(var, _known(var, shape)) for var, shape in zip(roots, shapes)}
        exprs = clone_replace(self.outputs + [value for _, value in self.updates], static)
        outputs, values = exprs[:len(self.outputs)], exprs[len(self.outputs):]
        values = [_as_type_of(var, value) for (var, _), value in zip(self.updates, values)]
        with warnings.catch_warnings(), _unknown_lengths_refused(self.inputs, shapes):
            for message in QUIET:
                warnings.filterwarnings("ignore", message=message, category=UserWarning)
            return pytensor.function(
                self.inputs, outputs[0] if self.single else outputs, mode=self.mode,
                updates=list(zip([var for var, _ in self.updates], values)), **self.kwargs)

    def __call__(self, *args):
        fn = self.function_for(*args)
        with _unknown_lengths_refused(self.inputs, shape_key(args)):   # JAX traces on first call
            outputs = fn(*args)
        _on_device.update(var for var, _ in self.updates)
        return outputs

    def call_placed(self, *args):
        """Call with JAX arrays already placed on their devices, of the inputs' dtypes: they
        go to the jitted function as they are (a ``Function``'s input checks would copy them
        into numpy arrays on the host)."""
        fn = self.function_for(*args)
        fn.trust_input = True
        try:
            with _unknown_lengths_refused(self.inputs, shape_key(args)):
                outputs = fn(*args)
        finally:
            fn.trust_input = self.trust_input
        _on_device.update(var for var, _ in self.updates)
        return outputs


# What PyTensor's JAX conversion says when a length it needs is computed at run time.
UNKNOWN_LENGTH_ERRORS = ("arguments of `jax.numpy.arange` to be constants",
                         "Shapes must be 1D sequences of concrete values")


@contextmanager
def _unknown_lengths_refused(inputs, shapes):
    """Turn JAX's refusal of a length computed at run time into an error that says what to do.
    Only lengths of 1 are left unstated (:func:`_known`), so that is what causes it."""
    try:
        yield
    except (NotImplementedError, TypeError) as err:
        if not any(text in str(err) for text in UNKNOWN_LENGTH_ERRORS):
            raise
        ones = [f"{var.name or 'input'} {shape}" for var, shape in zip(inputs, shapes) if 1 in shape]
        raise ConfigError(
            f"the jax backend cannot compile this function for arrays with an axis of length 1 "
            f"({', '.join(ones) or 'a weight'}): a length the graph computes from it is not "
            f"known while JAX traces (a training step on a batch of one row, say). {ONE_ROW}"
        ) from None


ONE_ROW = "Use at least 2 rows per batch, or backend 'numba'"


def check_training_batch(rows):
    """Refuse up front what :func:`_unknown_lengths_refused` would at the first step: training
    on batches of one row (the loss indexes ``arange(rows)``, a length JAX would not know)."""
    if rows == 1:
        raise ConfigError(f"the jax backend cannot train on batches of one row. {ONE_ROW}")


def _known(var, shape):
    """The lengths to state for ``var``: all but 1s its type does not already fix. A static
    length 1 makes an axis broadcastable, and ``scan`` refuses a loop whose initial state
    broadcasts where its step's output does not (a batch of one row, say)."""
    return tuple(None if n == 1 and fixed is None else n for n, fixed in zip(shape, var.type.shape))


def _as_type_of(var, value):
    """``value`` with ``var``'s broadcast pattern, as an update of ``var`` must have: a static
    length-1 axis (a ``Dense(1)`` kernel) is one the shared variable's type does not promise."""
    if var.type.in_same_class(value.type):
        return value
    # same values; the lengths come from var's own (unnarrowed) type
    return pt.alloc(value, *[var.shape[i] for i in range(var.ndim)])


# Shared variables a JAX function has updated since the last move to the host: they may hold
# JAX arrays, which functions compiled for the other backends cannot read. (Weak: a model
# dropped by its user is not kept alive here.)
_on_device = weakref.WeakSet()


def to_host(variables):
    """Replace JAX arrays held by shared ``variables`` with numpy copies; how many moved.

    >>> w = pytensor.shared(np.ones(2))
    >>> to_host([w])
    0
    """
    moved = 0
    for var in variables:
        value = var.get_value(borrow=True)
        if not isinstance(value, np.ndarray) and type(value).__module__.startswith("jax"):
            var.set_value(np.asarray(value))
            moved += 1
    return moved


class HostValuesFunction:
    """A function compiled for another backend, in a process that also runs JAX functions:
    before each call, shared values that a JAX function left on its device come back to the
    host (the first call after JAX ran pays the copy; otherwise the check is one set test).
    Attributes (``trust_input``, ``maker``...) are the wrapped ``Function``'s."""

    def __init__(self, fn):
        object.__setattr__(self, "fn", fn)

    def __call__(self, *args, **kwargs):
        if _on_device:
            to_host(list(_on_device))
            _on_device.clear()
        return self.fn(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.fn, name)

    def __setattr__(self, name, value):
        setattr(self.fn, name, value)


def host_values(fn):
    """``fn`` (a PyTensor function of another backend) guarded by :class:`HostValuesFunction`
    once JAX is in use in this process; ``fn`` itself otherwise (nothing to guard)."""
    return HostValuesFunction(fn) if _enabled else fn


_enabled = []


def enable():
    """Load PyTensor's JAX dispatch and mend its reductions' dtype (once); True."""
    if not _enabled:
        _register_reduction_dtype_fix()
        _enabled.append(True)
    return True


def _register_reduction_dtype_fix():
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    pytensor_careduce = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def careduce_in_output_dtype(op, node=None, **kwargs):
        reduce = pytensor_careduce(op, node=node, **kwargs)
        dtype = node.outputs[0].dtype

        def careduce(x):
            return reduce(x).astype(dtype)   # accumulate in acc_dtype, return the output's dtype

        return careduce


def check_scans(variables):
    """Refuse what PyTensor 3.0's JAX ``scan`` computes wrongly: the backward loop of a
    recurrence with ``truncate_gradient`` (it runs fewer steps than its buffers hold, and the
    JAX conversion cannot size such buffers)."""
    for op in _ops_within(variables):
        if isinstance(op, Scan) and op.truncate_gradient != -1 and op.info.n_mit_mot:
            raise ConfigError(
                f"a recurrent layer with truncate_gradient={op.truncate_gradient} cannot be "
                "trained on the jax backend (PyTensor's JAX scan cannot size a truncated "
                "backward loop); train it with backend 'numba' (or 'py'), or use "
                "truncate_gradient=-1 on jax (prediction and evaluation work either way)")


def _ops_within(variables):
    """The ops computing ``variables``, and those of the inner graphs of ops made of a graph
    (an ``OpFromGraph`` such as the recurrence op's gradient, whose backward loop is there)."""
    for var in ancestors(variables):
        op = getattr(var.owner, "op", None)
        if op is None:
            continue
        yield op
        if isinstance(op, OpFromGraph):
            yield from _ops_within(op.inner_outputs)


def uses_float64(variables):
    """Whether any of ``variables`` (graph inputs, outputs, shared values) is float64."""
    return any(getattr(v, "dtype", None) == "float64" for v in variables)


def check_x64(variables):
    """Refuse a float64 graph when JAX runs without 64-bit types (it would compute in float32)."""
    import jax
    if uses_float64(variables) and not jax.config.jax_enable_x64:
        raise ConfigError("this model computes in float64 but JAX runs without 64-bit types "
                          "(PyTensor turns them off when floatX=float32): build the model with "
                          "dtype='float32', or set floatX=float64 (PyTensor's default)")
