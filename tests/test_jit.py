"""Layers and models under jax.jit: forward, predict and backward work, and
no layer keeps a tracer afterwards (it would break the next eager call)."""

from __future__ import annotations

import numpy as np
import pytest

import xact

jax = pytest.importorskip("jax", reason="needs JAX")
jnp = pytest.importorskip("jax.numpy", reason="needs JAX")


@pytest.fixture(autouse=True)
def _x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def _tracers(layer):
    return [k for k, v in vars(layer).items() if isinstance(v, jax.core.Tracer)]


def _upstream(output):
    """A gradient whose backward through softmax does not cancel to ~0."""
    return jnp.reshape(jnp.linspace(-1.0, 1.0, output.size), output.shape)


def _model():
    return xact.Sequential(
        [
            xact.Dense(2, 8, seed=1),
            xact.GELU(),
            xact.Dense(8, 3, seed=2),
            xact.Softmax(),
        ]
    )


def test_a_dense_layer_first_called_under_jit_keeps_concrete_parameters():
    dense = xact.Dense(2, 3, seed=0)
    x = jnp.ones((4, 2))
    jitted = jax.jit(dense)(x)
    assert _tracers(dense) == []
    assert dense.inputs is None  # the traced input was not kept
    np.testing.assert_allclose(np.asarray(dense(x)), np.asarray(jitted), rtol=1e-15)


@pytest.mark.parametrize("name", ["ReLU", "GELU", "Softmax", "GLU"])
def test_a_jitted_forward_leaves_no_tracer_in_a_layer(name):
    layer = getattr(xact, name)()
    x = jnp.ones((2, 4))
    jax.jit(layer)(x)
    assert _tracers(layer) == []
    layer(x)  # and the layer works eagerly afterwards
    layer.backward(jnp.ones_like(layer.output))


def test_forward_and_backward_in_one_jitted_function_leave_no_tracer():
    model = _model()
    X = jnp.asarray(xact.datasets.spiral(20, 3, seed=0)[0])

    def step(x):
        output = model(x)
        return model.backward(_upstream(output))

    jitted = jax.jit(step)(X)
    assert all(_tracers(layer) == [] for layer in model.layers)
    np.testing.assert_allclose(np.asarray(step(X)), np.asarray(jitted), rtol=1e-12)


@pytest.mark.parametrize("placed", [False, True])
def test_jitted_predict_matches_eager_and_leaves_no_tracer(placed):
    model = _model()
    X = jnp.asarray(xact.datasets.spiral(20, 3, seed=0)[0])
    if placed:
        model.predict(X)
    jitted = jax.jit(model.predict)(X)
    assert all(_tracers(layer) == [] for layer in model.layers)
    np.testing.assert_allclose(
        np.asarray(model.predict(X)), np.asarray(jitted), rtol=1e-12
    )


def test_backward_under_jit_after_an_eager_forward():
    model = _model()
    X = jnp.asarray(xact.datasets.spiral(20, 3, seed=0)[0])
    output = model(X)
    upstream = _upstream(output)
    jitted = jax.jit(model.backward)(upstream)
    assert all(_tracers(layer) == [] for layer in model.layers)
    np.testing.assert_allclose(
        np.asarray(model.backward(upstream)), np.asarray(jitted), rtol=1e-12
    )
    layer = xact.Mish()
    layer(X)
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer.backward)(jnp.ones_like(X))),
        np.asarray(layer.backward(jnp.ones_like(X))),
        rtol=1e-12,
    )


def test_a_backward_outside_the_forwards_trace_says_why():
    for layer in (xact.ReLU(), xact.Dense(3, 3, seed=0)):
        for backward in (layer.backward, jax.jit(layer.backward)):
            jax.jit(layer)(jnp.ones((2, 3)))
            with pytest.raises(
                RuntimeError, match=r"ran under jax\.jit .* call forward"
            ):
                backward(jnp.ones((2, 3)))


def test_gradients_under_jit_through_jax_grad():
    """The way to train under jit: differentiate xact's functions."""

    def loss(w, x):
        return xact.losses.softmax_cross_entropy(jnp.asarray([0, 2]), xact.gelu(x @ w))

    w = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3)))
    x = jnp.asarray([[1.0, -0.5], [0.3, 2.0]])
    grad = jax.jit(jax.grad(loss))(w, x)
    h = 1e-6
    numeric = np.zeros((2, 3))
    for index in np.ndindex(2, 3):
        step = np.zeros((2, 3))
        step[index] = h
        numeric[index] = (float(loss(w + step, x)) - float(loss(w - step, x))) / (2 * h)
    np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-6, atol=1e-9)
