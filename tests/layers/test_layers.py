"""Layers against independent computations: the raw lesson graph, numpy, verify_grad.

Sizes are non-square (vocab 7, hidden 5, T 4, features 4 vs units 3) so a
transposed weight cannot pass; everything gradient-related is float64.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import graph_replace

from symrnn.graph import losses
from symrnn.graph.backend import compile_function
from symrnn.layers import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Maximum,
    Multiply,
    Sequential,
    SimpleRNN,
    TimeDistributed,
    Updates,
)
from symrnn.lesson.rnn import LessonRNN

V, H, T = 7, 5, 4


def lesson_pair(seed=0):
    """The raw lesson RNN (perturbed weights, non-zero biases) and the layer model loaded from it."""
    rnn = LessonRNN(vocab_size=V, n_hidden=H, dtype="float64", seed=seed, backend="py")
    rng = np.random.default_rng(seed + 1)
    values = rnn.get_params()
    values["W_h"] = values["W_h"] + rng.normal(0, 0.1, (H, H))
    for b, n in (("b_h", H), ("b_x", H), ("b_y", V)):
        values[b] = rng.normal(0, 0.5, n)
    rnn.set_params(values)
    model = Sequential([
        SimpleRNN(H, activation="relu", inner_init="identity", return_sequences=True,
                  input_shape=(T, V), dtype="float64"),
        TimeDistributed(Dense(V, activation="softmax")),
    ])
    rnn_layer, td = model.stack
    rnn_layer.set_weights([values["W_x"], values["W_h"], values["b_x"] + values["b_h"]])
    td.layer.set_weights([values["W_y"], values["b_y"]])
    return rnn, model


def test_sequential_simplernn_equals_raw_lesson_graph_outputs_and_gradients():
    rnn, model = lesson_pair()
    rng = np.random.default_rng(3)
    x = np.eye(V)[rng.integers(0, V, T)]     # [T, V]
    y = np.eye(V)[rng.integers(0, V, T)]     # [T, V]
    np.testing.assert_allclose(model.predict(x[None], backend="py")[0], rnn.predict_proba(x),
                               rtol=1e-12, atol=1e-14)

    raw_grads = compile_function([rnn.h0, rnn.inp, rnn.outp], rnn.grads, backend="py")(
        np.zeros(H), x, y)
    raw = dict(zip(["W_h", "b_h", "W_x", "b_x", "W_y", "b_y"], raw_grads))
    [inp], [out], _ = model.build_graph(training=True)
    target = pt.tensor3("y")
    loss = losses.total(losses.categorical_crossentropy(out, target))
    rnn_layer, td = model.stack
    params = [rnn_layer.W_x, rnn_layer.W_h, rnn_layer.b, td.layer.W, td.layer.b]
    grads = compile_function([inp, target], pytensor.grad(loss, params), backend="py")(x[None], y[None])
    expected = [raw["W_x"], raw["W_h"], raw["b_x"], raw["W_y"], raw["b_y"]]
    np.testing.assert_allclose(raw["b_x"], raw["b_h"])  # why b = b_x + b_h is faithful
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_embedding_equals_one_hot_times_matrix():
    emb = Embedding(V, 3, input_length=T, dtype="float64", seed=0)
    model = Sequential([emb])
    ids = np.random.default_rng(0).integers(0, V, (2, T))
    W = emb.get_weights()[0]
    np.testing.assert_array_equal(model.predict(ids, backend="py"), np.eye(V)[ids] @ W)


# -- verify_grad over every layer -------------------------------------------------
def _case(layer, shapes, training=False, int_input=None):
    return layer, shapes, training, int_input


CASES = {
    "dense_tanh": lambda: _case(Dense(3, activation="tanh"), [(2, 4)]),
    "dense_softmax_normal": lambda: _case(Dense(3, activation="softmax", init="normal"), [(2, 4)]),
    "dense_sigmoid_3d": lambda: _case(Dense(3, activation="sigmoid"), [(2, 5, 4)]),
    "activation": lambda: _case(Activation("tanh"), [(2, 4)]),
    "flatten": lambda: _case(Flatten(), [(2, 3, 4)]),
    "embedding": lambda: _case(Embedding(V, 3), [(2, T)], int_input=np.array([[0, 6, 2, 2], [1, 3, 5, 6]])),
    "time_distributed": lambda: _case(TimeDistributed(Dense(3, activation="tanh")), [(2, 5, 4)]),
    "simplernn_last": lambda: _case(SimpleRNN(3, activation="tanh"), [(2, 5, 4)]),
    "simplernn_seq_backwards": lambda: _case(
        SimpleRNN(3, activation="tanh", return_sequences=True, go_backwards=True), [(2, 5, 4)]),
    "simplernn_unrolled_state": lambda: _case(
        SimpleRNN(3, activation="tanh", return_state=True, unroll=True), [(2, 5, 4)]),
    "batchnorm_training": lambda: _case(BatchNormalization(), [(6, 4)], training=True),
    "dropout_training_fixed_mask": lambda: _case(Dropout(0.5, seed=1), [(3, 4)], training=True),
    "dropout_p0": lambda: _case(Dropout(0.0), [(3, 4)], training=True),
    "add": lambda: _case(Add(), [(2, 4), (2, 4)]),
    "concatenate_last": lambda: _case(Concatenate(), [(2, 3, 4), (2, 3, 2), (2, 3, 1)]),
    "concatenate_time": lambda: _case(Concatenate(axis=1), [(2, 3, 4), (2, 1, 4)]),
    "multiply": lambda: _case(Multiply(), [(2, 4), (2, 4), (2, 4)]),
    "average": lambda: _case(Average(), [(2, 4), (2, 4)]),
    "maximum": lambda: _case(Maximum(), [(2, 4), (2, 4)]),   # random inputs: no ties
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_layer_passes_verify_grad(case):
    layer, shapes, training, int_input = CASES[case]()
    layer.dtype, layer.seed, layer.rng = "float64", 0, np.random.default_rng(0)
    rng = np.random.default_rng(1)
    multi = len(shapes) > 1
    layer.maybe_build([(None,) + s[1:] for s in shapes] if multi else (None,) + shapes[0][1:],
                      "float64")
    params = layer.trainable_params
    for p in params:  # move off zeros / ones so biases and batchnorm scales matter
        p.set_value(p.get_value() + rng.normal(0, 0.3, p.get_value().shape))
    xs = [rng.normal(0, 1, s) for s in shapes] if int_input is None else []

    def cost(*args):
        inputs = [pt.as_tensor(int_input)] if int_input is not None else list(args[:len(shapes)])
        outs = layer.apply(inputs if multi else inputs[0], training, Updates())
        total = 0
        for i, out in enumerate(outs if isinstance(outs, list) else [outs]):
            # fixed weights so every output element matters (a plain sum of a softmax is 1)
            total = total + (out * pt.cos(pt.arange(out.size) + i).reshape(out.shape)).sum()
        sym_params = args[len(xs):]
        return graph_replace(total, dict(zip(params, sym_params)))

    values = xs + [p.get_value() for p in params]
    verify_grad(cost, values, rng=np.random.default_rng(0), abs_tol=1e-5, rel_tol=1e-5,
                mode="FAST_COMPILE", no_debug_ref=False)  # cost in FAST_COMPILE too (not numba)


def test_time_distributed_folds_a_swapped_input_where_it_lies():
    """Over ``y.dimshuffle(1, 0, 2)`` (a recurrent layer's sequence of its time-major
    states), TimeDistributed folds ``y`` itself and swaps its result back: the same values
    and gradients as folding the swapped view, and the swap comes last."""
    rng = np.random.default_rng(3)
    layer = TimeDistributed(Dense(3, activation="softmax"))
    layer.dtype = "float64"
    layer.maybe_build((None, T, 4), "float64")
    W = layer.trainable_params[0]
    W.set_value(rng.normal(size=W.get_value().shape))
    y, x = pt.tensor3("y", dtype="float64"), pt.tensor3("x", dtype="float64")
    swapped = layer.apply(y.dimshuffle(1, 0, 2), False, Updates())   # y: [T, B, F]
    plain = layer.apply(x, False, Updates())                         # x: the same, [B, T, F]
    assert swapped.owner.op.new_order == (1, 0, 2)
    weights = pt.as_tensor(rng.normal(size=(2, T, 3)))   # every output element matters
    functions = [pytensor.function([v], [out, *pytensor.grad((out * weights).sum(), [v, W])],
                                   mode="FAST_COMPILE")
                 for v, out in ((y, swapped), (x, plain))]
    y_value = rng.normal(size=(T, 2, 4))
    got, want = functions[0](y_value), functions[1](y_value.transpose(1, 0, 2))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1].transpose(1, 0, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12)
