"""Datasets: the same seed gives the same data on every backend."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy


@pytest.mark.parametrize("name", ["spiral", "vertical", "create_spiral_dataset"])
def test_same_seed_same_data_everywhere(xp, asarray, name):
    device = array_api_compat.device(asarray([0.0]))
    make = getattr(xact.datasets, name)
    X, y = make(50, 3, seed=5, xp=xp, device=device, dtype=xp.float64)
    Xn, yn = make(50, 3, seed=5)
    assert tuple(X.shape) == (150, 2)
    assert tuple(y.shape) == (150,)
    assert xp.isdtype(y.dtype, "integral")
    assert X.dtype == xp.float64
    assert array_api_compat.device(X) == device
    np.testing.assert_array_equal(to_numpy(X), Xn)
    np.testing.assert_array_equal(to_numpy(y), yn)
    np.testing.assert_array_equal(np.bincount(yn), [50, 50, 50])


def test_spiral_definition():
    X, y = xact.datasets.spiral(100, 3, noise=0.0, seed=0)
    r = np.linspace(0, 1, 100)
    t = np.linspace(4, 8, 100)  # second arm
    np.testing.assert_allclose(
        X[100:200],
        np.column_stack([r * np.sin(2.5 * t), r * np.cos(2.5 * t)]),
        rtol=1e-15,
    )
    assert np.all(y[100:200] == 1)


def test_bad_counts():
    with pytest.raises(ValueError, match=r"xact\.datasets\.spiral: samples must be"):
        xact.datasets.spiral(0, 3)
