"""The layer API never trains on bad input (issue 17): a table of refusals on both backends.

Every case calls one entry point (fit, evaluate, predict, the *_on_batch
methods, fit on a mixer or a generator, load_weights/load_model) with one
bad thing, and checks the exception's exact type, that its message names the
problem, and that every weight, optimizer accumulator, RNG state and the
model's History are bit-identical afterwards. The models are first trained
on good data, so their compiled functions exist and a missing check would
reach them (on Numba, whose kernels do not always check bounds).
"""
import re

import numpy as np
import pytest
from state import changed, snapshot

from symrnn.data.mixer import BatchMixer
from symrnn.errors import CheckpointError, ConfigError, DTypeError, ShapeError
from symrnn.graph.optimizers import Adam
from symrnn.io import load_arrays, save_arrays
from symrnn.layers import (
    Add,
    Callback,
    Dense,
    EarlyStopping,
    Embedding,
    Input,
    Model,
    Sequential,
    SimpleRNN,
    TimeDistributed,
)

V, T, N = 11, 5, 6


def issue_model(backend):
    """The issue's model; the recurrent layer's dropout gives it a live RNG state."""
    model = Sequential([Embedding(V, 4, input_length=T, seed=0, name="emb"),
                        SimpleRNN(6, return_sequences=True, dropout=0.25, seed=1, name="rnn"),
                        TimeDistributed(Dense(V, activation="softmax", seed=2, name="out"),
                                        name="td")])
    model.compile(Adam(), "sparse_categorical_crossentropy", metrics=["accuracy"], backend=backend)
    return model


def features_model(backend):
    """int32 features (no Embedding) and float32 features, one-hot targets."""
    ids, feats = Input((3,), dtype="int32", name="ids"), Input((3,), dtype="float32", name="feats")
    z = Add(name="sum")([Dense(2, dtype="float64", seed=3, name="d_ids")(ids),
                         Dense(2, dtype="float64", seed=4, name="d_feats")(feats)])
    out = Dense(2, activation="softmax", dtype="float64", seed=5, name="probs")(z)
    model = Model([ids, feats], out)
    model.compile(Adam(), "categorical_crossentropy", backend=backend)
    return model


def good_ids(rows=N, seed=0):
    return np.random.default_rng(seed).integers(0, V, (rows, T))


def good_features(rows=N):
    rng = np.random.default_rng(1)
    return [rng.integers(-5, 5, (rows, 3)), rng.normal(size=(rows, 3))], np.eye(2)[rng.integers(0, 2, rows)]


def build_models(backend, folder, train_features=True):
    """Both models, trained on good data (compiling their training functions), and bad files.

    On Numba only the issue's model is trained: a cold compile costs a minute, and
    the features model's refusals come before any of its functions exist anyway."""
    main, feats = issue_model(backend), features_model(backend)
    before = snapshot(main)
    main.fit(good_ids(), good_ids(seed=1), batch_size=3, epochs=1, verbose=0, seed=0)
    assert len(changed(before, snapshot(main))) > 0     # good data does change the state
    if train_features:
        xf, yf = good_features()
        feats.fit(xf, yf, batch_size=3, verbose=0)
    write_bad_files(main, folder)
    return {"main": main, "features": feats, "files": folder}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models("py", tmp_path_factory.mktemp("bad_files"))


def write_bad_files(model, folder):
    model.save_weights(folder / "good_weights.npz")
    model.save(folder / "good_model.npz")
    for name in ("good_weights.npz", "good_model.npz"):
        arrays, meta = load_arrays(folder / name)
        save_arrays(folder / name.replace("good", "newer"), arrays, {**meta, "version": 2})
        save_arrays(folder / name.replace("good", "odd_version"), arrays, {**meta, "version": "2.0"})
        nan = {k: (np.full_like(v, np.nan) if k == "rnn.W_h" else v) for k, v in arrays.items()}
        save_arrays(folder / name.replace("good", "nan"), nan, meta)
    arrays, meta = load_arrays(folder / "good_weights.npz")
    save_arrays(folder / "other_format.npz", arrays, {"format": "symrnn-checkpoint", "step": 3})


