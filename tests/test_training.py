"""End to end: the spiral classifier learns on every eager backend."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import Backend


def _model():
    return xact.Sequential(
        [
            xact.Dense(2, 64, seed=1),
            xact.ReLU(),
            xact.Dense(64, 3, seed=2),
            xact.Softmax(),
        ]
    )


def _data(xp, asarray, library):
    X, y = xact.datasets.spiral(100, 3, seed=0)
    return asarray(X), xp.asarray(
        np.array(y), device=array_api_compat.device(asarray([0.0]))
    )


@pytest.mark.skip_xp_backend(
    Backend.DASK, reason="training is eager; Dask is tested on predict"
)
@pytest.mark.skip_xp_backend(
    Backend.CUBED, reason="training is eager; Cubed is tested on predict"
)
def test_spiral_model_reaches_90_percent(xp, library, asarray):
    X, y = _data(xp, asarray, library)
    model = _model()
    history = model.fit(
        X,
        y,
        loss="categorical_crossentropy",
        optimizer=xact.optim.Adam(0.02, decay=1e-4),
        epochs=800,
    )
    assert history["accuracy"][-1] >= 0.90
    assert history["loss"][-1] < history["loss"][0] / 4
    evaluation = model.evaluate(X, y, loss="categorical_crossentropy")
    assert evaluation["accuracy"] >= 0.90
    assert type(model.predict(X)) is type(X) or library.library == "jax"


@pytest.mark.skip_xp_backend(
    Backend.DASK, reason="training is eager; Dask is tested on predict"
)
@pytest.mark.skip_xp_backend(
    Backend.CUBED, reason="training is eager; Cubed is tested on predict"
)
def test_first_ten_epochs_agree_with_numpy(xp, library, asarray):
    X, y = _data(xp, asarray, library)
    optimizer = xact.optim.Adam(0.02, decay=1e-4)
    ours = _model().fit(
        X, y, loss="categorical_crossentropy", optimizer=optimizer, epochs=10
    )
    Xn, yn = xact.datasets.spiral(100, 3, seed=0)
    reference = _model().fit(
        Xn,
        yn,
        loss="categorical_crossentropy",
        optimizer=xact.optim.Adam(0.02, decay=1e-4),
        epochs=10,
    )
    np.testing.assert_allclose(ours["loss"], reference["loss"], rtol=1e-6, atol=0)


def test_minibatches_shuffle_reproducibly(xp, library, asarray):
    if library in (Backend.DASK, Backend.CUBED):
        X, y = xact.datasets.spiral(50, 3, seed=0)
    else:
        X, y = _data(xp, asarray, library)
        X, y = X[:150, ...], y[:150]
    first = _model().fit(
        X,
        y,
        loss="categorical_crossentropy",
        optimizer=xact.optim.SGD(0.5),
        epochs=3,
        batch_size=32,
        shuffle_seed=9,
    )
    second = _model().fit(
        X,
        y,
        loss="categorical_crossentropy",
        optimizer=xact.optim.SGD(0.5),
        epochs=3,
        batch_size=32,
        shuffle_seed=9,
    )
    assert first["loss"] == second["loss"]


def _trained_on_numpy():
    """A model trained on the NumPy spiral, the data and its predictions."""
    X, y = xact.datasets.spiral(100, 3, seed=0)
    model = _model()
    model.fit(
        X,
        y,
        loss="categorical_crossentropy",
        optimizer=xact.optim.Adam(0.02),
        epochs=50,
    )
    return model, X, model.predict(X)


def test_predict_on_dask_is_lazy_and_equals_numpy():
    da = pytest.importorskip("dask.array", reason="needs Dask")
    import dask

    model, X, expected = _trained_on_numpy()

    def refuse(*args, **kwargs):
        raise AssertionError("predict computed the Dask graph")

    model.to(xp=da)
    chunks = da.from_array(X, chunks=(60, 2))
    with dask.config.set(scheduler=refuse):
        lazy = model.predict(chunks)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-13)


def test_predict_on_cubed_is_lazy_and_equals_numpy(monkeypatch):
    cubed = pytest.importorskip("cubed", reason="needs Cubed")
    from cubed.core.plan import FinalizedPlan

    model, X, expected = _trained_on_numpy()
    model.to(xp=cubed)
    chunks = cubed.from_array(X, chunks=(60, 2))
    with monkeypatch.context() as patched:

        def refuse(*args, **kwargs):
            raise AssertionError("predict computed the Cubed plan")

        patched.setattr(FinalizedPlan, "execute", refuse)
        lazy = model.predict(chunks)
    assert isinstance(lazy, cubed.Array)
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-13)


def test_fused_softmax_crossentropy_gradient():
    """Softmax + categorical cross-entropy backpropagates (y_pred - y_true)/N."""
    X, y = xact.datasets.spiral(10, 3, seed=0)
    model = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
    loss = xact.losses.CategoricalCrossentropy()
    output = model.forward(X)
    loss(y, output)
    captured = {}
    dense = model.layers[0]
    original = dense.backward

    def spy(dvalues):
        captured["d"] = dvalues
        return original(dvalues)

    dense.backward = spy
    model.train_step(X, y, loss, xact.optim.SGD(1e-9))
    expected = (output - np.eye(3)[y]) / 30
    np.testing.assert_allclose(captured["d"], expected, rtol=1e-13)


def test_fit_errors():
    X, y = xact.datasets.spiral(10, 2, seed=0)
    model = _model()
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'"):
        model.fit(X, y, loss="hinge", optimizer=xact.optim.SGD(), epochs=1)
    with pytest.raises(ValueError, match=r"X has 20 rows but y has shape \(19,\)"):
        model.fit(
            X,
            y[:19],
            loss="categorical_crossentropy",
            optimizer=xact.optim.SGD(),
            epochs=1,
        )
    with pytest.raises(ValueError, match=r"epochs must be a positive integer"):
        model.fit(
            X, y, loss="categorical_crossentropy", optimizer=xact.optim.SGD(), epochs=0
        )
