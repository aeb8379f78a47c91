"""Class labels cannot be misused: non-integer and out-of-range labels are a
ValueError on every eager backend and a NaN loss where a check would need a
sync (Dask, jax.jit); the fused Softmax + cross-entropy gradient is exact for
any target rows."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import Backend, to_numpy

LOSSES = ["categorical_crossentropy", "softmax_cross_entropy"]
LAZY = (Backend.DASK, Backend.CUBED)


def _predictions(xp, asarray):
    return asarray([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]], xp.float32)


def _labels(xp, asarray, values, dtype):
    device = array_api_compat.device(asarray([0.0], xp.float32))
    return xp.asarray(np.asarray(values), dtype=getattr(xp, dtype), device=device)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(
    ("values", "dtype", "message"),
    [
        ([2.9, 0.0, 1.0], "float32", r"labels must be integers, got 2\.9"),
        ([-0.5, 0.0, 1.0], "float32", r"labels must be integers, got -0\.5"),
        (
            [0, 3, 1],
            "int32",
            r"labels must be in \[0, 3\) for 3 classes; found values from 0 to 3",
        ),
        (
            [0, -1, 1],
            "int32",
            r"labels must be in \[0, 3\) for 3 classes; found values from -1 to 1",
        ),
    ],
)
def test_bad_labels(xp, library, asarray, name, values, dtype, message):
    """A ValueError on eager backends; a NaN loss for exactly the bad sample
    on lazy ones."""
    labels = _labels(xp, asarray, values, dtype)
    predictions = _predictions(xp, asarray)
    loss = getattr(xact.losses, name)
    if library in LAZY:
        per_sample = to_numpy(loss(labels, predictions, reduction="none"))
        bad = np.array([v < 0 or v >= 3 or v != int(v) for v in values])
        assert np.isnan(per_sample[bad]).all()
        assert np.isfinite(per_sample[~bad]).all()
        return
    with pytest.raises(ValueError, match=rf"xact\.{name}: {message}"):
        loss(labels, predictions)


def test_bad_labels_under_jit_give_nan():
    jax = pytest.importorskip("jax", reason="needs JAX")
    import jax.numpy as jnp

    predictions = jnp.asarray([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    loss = jax.jit(
        lambda t, p: xact.losses.categorical_crossentropy(t, p, reduction="none")
    )
    per_sample = np.asarray(loss(jnp.asarray([0, 7, 2]), predictions))
    assert np.isnan(per_sample[1])
    assert np.isfinite(per_sample[[0, 2]]).all()
    per_sample = np.asarray(loss(jnp.asarray([0.0, 1.5, 2.0]), predictions))
    assert np.isnan(per_sample[1])


@pytest.mark.skip_xp_backend(
    Backend.DASK, reason="training is eager; Dask is tested on predict"
)
@pytest.mark.skip_xp_backend(
    Backend.CUBED, reason="training is eager; Cubed is tested on predict"
)
def test_fit_rejects_labels_that_are_not_class_indices(xp, library, asarray):
    X, y = xact.datasets.spiral(20, 3, seed=0)
    X = asarray(X, xp.float32)
    model = xact.Sequential([xact.Dense(2, 3, seed=0), xact.Softmax()])
    for bad, message in (
        (y.astype(np.float32) + np.float32(0.5), "integers"),
        (y + 1, r"in \[0, 3\)"),
    ):
        labels = xp.asarray(bad, device=array_api_compat.device(X))
        with pytest.raises(
            ValueError, match=rf"xact\.Sequential\.fit: labels must be {message}"
        ):
            model.fit(
                X,
                labels,
                loss="categorical_crossentropy",
                optimizer=xact.optim.SGD(0.1),
                epochs=1,
            )


@pytest.mark.parametrize(
    "rows",
    [
        [[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]],  # an all-zero (padded) row
        [[1, 1, 0], [0, 1, 1], [0.5, 0, 0], [0, 2, 0]],  # multi-hot, unnormalised
    ],
)
def test_fused_softmax_crossentropy_gradient_matches_finite_differences(rows):
    """(p * sum(t) - t) / N, the gradient of the loss for any target rows
    (p - t is it only where each row sums to 1)."""
    X = np.random.default_rng(0).normal(size=(4, 2))
    targets = np.asarray(rows, dtype=np.float64)
    model = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
    model.train_step(
        X, targets, xact.losses.CategoricalCrossentropy(), xact.optim.SGD(1e-300)
    )
    dense = model.layers[0]
    analytic = dense.dweights
    weights = dense.weights

    def loss_at(w):
        dense.set_parameters(weights=w)
        return float(xact.losses.categorical_crossentropy(targets, model.predict(X)))

    numeric = np.zeros_like(weights)
    h = 1e-6
    for index in np.ndindex(weights.shape):
        step = np.zeros_like(weights)
        step[index] = h
        numeric[index] = (loss_at(weights + step) - loss_at(weights - step)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
