"""``model.summary()`` in Keras 2's layout: layer (type), output shape, parameter count.

Counts are the sizes of each layer's parameters, so they equal Keras' for the
same model (Embedding(86, 42): 86*42 = 3,612; SimpleRNN(256) on 42 features:
42*256 + 256*256 + 256 = 76,544; Dense(86) on 256: 256*86 + 86 = 22,102).
"""


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


def summary_lines(model):
    from .models import InputLayer, Sequential  # models imports this module
    sequential = isinstance(model, Sequential)
    width = 65 if sequential else 98
    positions = [29, 55, 65] if sequential else [32, 53, 65, 98]
    header = ["Layer (type)", "Output Shape", "Param #"] + ([] if sequential else ["Connected to"])
    layers = model.stack if sequential else model.layers
    lines = ["_" * width, _row(header, positions), "=" * width]
    for i, layer in enumerate(layers):
        fields = [f"{layer.name} ({type(layer).__name__})", layer.output_shape, layer.count_params()]
        links = [] if sequential or isinstance(layer, InputLayer) else _connections(layer, model.nodes)
        if not sequential:
            fields.append(links[0] if links else "")
        lines.append(_row(fields, positions))
        lines += [_row(["", "", "", link], positions) for link in links[1:]]
        lines.append(("=" if i == len(layers) - 1 else "_") * width)
    trainable = sum(int(p.get_value(borrow=True).size) for p in model.trainable_params)
    total = model.count_params()
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * width]
    return lines


def print_summary(model, print_fn=print):
    for line in summary_lines(model):
        print_fn(line)