def with_value(value, index=(1, 2), rows=N, dtype=None):
    x = good_ids(rows).astype(dtype or np.int64)
    x[index] = value
    return x


def ragged():
    return [[1, 2, 3, 4, 5], [1, 2]]


def bad_mixer():
    real = (good_ids(40), good_ids(40, seed=2))
    pseudo_y = good_ids(10, seed=3)
    pseudo_y[7, 4] = V                     # deep in the second source: refused before batch one
    return BatchMixer([real, (good_ids(10, seed=4), pseudo_y)], [3, 1], batch_size=4, seed=0)


def bad_generator():
    x = good_ids(4)
    x[2, 1] = -3
    return iter([(x, good_ids(4))] * 3)


Y = good_ids(seed=1)

# (case id, which model, call(model, files), exception type, message pattern)
CASES = [
    # the four from the issue
    ("fit_id_minus_one", "main", lambda m, f: m.fit(np.full((N, T), -1), Y, verbose=0),
     ShapeError, r"x: id -1 at index \(0, 0\) is outside \[0, 11\), the rows of Embedding emb"),
    ("fit_id_equal_vocab", "main", lambda m, f: m.fit(with_value(V), Y, verbose=0),
     ShapeError, r"x: id 11 at index \(1, 2\) is outside \[0, 11\)"),
    ("predict_id_equal_vocab", "main", lambda m, f: m.predict(with_value(V)),
     ShapeError, r"x: id 11 at index \(1, 2\) is outside \[0, 11\)"),
    ("fit_zero_rows", "main",
     lambda m, f: m.fit(np.zeros((0, T), int), np.zeros((0, T), int), verbose=0),
     ShapeError, r"x is empty \(shape \(0, 5\)\)"),
    # input ids
    ("fit_id_far_too_big", "main", lambda m, f: m.fit(with_value(2 ** 40), Y, verbose=0),
     ShapeError, r"id 1099511627776 at index \(1, 2\) is outside \[0, 11\)"),
    ("fit_fractional_float_ids", "main",
     lambda m, f: m.fit(with_value(2.5, dtype=np.float64), Y, verbose=0),
     DTypeError, r"x: 2.5 at index \(1, 2\) is not a whole number"),
    ("fit_nan_ids", "main", lambda m, f: m.fit(with_value(np.nan, (0, 1), dtype=np.float64), Y, verbose=0),
     ShapeError, r"x: nan at index \(0, 1\); needs finite numbers"),
    ("fit_inf_ids", "main", lambda m, f: m.fit(with_value(-np.inf, (3, 0), dtype=np.float32), Y, verbose=0),
     ShapeError, r"x: -inf at index \(3, 0\)"),
    ("fit_bool_ids", "main", lambda m, f: m.fit(good_ids() > 5, Y, verbose=0),
     DTypeError, r"x has dtype bool where numbers are expected; cast with .astype\(int\)"),
    ("fit_object_ids", "main", lambda m, f: m.fit(good_ids().astype(object), Y, verbose=0),
     DTypeError, r"x has dtype object"),
    ("fit_string_ids", "main", lambda m, f: m.fit(good_ids().astype(str), Y, verbose=0),
     DTypeError, r"x has dtype <U\d+ \(strings\)"),
    ("fit_complex_ids", "main", lambda m, f: m.fit(good_ids() + 0j, Y, verbose=0),
     DTypeError, r"complex numbers"),
    ("fit_ragged_list", "main", lambda m, f: m.fit(ragged(), Y[:2], verbose=0),
     ShapeError, r"x cannot be read as one array"),
    ("fit_wrong_length", "main", lambda m, f: m.fit(good_ids()[:, :4], Y, verbose=0),
     ShapeError, r"x: expected shape \(None, 5\) \(None = any size\), got \(6, 4\); each sample "
                 r"needs shape \(5,\)"),
    ("fit_wrong_ndim", "main", lambda m, f: m.fit(good_ids()[..., None].repeat(2, -1), Y, verbose=0),
     ShapeError, r"expected shape \(None, 5\).*got \(6, 5, 2\)"),
    ("fit_two_arrays_for_one_input", "main", lambda m, f: m.fit([good_ids(), good_ids()], Y, verbose=0),
     ShapeError, r"the model has 1 input\(s\), got 2 array\(s\)"),
    # targets
    ("fit_target_minus_one", "main", lambda m, f: m.fit(good_ids(), with_value(-1, (4, 4)), verbose=0),
     ShapeError, r"y: id -1 at index \(4, 4\) is outside \[0, 11\), the classes of output td"),
    ("fit_target_equal_classes", "main", lambda m, f: m.fit(good_ids(), with_value(V), verbose=0),
     ShapeError, r"y: id 11 at index \(1, 2\) is outside \[0, 11\)"),
    ("fit_target_fractional", "main",
     lambda m, f: m.fit(good_ids(), with_value(0.5, dtype=np.float32), verbose=0),
     DTypeError, r"y: 0.5 at index \(1, 2\) is not a whole number"),
    ("fit_target_bool", "main", lambda m, f: m.fit(good_ids(), Y > 3, verbose=0),
     DTypeError, r"y has dtype bool"),
    ("fit_target_wrong_shape", "main", lambda m, f: m.fit(good_ids(), Y[:, :3], verbose=0),
     ShapeError, r"y: expected shape \(None, 5\)"),
    ("fit_rows_differ", "main", lambda m, f: m.fit(good_ids(), good_ids(N + 1), verbose=0),
     ShapeError, r"same number of samples \(rows\), got x: 6, y: 7"),
    ("fit_empty_targets", "main", lambda m, f: m.fit(good_ids(), np.zeros((0, T), int), verbose=0),
     ShapeError, r"y is empty"),
    ("fit_no_targets", "main", lambda m, f: m.fit(good_ids(), verbose=0),
     ConfigError, r"fit needs targets y"),
    # the other entry points
    ("evaluate_id_equal_vocab", "main", lambda m, f: m.evaluate(with_value(V), Y),
     ShapeError, r"x: id 11 at index \(1, 2\)"),
    ("train_on_batch_minus_one", "main", lambda m, f: m.train_on_batch(with_value(-1), Y),
     ShapeError, r"x: id -1 at index \(1, 2\)"),
    ("test_on_batch_bad_target", "main", lambda m, f: m.test_on_batch(good_ids(), with_value(12)),
     ShapeError, r"y: id 12 at index \(1, 2\)"),
    ("predict_on_batch_strings", "main", lambda m, f: m.predict_on_batch(good_ids().astype(str)),
     DTypeError, r"strings"),
    ("validation_data_bad_id", "main",
     lambda m, f: m.fit(good_ids(), Y, validation_data=(with_value(-2), Y), verbose=0),
     ShapeError, r"validation_data: x: id -2 at index \(1, 2\)"),
    ("mixer_source_bad_target", "main", lambda m, f: m.fit(bad_mixer(), epochs=1, verbose=0),
     ShapeError, r"y: id 11 at index \(7, 4\)"),
    ("generator_first_batch_bad", "main",
     lambda m, f: m.fit(bad_generator(), steps_per_epoch=3, verbose=0),
     ShapeError, r"x: id -3 at index \(2, 1\)"),
    # arguments
    ("validation_split_one", "main", lambda m, f: m.fit(good_ids(), Y, validation_split=1.0, verbose=0),
     ConfigError, r"validation_split must be a number in \[0, 1\)"),
    ("validation_split_leaves_nothing", "main",
     lambda m, f: m.fit(good_ids(1), Y[:1], validation_split=0.9, verbose=0),
     ShapeError, r"leaves none to train on"),
    ("epochs_and_nb_epoch_differ", "main", lambda m, f: m.fit(good_ids(), Y, epochs=2, nb_epoch=3, verbose=0),
     ConfigError, r"epochs=2 and nb_epoch=3 disagree"),
    ("batch_size_zero", "main", lambda m, f: m.fit(good_ids(), Y, batch_size=0, verbose=0),
     ConfigError, r"batch_size must be a whole number >= 1, got 0"),
    ("not_a_callback", "main", lambda m, f: m.fit(good_ids(), Y, callbacks=[print], verbose=0),
     ConfigError, r"callbacks must be Callback objects"),
    ("monitor_not_logged", "main",
     lambda m, f: m.fit(good_ids(), Y, callbacks=[EarlyStopping()], verbose=0),
     ConfigError, r"EarlyStopping monitors 'val_loss', which this fit does not log.*validation_data"),
    # integer features without an Embedding, float32 features, one-hot targets
    ("int32_overflow", "features",
     lambda m, f: m.fit([with_value(2 ** 40, (2, 1), dtype=np.int64)[:, :3], good_features()[0][1]],
                        good_features()[1], verbose=0),
     DTypeError, r"x\[0\] \(input ids\): 1099511627776 at index \(2, 1\) does not fit int32"),
    ("float32_overflow", "features",
     lambda m, f: m.fit([good_features()[0][0], np.full((N, 3), 1e39)], good_features()[1], verbose=0),
     DTypeError, r"x\[1\] \(input feats\): 1e\+39 at index \(0, 0\) overflows float32"),
    ("negative_probability_target", "features",
     lambda m, f: m.fit(good_features()[0], -good_features()[1], verbose=0),
     ShapeError, r"y: -1.0 at index \(\d, \d\) is negative; targets of this loss are probabilities"),
    # files
    ("load_weights_newer_version", "main", lambda m, f: m.load_weights(f / "newer_weights.npz"),
     CheckpointError, r"newer_weights.npz' is symrnn-weights version 2, newer than this symrnn "
                      r"supports \(version 1\)"),
    ("load_weights_unknown_version", "main", lambda m, f: m.load_weights(f / "odd_version_weights.npz"),
     CheckpointError, r"unknown format version '2.0'; this symrnn reads format versions 1 to 1"),
    ("load_weights_nan", "main", lambda m, f: m.load_weights(f / "nan_weights.npz"),
     CheckpointError, r"nan_weights.npz': rnn.W_h holds NaN or inf"),
    ("load_weights_other_format", "main", lambda m, f: m.load_weights(f / "other_format.npz"),
     CheckpointError, r"is not a symrnn-weights or symrnn-model file \(format 'symrnn-checkpoint'\); "
                      r"pass a file written by model.save_weights or model.save"),
    ("load_weights_missing_file", "main", lambda m, f: m.load_weights(f / "no_such.npz"),
     CheckpointError, r"no checkpoint at .*no_such.npz"),
]


