"""Data parallelism across JAX devices: each batch split over N devices, one model.

Nothing here is home-made parallelism: the batch arrays are placed with JAX's
``NamedSharding`` over a one-axis ``Mesh`` (rows split along ``"batch"``), the
shared variables (weights, optimizer state) are placed replicated on every
device of the mesh, and the same jitted training step runs on them. XLA's
GSPMD partitioner then compiles that step for the mesh: each device computes
its rows, and the gradients are summed across devices inside the step. The
semantics are the single-device step's, by construction; only the placement
differs.

How the arrays reach the jitted function: PyTensor's JAX linker passes a
compiled function's inputs and its shared variables' current values straight
to ``jax.jit`` (``pytensor.link.jax.linker.JAXLinker``); the only conversions
on the way are the ``Function``'s input checks, which turn a JAX array into a
numpy one. So a batch goes in as already-placed JAX arrays with the function's
``trust_input`` set (the values were checked and cast before placing), and the
shared variables' storage is given replicated JAX arrays once; after each step
PyTensor stores the updated values the step returns, which stay on the mesh.

A CPU shows one JAX device unless asked for more:
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set before jax is
imported gives N host devices (for testing: they share the CPU's cores). On
GPUs, install jax for CUDA (``pip install 'jax[cuda12]'``) and every GPU is a
device.

>>> check_split(64, 2)
32
>>> check_batches(n_samples=100, batch_size=32, devices=2)   # 3 x 32 + 4: fine
>>> check_batches(n_samples=101, batch_size=32, devices=2)
Traceback (most recent call last):
...
symrnn.errors.ConfigError: the last batch of 5 rows (101 samples in batches of 32) ...
"""
import numpy as np

from ...errors import ConfigError
from ..backend import check_backend

BATCH_AXIS = "batch"
HOW_TO_GET_DEVICES = (
    "on a CPU, start Python with XLA_FLAGS=--xla_force_host_platform_device_count={n} "
    "(set before jax is imported; the devices share the CPU's cores); with GPUs, install "
    "jax for CUDA: pip install 'jax[cuda12]'")


def check_devices(devices, backend):
    """``devices`` as an int (``None`` stays ``None``: one device, no splitting), checked
    against the backend and the devices JAX sees, before anything is built or trained."""
    if devices is None:
        return None
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
        raise ConfigError(f"devices must be a positive whole number of devices, got {devices!r}")
    backend = check_backend(backend)
    if backend != "jax":
        raise ConfigError(f"devices={devices} splits each batch across JAX devices, so it needs "
                          f"the jax backend, not {backend!r}: compile(..., backend='jax') "
                          "(symrnn train --backend jax)")
    import jax  # the jax backend checked that jax is installed
    found = jax.devices()
    if len(found) < devices:
        raise ConfigError(f"devices={devices}, but JAX sees {len(found)} device(s) "
                          f"({', '.join(str(d) for d in found)}); use devices={len(found)} or "
                          "fewer, or get more: " + HOW_TO_GET_DEVICES.format(n=devices))
    return int(devices)


def check_split(rows, devices):
    """Rows per device of a batch of ``rows``; a ConfigError unless they split evenly."""
    if rows % devices:
        raise ConfigError(f"a batch of {rows} rows does not split evenly across {devices} "
                          f"devices; use a batch size that is a multiple of {devices}")
    return rows // devices


def check_batches(n_samples, batch_size, devices):
    """Check every batch of ``n_samples`` rows in batches of ``batch_size`` (the last may
    be shorter) splits evenly across ``devices`` (``None``: nothing to check)."""
    if devices is None:
        return
    check_split(batch_size, devices)
    last = n_samples % batch_size
    if last % devices:
        keep = n_samples - last % devices
        raise ConfigError(f"the last batch of {last} rows ({n_samples} samples in batches of "
                          f"{batch_size}) does not split evenly across {devices} devices: pass "
                          f"the first {keep} samples (a sample count that leaves a multiple "
                          f"of {devices} rows for the last batch)")


class DataParallel:
    """The placements for ``devices`` JAX devices: batch rows split, everything else replicated."""

    def __init__(self, devices):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        self.jax = jax
        self.devices = tuple(jax.devices()[:devices])
        self.mesh = Mesh(np.array(self.devices), (BATCH_AXIS,))
        self.split = NamedSharding(self.mesh, PartitionSpec(BATCH_AXIS))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())

    def on_mesh(self, value):
        sharding = getattr(value, "sharding", None)
        return sharding is not None and sharding.device_set == set(self.devices)

    def place_shared(self, variables):
        """Put every value not already on the mesh there, replicated. Written to the variable's
        storage directly: ``set_value`` would turn it back into a numpy array."""
        for var in variables:
            value = var.get_value(borrow=True)
            if not self.on_mesh(value):
                var.container.storage[0] = self.jax.device_put(np.asarray(value), self.replicated)

    def place_batch(self, variables, arrays):
        """Each array cast to its input's dtype and split by rows (a scalar is replicated)."""
        placed = []
        for var, array in zip(variables, arrays):
            array = np.asarray(array, dtype=var.dtype)
            placed.append(self.jax.device_put(array, self.split if array.ndim else self.replicated))
        return placed


_placements = {}


def placement(devices):
    """The (cached) :class:`DataParallel` of the first ``devices`` JAX devices."""
    if devices not in _placements:
        _placements[devices] = DataParallel(devices)
    return _placements[devices]


class SplitBatches:
    """A jax-backend function (:class:`symrnn.graph.jax.static_shapes.StaticShapeFunction`) whose
    batch-major arguments are split across devices on every call."""

    def __init__(self, fn, devices):
        self.fn, self.devices, self.placement = fn, devices, placement(devices)

    @property
    def inputs(self):
        return self.fn.inputs

    @property
    def trust_input(self):
        """Always on: every batch is cast and placed here before the call."""
        return True

    @trust_input.setter
    def trust_input(self, flag):
        pass   # the placed call trusts its inputs whatever the caller asks

    def __call__(self, *args):
        for arg in args:
            if np.ndim(arg):
                check_split(len(arg), self.devices)
        self.placement.place_shared(self.fn.shared)
        return self.fn.call_placed(*self.placement.place_batch(self.fn.inputs, args))


def split_batches(fn, devices):
    """``fn`` with each call's batch split across ``devices`` (``None``: ``fn`` itself)."""
    return fn if devices is None else SplitBatches(fn, devices)
