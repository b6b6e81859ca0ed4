"""Every kind of model symrnn trains, tiny, with its data: what the backend tests run.

``LAYER_MODELS`` maps a name to a builder ``() -> (model, x, y, loss)`` of an
uncompiled layer model in float64 (unless asked) with ``B`` rows of data.
:func:`sgd_run` trains one on a backend and returns what the tests compare:
the loss and gradients of the first step, and the losses and weights of a few
more. ``LESSON_MODELS`` are the raw lesson graphs (:func:`lesson_run`).
``MODELS`` maps every name to ``run(backend)`` (same starting weights on every
backend) and :func:`assert_runs_match` compares two runs.
"""
import numpy as np

from symrnn.graph.optimizers import SGD
from symrnn.layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    Model,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)
from symrnn.layers.charmodels import char_model
from symrnn.lesson.gru import LessonGRU
from symrnn.lesson.rnn import LessonRNN

V, H, T, B = 5, 3, 3, 4
SPARSE = "sparse_categorical_crossentropy"
LR = 0.5


def ids(shape, seed):
    return np.random.default_rng(seed).integers(0, V, shape)


def char(kind, dtype="float64", **kwargs):
    """A model ``symrnn train`` builds (:func:`symrnn.layers.charmodels.char_model`)."""
    def build():
        model = char_model(V, kind, hidden=H, seq_len=T, dtype=dtype, seed=3, **kwargs)
        return model, ids((B, T), 1), ids((B, T), 2), SPARSE
    return build


def stateful_lstm():
    """Lesson 7: stateful LSTM after batch normalisation; the states carry to the next batch."""
    model = Sequential([Embedding(V, 4, batch_size=B, input_length=T, dtype="float64", seed=1),
                        BatchNormalization(),
                        LSTM(H, return_sequences=True, stateful=True, seed=2),
                        TimeDistributed(Dense(V, activation="softmax", seed=3))])
    return model, ids((B, T), 1), ids((B, T), 2), SPARSE


def bidirectional():
    """A GRU forwards and a copy backwards in time, their sequences concatenated."""
    model = Sequential([Embedding(V, 4, input_length=T, dtype="float64", seed=1),
                        Bidirectional(GRU(H, return_sequences=True, seed=2)),
                        TimeDistributed(Dense(V, activation="softmax", seed=5))])
    return model, ids((B, T), 1), ids((B, T), 2), SPARSE


def two_outputs():
    """Functional model, two outputs with their own losses: next chars from the sequence
    (sparse cross-entropy) and a number from the final LSTM state (mse)."""
    x = Input((T,), dtype="int32")
    seq, h, _ = LSTM(H, return_sequences=True, return_state=True, seed=2)(
        Embedding(V, 4, dtype="float64", seed=1)(x))
    chars = TimeDistributed(Dense(V, activation="softmax", seed=3))(seq)
    value = Dense(1, seed=4)(h)
    y_value = np.random.default_rng(3).normal(size=(B, 1))
    return Model(x, [chars, value]), ids((B, T), 1), [ids((B, T), 2), y_value], [SPARSE, "mse"]


def loop_options():
    """The python-unrolled loop, with the recurrent gradient clipped at every step."""
    model = Sequential([Embedding(V, 4, input_length=T, dtype="float64", seed=1),
                        SimpleRNN(H, return_sequences=True, unroll=True, grad_clip=0.01, seed=2),
                        TimeDistributed(Dense(V, activation="softmax", seed=4))])
    return model, ids((B, T), 1), ids((B, T), 2), SPARSE


def truncated():
    """Backpropagation through time truncated to 2 steps."""
    model = Sequential([Embedding(V, 4, input_length=T, dtype="float64", seed=1),
                        GRU(H, return_sequences=True, truncate_gradient=2, seed=3),
                        TimeDistributed(Dense(V, activation="softmax", seed=4))])
    return model, ids((B, T), 1), ids((B, T), 2), SPARSE


def dropout():
    """Dropout inside gated steps and as a layer (random: the tests compare it at inference)."""
    model = Sequential([Embedding(V, 4, input_length=T, dtype="float64", seed=1),
                        LSTM(H, return_sequences=True, dropout=0.3, recurrent_dropout=0.3, seed=2),
                        Dropout(0.5, seed=5),
                        TimeDistributed(Dense(V, activation="softmax", seed=4))])
    return model, ids((B, T), 1), ids((B, T), 2), SPARSE


