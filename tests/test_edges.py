"""Edge cases found in review: infinities and NaN in the softmax family,
overflowing intermediates, half precision in losses, placement."""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy
from xact import losses


def test_softmax_of_an_infinite_logit_is_the_limit(xp, asarray):
    np.testing.assert_array_equal(
        to_numpy(xact.softmax(asarray([math.inf, 1.0]))), [1, 0]
    )
    np.testing.assert_array_equal(
        to_numpy(xact.log_softmax(asarray([math.inf, 1.0]))), [0, -math.inf]
    )
    np.testing.assert_array_equal(
        to_numpy(xact.softmax(asarray([math.inf, math.inf, 1.0]))), [0.5, 0.5, 0]
    )
    assert to_numpy(xact.logsumexp(asarray([math.inf, 1.0]))) == math.inf


def test_nan_makes_the_whole_slice_nan(xp, asarray):
    for name in ("softmax", "log_softmax", "softmin"):
        assert np.all(np.isnan(to_numpy(getattr(xact, name)(asarray([math.nan, 1.0])))))
    assert math.isnan(to_numpy(xact.logsumexp(asarray([math.nan, 1.0]))))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logits_at_opposite_ends_of_the_range(xp, asarray, dtype):
    big = float(np.finfo(dtype).max) / 2
    x = asarray([big, -big], getattr(xp, dtype))
    np.testing.assert_array_equal(to_numpy(xact.softmax(x)), [1, 0])
    assert to_numpy(xact.logsumexp(x)) == np.asarray(big, dtype=dtype)
    value = losses.softmax_cross_entropy(
        xp.asarray([0], device=array_api_compat.device(x)), xp.reshape(x, (1, 2))
    )
    assert to_numpy(value) == 0


def test_overflowing_intermediates(xp, asarray):
    np.testing.assert_array_equal(
        to_numpy(xact.squareplus(asarray([-1e-300, 0.0, 2.0]), b=0.0)), [0, 0, 2]
    )
    y = to_numpy(xact.softplus(asarray([1e308, -1e308]), beta=2.0))
    np.testing.assert_array_equal(y, [1e308, 0])
    np.testing.assert_array_equal(
        to_numpy(xact.leaky_relu(asarray([1e308, -1.0]), negative_slope=2.0)),
        [1e308, -2],
    )
    assert to_numpy(losses.huber(asarray([0.0]), asarray([1e308]))) == 1e308 - 0.5
    layer = xact.Squareplus()
    layer(asarray([-1e308]))
    assert to_numpy(layer.backward(asarray([1.0])))[0] == 0


@pytest.mark.parametrize("library", ["numpy", "torch", "jax.numpy"])
def test_losses_in_half_precision(library):
    """Half precision is computed in float32 (1 - 1e-7 is 1 in float16)."""
    module = pytest.importorskip(library, reason=f"needs {library}")
    t = module.asarray([[1.0, 0.0]], dtype=module.float16)
    p = module.asarray([[1.0, 0.0]], dtype=module.float16)
    for name in (
        "binary_crossentropy",
        "mean_squared_error",
        "categorical_crossentropy",
    ):
        loss = losses.LOSSES[name]()
        value = loss(t, p)
        assert value.dtype == module.float16
        assert np.isfinite(np.asarray(to_numpy(value), dtype=np.float64))
        assert loss.backward().dtype == module.float16


def test_integer_predictions_become_the_default_float(xp, asarray):
    device = array_api_compat.device(asarray([0.0]))
    value = losses.mean_squared_error(
        xp.asarray([1, 2], device=device), xp.asarray([1, 3], device=device)
    )
    info = xp.__array_namespace_info__()
    assert value.dtype == info.default_dtypes(device=device)["real floating"]


def test_eps_must_be_positive():
    with pytest.raises(ValueError, match=r"eps must be in \(0, 0\.5\)"):
        losses.categorical_crossentropy(np.array([0]), np.array([[1.0, 0.0]]), eps=0.0)


def test_dense_loss_is_an_array_and_dtype_changes_stay_on_the_device():
    mean, _ = xact.Dense(2, 2).loss(
        np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
    )
    assert isinstance(mean, np.ndarray)
    strict = pytest.importorskip("array_api_strict", reason="needs a second device")
    dense = xact.Dense(3, 2, seed=0, xp=strict, device=strict.Device("device1"))
    dense.to(dtype=strict.float32)
    assert dense.weights.device == strict.Device("device1")
    assert dense.weights.dtype == strict.float32


def test_fit_history_with_a_summed_loss():
    X, y = xact.datasets.spiral(20, 3, seed=0)
    model = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
    history = model.fit(
        X,
        y,
        loss=losses.CategoricalCrossentropy(reduction="sum"),
        optimizer=xact.optim.SGD(1e-12),
        epochs=1,
        batch_size=16,
    )
    per_sample = losses.categorical_crossentropy(y, model.predict(X), reduction="none")
    np.testing.assert_allclose(history["loss"][0], per_sample.mean(), rtol=1e-9)
