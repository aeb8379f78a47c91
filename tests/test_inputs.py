"""Unusual inputs and arguments: right values or a clear error naming the
function, never a silent wrong answer."""

from __future__ import annotations

import math
import warnings

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("name", ["gelu", "softmax", "log_softmax", "silu", "glu"])
def test_np_matrix_is_computed_as_its_ndarray(name):
    values = np.array([[1.0, 2.0], [3.0, -4.0]])
    result = getattr(xact, name)(np.matrix(values))
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, getattr(xact, name)(values))


@pytest.mark.parametrize("name", ["relu", "gelu", "softmax", "tanh"])
def test_masked_arrays_are_refused_by_every_function(name):
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    with pytest.raises(TypeError, match=rf"xact\.{name}: masked arrays"):
        getattr(xact, name)(masked)


@pytest.mark.parametrize("layer", ["Softmax", "LogSoftmax", "Softmin", "GLU"])
@pytest.mark.parametrize("axis", [2, -3, 0])
def test_axis_layers_take_any_axis_of_their_input(xp, asarray, layer, axis):
    x = asarray(np.random.default_rng(0).normal(size=(2, 4, 6)), xp.float32)
    module = getattr(xact, layer)(axis=axis)
    y = module(x)
    function = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}.get(layer)
    function = function or layer.lower()
    np.testing.assert_array_equal(
        to_numpy(y), to_numpy(getattr(xact, function)(x, axis=axis))
    )
    assert tuple(module.backward(xp.ones_like(y)).shape) == (2, 4, 6)


def test_axis_options_are_checked_once_for_every_function():
    for bad in (True, 1.5, "1"):
        with pytest.raises(TypeError, match=r"xact\.softmax: axis must be an integer"):
            xact.softmax(np.ones((2, 2)), axis=bad)
        with pytest.raises(TypeError, match=r"xact\.glu: axis must be an integer"):
            xact.glu(np.ones((2, 2)), axis=bad)
    np.testing.assert_array_equal(
        xact.glu(np.ones((2, 2)), axis=np.int64(0)), xact.glu(np.ones((2, 2)), axis=0)
    )


@pytest.mark.parametrize("layer", ["Softmax", "LogSoftmax", "Softmin"])
def test_a_0d_input_has_a_backward(xp, asarray, layer):
    module = getattr(xact, layer)()
    y = module(asarray(0.5, xp.float32))
    gradient = module.backward(xp.ones_like(y))
    assert tuple(gradient.shape) == ()
    assert float(to_numpy(gradient)) == 0.0  # the output is constant


def test_dense_refuses_an_input_of_another_dtype(xp, asarray):
    dense = xact.Dense(2, 3, seed=0)
    dense(asarray(np.ones((1, 2)), xp.float32))
    with pytest.raises(
        TypeError, match=r"xact\.Dense\.forward: the input is .* but the parameters"
    ):
        dense(asarray(np.ones((1, 2))))  # float64 (skipped without it)


def test_bfloat16_models_train_and_report():
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    X, y = xact.datasets.spiral(20, 3, seed=0)
    model = xact.Sequential([xact.Dense(2, 8, seed=0), xact.ReLU(), xact.Dense(8, 3)])
    model.layers.append(xact.Softmax())
    model.to(xp=torch, dtype=torch.bfloat16)
    history = model.fit(
        torch.asarray(X, dtype=torch.bfloat16),
        torch.asarray(y),
        loss="categorical_crossentropy",
        optimizer=xact.optim.SGD(0.5),
        epochs=2,
    )
    assert all(math.isfinite(v) for v in history["loss"])


def test_empty_batches_give_nan_without_warnings(xp, asarray):
    labels = xp.asarray(
        np.zeros(0, dtype=np.int32),
        device=array_api_compat.device(asarray([0.0], xp.float32)),
    )
    probabilities = asarray(np.zeros((0, 3)), xp.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = xact.losses.categorical_crossentropy(labels, probabilities)
        total = xact.losses.categorical_crossentropy(
            labels, probabilities, reduction="sum"
        )
        score = xact.metrics.accuracy(labels, probabilities)
    assert math.isnan(float(to_numpy(loss)))
    assert float(to_numpy(total)) == 0.0
    assert math.isnan(float(to_numpy(score)))


def test_fit_arguments_are_validated():
    X, y = xact.datasets.spiral(10, 3, seed=0)
    model = xact.Sequential([xact.Dense(2, 3, seed=0), xact.Softmax()])

    def fit(**options):
        return model.fit(
            X, y, loss="categorical_crossentropy", optimizer=xact.optim.SGD(), **options
        )

    assert len(fit(epochs=np.int64(2))["loss"]) == 2
    for bad in ("32", True, 32.9):
        with pytest.raises(TypeError, match=r"xact\.Sequential\.fit: batch_size"):
            fit(epochs=1, batch_size=bad)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer"):
        fit(epochs=1, batch_size=0)


@pytest.mark.parametrize(
    ("optimizer", "options", "message"),
    [
        ("Adam", {"epsilon": -1.0}, "epsilon must be > 0"),
        ("Adam", {"epsilon": math.nan}, "epsilon must be finite"),
        ("Adam", {"learning_rate": math.inf}, "learning_rate must be finite"),
        ("RMSprop", {"rho": 1.0}, r"rho must be in \[0, 1\)"),
        ("Adagrad", {"epsilon": 0.0}, "epsilon must be > 0"),
        ("SGD", {"decay": -0.1}, "decay must be >= 0"),
    ],
)
def test_optimizer_arguments_are_validated(optimizer, options, message):
    with pytest.raises(ValueError, match=rf"xact\.{optimizer}: {message}"):
        getattr(xact.optim, optimizer)(**options)
    with pytest.raises(TypeError, match=rf"xact\.{optimizer}: learning_rate"):
        getattr(xact.optim, optimizer)("0.1")


def test_datasets_refuse_an_integer_dtype():
    for fname in ("spiral", "vertical"):
        with pytest.raises(TypeError, match=rf"xact\.datasets\.{fname}: dtype"):
            getattr(xact.datasets, fname)(10, 3, dtype="int32")
    with pytest.raises(ValueError, match=r"noise must be >= 0"):
        xact.datasets.spiral(10, 3, noise=-1.0)
