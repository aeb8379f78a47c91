"""Dense: shapes, placement, seeds across backends, gradients, errors."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy
from xact.dense import INITIALIZERS


def test_parameters_take_the_first_inputs_library_device_and_dtype(xp, asarray):
    for dtype in (xp.float32, xp.float64):
        dense = xact.Dense(3, 5, seed=0)
        x = xp.astype(asarray(np.ones((4, 3))), dtype)
        y = dense(x)
        assert tuple(y.shape) == (4, 5)
        assert y.dtype == dtype
        assert dense.weights.dtype == dtype
        assert tuple(dense.weights.shape) == (3, 5)
        assert tuple(dense.biases.shape) == (1, 5)
        assert array_api_compat.device(dense.weights) == array_api_compat.device(x)
        assert array_api_compat.device(y) == array_api_compat.device(x)


def test_same_seed_same_values_on_every_backend(xp, asarray):
    dense = xact.Dense(4, 3, seed=42)
    dense(asarray(np.zeros((1, 4))))
    reference = xact.Dense(4, 3, seed=42)
    reference(np.zeros((1, 4)))
    np.testing.assert_array_equal(to_numpy(dense.weights), reference.weights)
    np.testing.assert_array_equal(to_numpy(dense.biases), np.zeros((1, 3)))


def test_forward_and_backward_match_the_definition(xp, asarray):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    d = rng.standard_normal((5, 2))
    dense = xact.Dense(3, 2, seed=3)
    y = to_numpy(dense(asarray(x)))
    w, b = to_numpy(dense.weights), to_numpy(dense.biases)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-14)
    dinputs = dense.backward(asarray(d))
    np.testing.assert_allclose(to_numpy(dense.dweights), x.T @ d, rtol=1e-13)
    np.testing.assert_allclose(
        to_numpy(dense.dbiases), d.sum(axis=0, keepdims=True), rtol=1e-13
    )
    np.testing.assert_allclose(to_numpy(dinputs), d @ w.T, rtol=1e-13)
    assert dense.dinputs is dinputs


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    d = rng.standard_normal((4, 2))
    dense = xact.Dense(3, 2, seed=5)
    dense(x)
    dense.backward(d)
    step = 1e-6
    w = dense.weights
    expected = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        up, down = w.copy(), w.copy()
        up[index] += step
        down[index] -= step
        expected[index] = np.sum(((x @ up) - (x @ down)) * d) / (2 * step)
    np.testing.assert_allclose(dense.dweights, expected, rtol=1e-7)


def test_explicit_placement_and_moving(xp, library, asarray):
    device = array_api_compat.device(asarray([0.0]))
    dense = xact.Dense(2, 2, seed=0, xp=xp, device=device, dtype=xp.float32)
    assert dense.weights.dtype == xp.float32
    assert array_api_compat.device(dense.weights) == device
    moved = xact.Dense(2, 2, seed=0)
    moved(np.ones((1, 2)))
    moved.to(xp=xp, device=device)
    np.testing.assert_array_equal(
        to_numpy(moved.weights), xact.Dense(2, 2, seed=0).to().weights
    )
    assert array_api_compat.device(moved.weights) == device


def test_wrong_library_or_shape_is_a_clear_error(xp, library, asarray):
    dense = xact.Dense(2, 3, seed=0)
    dense(asarray(np.ones((1, 2))))
    if library.library != "numpy":
        with pytest.raises(
            TypeError, match=r"xact\.Dense\.forward: the input is a numpy"
        ):
            dense(np.ones((1, 2)))
    with pytest.raises(
        ValueError, match=r"expected inputs of shape \(N, 2\), got \(1, 3\)"
    ):
        dense(asarray(np.ones((1, 3))))


def test_second_device_is_an_error():
    strict = pytest.importorskip("array_api_strict", reason="needs a second device")
    dense = xact.Dense(2, 3, seed=0, xp=strict)
    x = strict.asarray(np.ones((1, 2)), device=strict.Device("device1"))
    with pytest.raises(ValueError, match=r"xact\.Dense\.forward: the input is on"):
        dense(x)
    dense.to(device=strict.Device("device1"))
    assert dense(x).device == strict.Device("device1")


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_initializers(name):
    dense = xact.Dense(400, 300, seed=0, weight_init=name, xp=np)
    w = dense.weights
    std = {
        "glorot_uniform": np.sqrt(2.0 / 700),
        "he_normal": np.sqrt(2.0 / 400),
        "he_uniform": np.sqrt(2.0 / 400),
        "small_normal": 0.01,
    }[name]
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 0.05 * std
    np.testing.assert_array_equal(dense.biases, 0.0)


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"xact\.Dense: n_inputs must be a positive integer"
    ):
        xact.Dense(0, 3)
    with pytest.raises(ValueError, match=r"unknown weight_init 'xavier'"):
        xact.Dense(2, 3, weight_init="xavier")
