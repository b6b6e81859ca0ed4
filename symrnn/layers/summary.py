"""``model.summary()`` in Keras 2's layout: layer (type), output shape, parameter count.

Counts are the sizes of each layer's parameters, so they equal Keras' for the
same model (Embedding(86, 42): 86*42 = 3,612; SimpleRNN(256) on 42 features:
42*256 + 256*256 + 256 = 76,544; Dense(86) on 256: 256*86 + 86 = 22,102).
"""
from .inputs import InputLayer


def _row(fields, positions):
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "   # keep one space between columns when a field fills its cell
        line += str(field)
        line = line[:positions[i]]
        line += " " * (positions[i] - len(line))
    return line.rstrip()


def _connections(layer, model_nodes):
    """'layer[node][tensor]' for every input of every call of ``layer`` in the model."""
    links = []
    for node in (n for n in model_nodes if n.layer is layer):
        for t in node.inputs:
            src = t.node.layer
            links.append(f"{src.name}[{src.inbound_nodes.index(t.node)}][{t.index}]")
    return links


def summary_lines(model, layers, connections):
    """Keras' rows for ``layers``: a Sequential's stack (``connections=False``, 65 wide),
    or a functional model's layers with a 'Connected to' column (98 wide)."""
    width = 98 if connections else 65
    positions = [32, 53, 65, 98] if connections else [29, 55, 65]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connections else [])
    lines = ["_" * width, _row(header, positions), "=" * width]
    for i, layer in enumerate(layers):
        fields = [f"{layer.name} ({type(layer).__name__})", layer.output_shape, layer.count_params()]
        links = []
        if connections:
            links = [] if isinstance(layer, InputLayer) else _connections(layer, model.nodes)
            fields.append(links[0] if links else "")
        lines.append(_row(fields, positions))
        lines += [_row(["", "", "", link], positions) for link in links[1:]]
        lines.append(("=" if i == len(layers) - 1 else "_") * width)
    trainable = sum(int(p.get_value(borrow=True).size) for p in model.trainable_params)
    total = model.count_params()
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * width]
    return lines


def print_summary(model, layers, print_fn=print, connections=True):
    for line in summary_lines(model, layers, connections):
        print_fn(line)
