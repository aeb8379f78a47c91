"""Dask: training is refused with one clear line (predict stays lazy), and
unknown chunk sizes (after boolean indexing) work everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import xact

da = pytest.importorskip("dask.array", reason="needs Dask")


def _unknown(host):
    """``host`` as a Dask array of unknown row count (every row is kept, but
    after boolean indexing Dask no longer knows how many)."""
    x = da.from_array(host, chunks=(7, *host.shape[1:]))
    unknown = x[da.from_array(host[:, 0], chunks=7) > -100.0]
    assert np.isnan(unknown.shape[0])
    return unknown


def _unknown_rows():
    host = np.linspace(-6.0, 6.0, 60).reshape(30, 2)
    return _unknown(host), host


def test_fit_refuses_dask_and_says_what_to_do():
    X, y = xact.datasets.spiral(10, 3, seed=0, xp=da)
    model = xact.Sequential([xact.Dense(2, 3, seed=0), xact.Softmax()])
    with pytest.raises(TypeError, match=r"xact\.Sequential\.fit: training on Dask"):
        model.fit(
            X, y, loss="categorical_crossentropy", optimizer=xact.optim.SGD(), epochs=1
        )


@pytest.mark.parametrize("name", [*xact.names(), "logsumexp"])
def test_every_function_on_unknown_chunk_sizes(name):
    unknown, host = _unknown_rows()
    result = getattr(xact, name)(unknown)
    np.testing.assert_array_equal(result.compute(), getattr(xact, name)(host))


def test_masked_softmax_layers_losses_and_metrics_on_unknown_chunk_sizes():
    unknown, host = _unknown_rows()
    np.testing.assert_array_equal(
        xact.softmax(unknown, where=unknown > 0).compute(),
        xact.softmax(host, where=host > 0),
    )
    labels = (unknown[:, 0] > 0).astype(int)
    host_labels = (host[:, 0] > 0).astype(int)
    assert float(xact.metrics.accuracy(labels, unknown).compute()) == float(
        xact.metrics.accuracy(host_labels, host)
    )
    probabilities = xact.softmax(unknown)
    np.testing.assert_allclose(
        float(xact.losses.categorical_crossentropy(labels, probabilities).compute()),
        float(xact.losses.categorical_crossentropy(host_labels, xact.softmax(host))),
        rtol=1e-15,
    )
    for lazy, eager in (
        (xact.Dense(2, 3, seed=0, xp=da), xact.Dense(2, 3, seed=0)),
        (xact.GELU(), xact.GELU()),
        (xact.Softmax(), xact.Softmax()),
    ):
        output = lazy(unknown)
        expected = eager(host)
        np.testing.assert_allclose(output.compute(), expected, rtol=1e-15)
        upstream = np.linspace(-1.0, 1.0, expected.size).reshape(expected.shape)
        np.testing.assert_allclose(
            lazy.backward(_unknown(upstream)).compute(),
            eager.backward(upstream),
            rtol=1e-14,
            atol=1e-300,
        )