def masked():
    """Padded rows (id 0, before, after and between real steps; one row all padding)
    through a masked GRU and a bidirectional LSTM: losses over the real steps only."""
    model = Sequential([Embedding(V, 4, input_length=T, mask_zero=True, dtype="float64", seed=1),
                        GRU(H, return_sequences=True, seed=2),
                        Bidirectional(LSTM(H, return_sequences=True, seed=3)),
                        TimeDistributed(Dense(V, activation="softmax", seed=4))])
    x = np.array([[1, 2, 0], [0, 3, 4], [2, 0, 1], [0, 0, 0]])
    return model, x, ids((B, T), 2), SPARSE


LAYER_MODELS = {
    "char-lesson": char("lesson"), "char-simplernn": char("simplernn"),
    "char-gru": char("gru"), "char-lstm-keras1": char("lstm", keras1_gates=True),
    "stateful-lstm": stateful_lstm, "bidirectional": bidirectional, "two-outputs": two_outputs,
    "loop-options": loop_options, "truncated": truncated, "masked": masked,
}
RANDOM_MODELS = {"dropout": dropout}


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def sgd_run(build, backend, start=None, steps=3):
    """Train ``build()``'s model from the weights ``start`` with SGD on ``backend``: (first
    loss, first-step gradients, losses of ``steps`` more steps, final weights). The batch is
    the whole data, so a step is one call; the gradients are read off the first step,
    ``(w0 - w1) / LR``. (A Bidirectional layer draws its backward copy's weights unseeded,
    so every run starts from ``start``.)"""
    model, x, y, loss = build()
    model.set_weights(weights(build()[0]) if start is None else start)
    model.compile(SGD(lr=LR), loss, backend=backend)
    w0 = weights(model)
    first = model.fit(x, y, batch_size=B, shuffle=False, verbose=0).history["loss"][0]
    grads = [(a - b) / LR for a, b in zip(w0, weights(model))]
    later = model.fit(x, y, batch_size=B, epochs=steps, shuffle=False, verbose=0).history["loss"]
    return first, grads, later, weights(model)


def assert_runs_match(a, b, rtol=1e-9, atol=1e-12):
    first_a, grads_a, later_a, w_a = a
    first_b, grads_b, later_b, w_b = b
    np.testing.assert_allclose(first_a, first_b, rtol=rtol)
    for i, (ga, gb) in enumerate(zip(grads_a, grads_b, strict=True)):
        np.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol, err_msg=f"gradient {i}")
    np.testing.assert_allclose(later_a, later_b, rtol=rtol)
    for i, (wa, wb) in enumerate(zip(w_a, w_b, strict=True)):
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol, err_msg=f"weight {i}")


def lesson_run(make, backend, steps=3):
    """The raw lesson graphs, trained as the lesson trains them (``train_step``, SGD on one
    sequence): the same four things as :func:`sgd_run`."""
    rnn = make(backend)
    eye = np.eye(V)
    x, y = eye[ids(T + 1, 4)[:-1]], eye[ids(T + 1, 4)[1:]]
    params = lambda: [np.asarray(v) for v in rnn.get_params().values()]
    w0 = params()
    first = rnn.train_step(x, y, LR)
    grads = [(a - b) / LR for a, b in zip(w0, params())]
    later = [rnn.train_step(x, y, LR) for _ in range(steps)]
    return first, grads, later, params()


LESSON_MODELS = {
    "lesson-rnn": lambda backend: LessonRNN(V, H, dtype="float64", seed=1, backend=backend),
    "lesson-gru-separate": lambda backend: LessonGRU(V, H, "separate", dtype="float64", seed=1,
                                                     backend=backend),
    "lesson-gru-combined": lambda backend: LessonGRU(V, H, "combined", dtype="float64", seed=1,
                                                     backend=backend),
}


def _layer_runner(build):
    start = []

    def run(backend):
        if not start:   # every backend starts from the weights of one build
            start.append(weights(build()[0]))
        return sgd_run(build, backend, start[0])
    return run


MODELS = {**{name: _layer_runner(build) for name, build in LAYER_MODELS.items()},
          **{name: (lambda backend, make=make: lesson_run(make, backend))
             for name, make in LESSON_MODELS.items()}}
