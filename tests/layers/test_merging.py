"""Merge layers (Keras 2's Concatenate, Multiply, Average, Maximum; Keras 1's merge): values
equal numpy's through a functional Model, gradients reach both branches, shapes are checked
when a layer is called, and a saved model with a Concatenate reloads to the same predictions."""
import numpy as np
import pytest

from symrnn.errors import ConfigError, ShapeError
from symrnn.graph.optimizers import SGD
from symrnn.layers import (
    GRU,
    Add,
    Average,
    Concatenate,
    Dense,
    Embedding,
    Flatten,
    Input,
    Maximum,
    Model,
    Multiply,
    SimpleRNN,
    load_model,
    merge,
)

RNG = np.random.default_rng(0)
A, B, C = (RNG.normal(size=(2, 3, 4)) for _ in range(3))

ELEMENTWISE = {
    "sum": (Add, lambda xs: sum(xs)),
    "mul": (Multiply, lambda xs: np.prod(xs, axis=0)),
    "ave": (Average, lambda xs: np.mean(xs, axis=0)),
    "max": (Maximum, lambda xs: np.max(xs, axis=0)),
}


def predict(inputs, output, arrays):
    return Model(inputs, output).predict(arrays, backend="py")


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("mode", sorted(ELEMENTWISE))
def test_elementwise_modes_equal_numpy(mode, count):
    layer_class, reference = ELEMENTWISE[mode]
    arrays = [A, B, C][:count]
    for build in (lambda xs: merge(xs, mode=mode), lambda xs: layer_class()(xs)):
        inputs = [Input((3, 4), dtype="float64") for _ in arrays]
        out = build(inputs)
        assert out.shape == (None, 3, 4) and out.dtype == "float64"
        np.testing.assert_allclose(predict(inputs, out, arrays), reference(arrays),
                                   rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("axis, shapes", [
    (-1, [(3, 4), (3, 2)]), (2, [(3, 4), (3, 1), (3, 2)]), (1, [(3, 4), (5, 4)]),
    (-2, [(1, 4), (3, 4)]),
])
def test_concatenate_equals_numpy_along_each_axis(axis, shapes):
    arrays = [RNG.normal(size=(2,) + s) for s in shapes]
    for build in (lambda xs: merge(xs, mode="concat", concat_axis=axis),
                  lambda xs: Concatenate(axis=axis)(xs)):
        inputs = [Input(s, dtype="float64") for s in shapes]
        out = build(inputs)
        expected = np.concatenate(arrays, axis=axis)
        assert out.shape == (None,) + expected.shape[1:]
        np.testing.assert_array_equal(predict(inputs, out, arrays), expected)


def test_unknown_sizes_agree_with_any_size():
    a, b = Input((None, 4)), Input((5, 2))
    assert Concatenate()([a, b]).shape == (None, 5, 6)
    assert Concatenate(axis=1)([a, Input((5, 4))]).shape == (None, None, 4)
    assert Maximum()([a, Input((5, 4))]).shape == (None, 5, 4)


def test_output_dtype_is_the_operations():
    f32 = [Input((2,), dtype="float32"), Input((3,), dtype="float32")]
    assert Concatenate()(f32).dtype == "float32"
    ids = [Input((2,), dtype="int32"), Input((3,), dtype="int32")]
    joined = merge(ids, mode="concat")
    assert joined.dtype == "int32"          # ids stay ids: an Embedding can take them
    emb = Embedding(6, 2, dtype="float64", seed=0, name="emb")
    out = Flatten()(emb(joined))
    x = [np.array([[0, 1]]), np.array([[2, 3, 5]])]
    W = emb.get_weights()[0]
    np.testing.assert_array_equal(predict(ids, out, x), W[[0, 1, 2, 3, 5]].reshape(1, -1))
    assert Average()([Input((2,), dtype="float32"), Input((2,), dtype="float32")]).dtype == "float32"
    cast = Concatenate(dtype="float32")([Input((2,), dtype="float64"), Input((1,), dtype="float64")])
    assert cast.dtype == "float32"


def test_concat_of_two_rnn_branches_trains_one_step():
    x_in = Input((5, 3), dtype="float64")
    left = SimpleRNN(4, seed=1, name="left")(x_in)
    right = GRU(3, seed=2, name="right")(x_in)
    joined = merge([left, right], mode="concat", name="joined")
    assert joined.shape == (None, 7)
    out = Dense(2, activation="softmax", seed=3, name="out")(joined)
    model = Model(x_in, out)
    model.compile(SGD(lr=0.5), "sparse_categorical_crossentropy", backend="py")
    x, y = RNG.normal(size=(6, 5, 3)), np.array([0, 1, 1, 0, 1, 0])
    before = model.get_weights()
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    after = model.get_weights()
    names = [p.name for p in model.params]
    moved = {n for n, w0, w1 in zip(names, before, after) if not np.array_equal(w0, w1)}
    assert moved == set(names)                     # both branches get a gradient
    assert model.evaluate(x, y) < loss


def test_multiply_average_maximum_gradients_reach_every_input():
    inputs = [Input((3,), dtype="float64") for _ in range(2)]
    dense = [Dense(3, seed=i, name=f"d{i}") for i in range(2)]
    branches = [d(x) for d, x in zip(dense, inputs)]
    outs = [Dense(2, activation="softmax", seed=5, name=f"o_{m}")(merge(branches, mode=m))
            for m in ("mul", "ave", "max")]
    model = Model(inputs, outs)
    model.compile(SGD(lr=0.1), "sparse_categorical_crossentropy", backend="py")
    x, y = [RNG.normal(size=(4, 3)) for _ in range(2)], np.array([0, 1, 1, 0])
    before = [d.get_weights() for d in dense]
    model.train_on_batch(x, [y, y, y])
    for d, w0 in zip(dense, before):
        assert all(not np.array_equal(a, b) for a, b in zip(w0, d.get_weights())), d.name


# -- errors, before anything is recorded ---------------------------------------------
@pytest.mark.parametrize("mode", ["cos", "dot", "concatenate", None, lambda xs: xs[0]])
def test_unsupported_modes_are_refused(mode):
    with pytest.raises(ConfigError, match="merge mode .* is not supported; use one of 'sum', "
                                          "'mul', 'concat', 'ave', 'max'"):
        merge([Input((2,)), Input((2,))], mode=mode)


@pytest.mark.parametrize("inputs, got", [
    (lambda: [Input((2,))], "a list of 1"), (lambda: Input((2,)), "KTensor"),
])
def test_merges_need_a_list_of_at_least_two(inputs, got):
    with pytest.raises(ConfigError, match=f"merge needs a list of at least 2 tensors, got {got}"):
        merge(inputs(), mode="concat")
    layer = Concatenate(name="c")
    with pytest.raises(ConfigError, match=f"c: Concatenate merges a list of at least 2 "
                                          f"tensors, got {got}"):
        layer(inputs())
    assert layer.inbound_nodes == [] and not layer.built


def test_mismatched_shapes_name_the_shapes_and_the_axis():
    a, b = Input((3, 4)), Input((3, 5))
    layer = Multiply(name="m")
    with pytest.raises(ShapeError, match=r"m: Multiply needs inputs of one shape \(None = any "
                                         r"size\), got shapes \[\(None, 3, 4\), \(None, 3, 5\)\] "
                                         r"\(axis 2 differs: 4 vs 5\)"):
        layer([a, b])
    assert layer.inbound_nodes == [] and not layer.built and layer.dtype is None
    with pytest.raises(ShapeError, match=r"Average needs inputs of one shape, got shapes "
                                         r"\[\(None, 3, 4\), \(None, 4\)\] with \[3, 2\] axes"):
        Average()([a, Input((4,))])
    with pytest.raises(ShapeError, match=r"concat: Concatenate needs the inputs' shapes equal "
                                         r"except along axis -1 .* \(axis 1 differs: 3 vs 6\)"):
        merge([a, Input((6, 5))], mode="concat", name="concat")
    with pytest.raises(ShapeError, match=r"axis 2 differs: 4 vs 5"):
        Concatenate(axis=1)([a, b])
    with pytest.raises(ShapeError, match="Add needs inputs of one shape"):
        merge([a, b], mode="sum")


@pytest.mark.parametrize("axis, message", [
    (3, r"Concatenate axis 3 is outside the axes of inputs of shapes \[\(None, 3, 4\), "
        r"\(None, 3, 4\)\] \(valid: -2 to 2, batch axis excluded\)"),
    (-4, "Concatenate axis -4 is outside the axes"),
    (0, "Concatenate axis 0 is the batch axis; samples cannot be joined, pick an axis from 1 to 2"),
    (-3, "Concatenate axis -3 is the batch axis"),
])
def test_bad_concat_axes_are_shape_errors(axis, message):
    a, b = Input((3, 4)), Input((3, 4))
    layer = Concatenate(axis=axis)
    with pytest.raises(ShapeError, match=message):
        layer([a, b])
    assert layer.inbound_nodes == []
    with pytest.raises(ShapeError, match=message.split(" is ")[0]):
        merge([a, b], mode="concat", concat_axis=axis)


@pytest.mark.parametrize("axis", [1.0, "last", None, True])
def test_concat_axis_must_be_an_int(axis):
    with pytest.raises(ConfigError, match="Concatenate axis must be an int"):
        Concatenate(axis=axis)
    with pytest.raises(ConfigError, match="Concatenate axis must be an int"):
        merge([Input((2,)), Input((2,))], mode="concat", concat_axis=axis)


def test_call_arguments_other_than_the_inputs_are_refused():
    with pytest.raises(ConfigError, match="takes no call arguments besides its list of inputs"):
        Maximum()([Input((2,)), Input((2,))], scale=2)


# -- config and saving -------------------------------------------------------------
@pytest.mark.parametrize("layer", [Concatenate(axis=1, name="c1"), Multiply(name="m1"),
                                   Average(name="a1"), Maximum(name="x1", dtype="float32")],
                         ids=lambda l: type(l).__name__)
def test_get_config_round_trips(layer):
    layer([Input((2, 2)), Input((2, 2))])
    config = layer.get_config()
    again = type(layer)(**config)
    assert again.get_config() == config
    if isinstance(layer, Concatenate):
        assert config["axis"] == 1
    assert config["dtype"] == (None if layer.name != "x1" else "float32")


def test_saved_model_with_a_concatenate_layer_predicts_the_same(tmp_path):
    a, b = Input((4, 3), dtype="float64", name="a"), Input((4, 2), dtype="float64", name="b")
    joined = Concatenate(name="cat")([SimpleRNN(3, seed=1, return_sequences=True)(a), b])
    out = Dense(2, activation="softmax", seed=2)(Flatten()(joined))
    model = Model([a, b], out)
    x = [RNG.normal(size=(3, 4, 3)), RNG.normal(size=(3, 4, 2))]
    model.save(tmp_path / "cat.npz")
    loaded = load_model(tmp_path / "cat.npz")
    cat = next(layer for layer in loaded.layers if layer.name == "cat")
    assert isinstance(cat, Concatenate) and cat.output_shape == (None, 4, 5)
    np.testing.assert_array_equal(loaded.predict(x, backend="py"), model.predict(x, backend="py"))


def test_summary_lists_a_merge_layer_with_its_inputs():
    a, b = Input((2,), name="in_a"), Input((3,), name="in_b")
    model = Model([a, b], Concatenate(name="cat")([a, b]))
    lines = []
    model.summary(print_fn=lines.append)
    row = next(i for i, line in enumerate(lines) if line.startswith("cat (Concatenate)"))
    assert "(None, 5)" in lines[row] and lines[row].endswith("in_a[0][0]")
    assert lines[row + 1].strip() == "in_b[0][0]"