def refusal_problems(models, case, which, call, error, message):
    """What is wrong with one case (an empty list: refused as it should be, nothing changed)."""
    model = models[which]
    before = snapshot(model)
    try:
        call(model, models["files"])
    except Exception as err:        # noqa: BLE001 - the type is what is checked
        problems = [] if type(err) is error else [f"raised {type(err).__name__}: {err}"]
        if not re.search(message, str(err)):
            problems.append(f"message {str(err)!r} does not match {message!r}")
    else:
        problems = ["nothing was raised"]
    moved = changed(before, snapshot(model))
    return problems + ([f"changed {moved}"] if moved else [])


@pytest.mark.parametrize("case, which, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(models, case, which, call, error, message):
    assert refusal_problems(models, case, which, call, error, message) == []


@pytest.mark.heavy
def test_bad_input_table_on_numba(tmp_path):
    """The same table on the Numba backend, in one test so one worker compiles the models."""
    models = build_models("numba", tmp_path, train_features=False)
    problems = {c[0]: refusal_problems(models, *c) for c in CASES}
    assert {case: p for case, p in problems.items() if p} == {}


@pytest.mark.parametrize("name", ["newer_model.npz", "odd_version_model.npz", "nan_model.npz",
                                  "good_weights.npz"])
def test_load_model_refuses_files_by_name(models, name):
    from symrnn.layers import load_model
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_model(models["files"] / name)


def test_the_table_covers_every_array_entry_point():
    calls = " ".join(str(c[2].__code__.co_names) for c in CASES)
    for entry in ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch",
                  "predict_on_batch", "load_weights"):
        assert f"'{entry}'" in calls, entry
    assert len(CASES) >= 25


