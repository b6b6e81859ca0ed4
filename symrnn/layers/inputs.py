"""Model inputs: :func:`Input` and the :class:`InputLayer` behind it.

>>> x = Input((8,), dtype="int32")
>>> x.shape, x.dtype, isinstance(x.node.layer, InputLayer)
((None, 8), 'int32', True)
"""
from .base import KTensor, Layer, Node, unique_name


class InputLayer(Layer):
    """The layer behind :func:`Input`: no parameters, only a shape and dtype."""

    def __init__(self, shape, dtype=None, name=None, batch_size=None, **kwargs):
        super().__init__(name=name or unique_name("input"), **kwargs)
        batch = None if batch_size is None else int(batch_size)
        self.shape, self.dtype = (batch,) + tuple(shape), str(dtype or "float64")
        self.built = True
        node = Node(self, [], {})
        node.multi_input = False
        node.outputs.append(KTensor(self.shape, self.dtype, node, 0, self.name))
        self.inbound_nodes.append(node)

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape[1:]), "dtype": self.dtype,
                "batch_size": self.shape[0]}


def Input(shape, dtype=None, name=None, batch_size=None):
    """A symbolic model input of per-sample ``shape`` (the batch dim is added).

    ``dtype`` defaults to float64; use an integer dtype for ids fed to an Embedding.
    ``batch_size`` fixes the batch dim (stateful recurrent layers need it).
    """
    return InputLayer(shape, dtype, name=name, batch_size=batch_size).inbound_nodes[0].outputs[0]
