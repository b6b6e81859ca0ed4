"""The jax backend beyond the model table (tests/graph/test_backends.py): optimizers,
evaluation, prediction and the generator, dropout, float32,
one compile per batch shape, other backends reading JAX-trained weights, and data
parallelism over two XLA host devices (in a subprocess: the device count is fixed when
jax starts). Skipped without jax (``pip install 'symrnn[jax]'``).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytensor.tensor as pt
import pytest
from backend_models import (
    LR,
    SPARSE,
    B,
    T,
    V,
    assert_runs_match,
    char,
    dropout,
    sgd_run,
    weights,
)
from imports import TESTS_DIR

from symrnn.errors import ConfigError
from symrnn.graph.jax import static_shapes as jax_backend
from symrnn.graph.optimizers import SGD, Adagrad, Adam, RMSprop
from symrnn.layers import Dense, Input, Model, fitting
from symrnn.layers.generation import Generator
from symrnn.runtime import with_package_on_path

jax = pytest.importorskip("jax")
pytestmark = [pytest.mark.jax, pytest.mark.proof]
TESTS = TESTS_DIR


def dense_model():
    x = Input((4,), dtype="float64")
    return Model(x, Dense(3, activation="softmax", seed=1)(x))


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.3, momentum=0.9, nesterov=True),
                                  lambda: Adam(lr=0.1, clipnorm=0.05),
                                  lambda: RMSprop(lr=0.1, clipvalue=0.02),
                                  lambda: Adagrad(lr=0.3)],
                         ids=["sgd-nesterov", "adam-clipnorm", "rmsprop-clipvalue", "adagrad"])
def test_optimizers_on_jax_take_the_steps_they_take_on_py(make):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    runs = []
    for backend in ("py", "jax"):
        model = dense_model()
        model.compile(make(), "categorical_crossentropy", backend=backend)
        history = model.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0)
        runs.append((history.history["loss"], weights(model)))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-10)
    for got, want in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_evaluate_predict_and_generator_on_jax_match_py():
    build = char("lstm")
    start = weights(build()[0])
    x = np.random.default_rng(5).integers(0, V, (B + 2, T))   # a full batch and a partial one
    results = []
    for backend in ("py", "jax"):
        model, *_ = build()
        model.set_weights(start)
        model.compile("adam", SPARSE, backend=backend)
        generator = Generator(model, backend=backend)
        results.append((model.evaluate(x, x, batch_size=B), model.predict(x, batch_size=B),
                        generator.feed([1, 2, 3]), generator.feed([4])))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    for got, want in zip(results[1][1:], results[0][1:]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


@pytest.mark.heavy   # a dropout model compiled for JAX; CI runs it
def test_dropout_on_jax_draws_fresh_masks_and_is_off_at_inference():
    start = weights(dropout()[0])
    models = {}
    for backend in ("py", "jax"):
        model, x, y, loss = dropout()
        model.set_weights(start)
        model.compile(SGD(lr=0.0), loss, backend=backend)   # steps that leave the weights alone
        models[backend] = model
    model = models["jax"]
    inference = model.evaluate(x, y, batch_size=B)
    np.testing.assert_allclose(inference, models["py"].evaluate(x, y, batch_size=B), rtol=1e-12)
    train = [model.fit(x, y, batch_size=B, shuffle=False, verbose=0).history["loss"][0]
             for _ in range(2)]
    assert np.all(np.isfinite(train))
    assert len({inference, *train}) == 3     # masks in training, new ones each step, none after
    for got, want in zip(weights(model), start):
        np.testing.assert_array_equal(got, want)


def test_float32_model_on_jax_trains_like_py_to_float32_precision():
    build = char("simplernn", dtype="float32")
    start = weights(build()[0])
    py, on_jax = sgd_run(build, "py", start), sgd_run(build, "jax", start)
    assert on_jax[3][0].dtype == np.float32
    assert_runs_match(on_jax, py, rtol=1e-5, atol=1e-7)


def test_each_batch_shape_compiles_once():
    model, x, y, loss = char("simplernn")()
    model.compile(SGD(lr=LR), loss, backend="jax")
    rows = np.concatenate([x, x[:2]]), np.concatenate([y, y[:2]])   # batches of B and 2 rows
    for _ in range(2):
        model.fit(*rows, batch_size=B, shuffle=False, verbose=0)
    assert sorted(key[0] for key in fitting.train_fn(model).functions) == [(2, T), (B, T)]


def test_other_backends_read_weights_that_jax_left_on_its_device():
    model, x, y, loss = char("simplernn")()
    model.compile(SGD(lr=LR), loss, backend="jax")
    model.fit(x, y, batch_size=B, verbose=0)
    assert not isinstance(model.params[0].get_value(borrow=True), np.ndarray)   # still on device
    on_py = model.predict(x, backend="py")
    assert isinstance(model.params[0].get_value(borrow=True), np.ndarray)
    np.testing.assert_allclose(model.predict(x), on_py, rtol=1e-12)


def test_float64_graph_is_refused_when_jax_runs_without_64_bit_types():
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)    # what PyTensor sets when floatX=float32
    try:
        with pytest.raises(ConfigError, match="computes in float64 but JAX runs without 64-bit"):
            jax_backend.check_x64([pt.dmatrix("x")])
        jax_backend.check_x64([pt.fmatrix("x")])
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.mark.parametrize("devices, backend, message", [
    (0, "jax", "devices must be a positive whole number"),
    (True, "jax", "devices must be a positive whole number"),
    (2, "py", r"needs the jax backend, not 'py': compile\(..., backend='jax'\)"),
    (64, "jax", r"devices=64, but JAX sees \d+ device\(s\) .*xla_force_host_platform_device_count=64"),
])
def test_devices_are_refused_before_anything_is_built(devices, backend, message):
    model, x, y, loss = char("lesson")()
    model.compile(SGD(lr=LR), loss, backend=backend)
    with pytest.raises(ConfigError, match=message):
        model.fit(x, y, batch_size=B, verbose=0, devices=devices)
    assert model._functions == {}     # nothing compiled


@pytest.fixture(scope="module")
def two_devices():
    """tests/data_parallel_run.py's report, run with two XLA host devices."""
    env = with_package_on_path(dict(os.environ))
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    done = subprocess.run([sys.executable, str(TESTS / "data_parallel_run.py")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_host_devices_train_like_one(two_devices):
    assert two_devices["devices"] == ["cpu:0", "cpu:1"]
    one, two = two_devices["losses"]
    assert len(one) == 20
    np.testing.assert_allclose(two, one, rtol=1e-5)       # float32 model
    assert two_devices["weight_diff"] < 1e-4
    assert two_devices["weights_replicated"]


def test_each_device_gets_half_of_every_batch(two_devices):
    x, y, *shared = two_devices["arguments"]
    for arg in (x, y):    # the arrays the compiled step received, and what XLA compiled it for
        assert arg["spec"] == arg["compiled_spec"] == "P('batch',)"
        assert arg["rows"] == [[0, 4], [1, 4]]                 # 8 rows: 4 on each device
    assert shared and all(a["replicated"] and a["compiled_spec"] == "P()" for a in shared)


def test_two_devices_refuse_batches_that_do_not_split(two_devices):
    refused = two_devices["refusals"]
    assert "devices=3, but JAX sees 2 device(s) (cpu:0, cpu:1)" in refused["three devices"]
    assert "a batch of 3 rows does not split evenly across 2 devices" in refused["odd batch"]
    assert "the last batch of 3 rows (7 samples in batches of 4)" in refused["odd last batch"]


def test_one_row_predicts_like_py_and_a_one_row_training_step_is_refused_by_name():
    build = char("lesson")
    start = weights(build()[0])
    predictions = []
    for backend in ("py", "jax"):
        model, x, y, loss = build()
        model.set_weights(start)
        model.compile(SGD(lr=LR), loss, backend=backend)
        predictions.append(model.predict(x[:1]))
    np.testing.assert_allclose(predictions[1], predictions[0], rtol=1e-12)
    with pytest.raises(ConfigError, match=r"axis of length 1 \(.*\(1, 3\).*Use at least 2 rows"):
        model.fit(x[:1], y[:1], batch_size=1, verbose=0)
    for got, want in zip(weights(model), start):
        np.testing.assert_array_equal(got, want)     # refused before any step