def test_good_input_after_refusals_still_trains(models):
    """The refusals left the model usable: the same good call now changes its state."""
    model = models["main"]
    before = snapshot(model)
    loss, acc = model.train_on_batch(good_ids(), Y)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert "emb.W" in " ".join(changed(before, snapshot(model)))


class StopsAfterOneBatch(Callback):
    def on_batch_end(self, batch, logs=None):
        self.model.stop_training = True


def test_a_source_batch_refused_mid_epoch_keeps_what_trained_before_it():
    """Batches from a generator are new data, checked as they arrive: a bad third batch is
    refused before it runs; the two good batches before it have trained (nothing is lost)."""
    model = issue_model("py")
    good = [(good_ids(3, seed=s), good_ids(3, seed=s + 10)) for s in range(2)]
    bad_x = good_ids(3)
    bad_x[0, 0] = V
    with pytest.raises(ShapeError, match=r"id 11 at index \(0, 0\)"):
        model.fit(iter(good + [(bad_x, good_ids(3))]), steps_per_epoch=3, verbose=0)
    replay = issue_model("py")
    for xb, yb in good:
        replay.train_on_batch(xb, yb)
    for a, b in zip(model.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_stateful_model_keeps_its_carried_states_when_refused():
    model = Sequential([Embedding(V, 3, input_length=T, batch_size=2, seed=0),
                        SimpleRNN(4, stateful=True, return_sequences=True, seed=1),
                        TimeDistributed(Dense(V, activation="softmax", seed=2))])
    model.compile(Adam(), "sparse_categorical_crossentropy", backend="py")
    model.fit(good_ids(4), good_ids(4, seed=1), batch_size=2, shuffle=False, verbose=0)
    rnn = model.stack[1]
    assert np.abs(rnn.states[0].get_value()).sum() > 0        # the states carry something
    cases = [
        (lambda: model.fit(good_ids(3), good_ids(3), batch_size=2, shuffle=False, verbose=0),
         ShapeError, r"3 samples is not a multiple of the fixed batch size 2"),
        (lambda: model.fit(good_ids(4), good_ids(4), batch_size=4, verbose=0),
         ConfigError, r"fixed batch size of 2 .* pass batch_size=2, got 4"),
        (lambda: model.predict(with_value(-1, rows=4), batch_size=2), ShapeError, r"id -1"),
        (lambda: model.predict_on_batch(good_ids(4)), ShapeError,
         r"the batch has 4 rows, but the model has a fixed batch size of 2"),
        (lambda: model.train_on_batch(good_ids(2), with_value(V, (0, 0), rows=2)), ShapeError,
         r"y: id 11 at index \(0, 0\)"),
        (lambda: model.fit(iter([(good_ids(3), good_ids(3))]), steps_per_epoch=1, verbose=0),
         ShapeError, r"a batch from the source has 3 rows, but the model has a fixed batch size of 2"),
    ]
    for call, error, message in cases:
        before = snapshot(model)
        with pytest.raises(error, match=message) as caught:
            call()
        assert type(caught.value) is error
        assert changed(before, snapshot(model)) == []
