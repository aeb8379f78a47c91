"""Optimizers: the same steps as torch.optim (float64), functional updates,
state on the parameters' device."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy
from xact import optim

# xact optimizer, torch.optim equivalent (same hyper-parameters, no decay)
PAIRS = {
    "sgd": (lambda: optim.SGD(0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (
        lambda: optim.SGD(0.1, momentum=0.9),
        lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9),
    ),
    "adagrad": (
        lambda: optim.Adagrad(0.1, epsilon=1e-10),
        lambda t, p: t.optim.Adagrad(p, lr=0.1, eps=1e-10),
    ),
    "rmsprop": (
        lambda: optim.RMSprop(0.01, rho=0.9, epsilon=1e-8),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    "adam": (
        lambda: optim.Adam(0.01, epsilon=1e-8),
        lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-8),
    ),
}


def _problem():
    rng = np.random.default_rng(4)
    return rng.standard_normal((8, 3)), rng.standard_normal((8, 2))


@pytest.mark.parametrize("name", list(PAIRS))
def test_steps_equal_torch_optim(name):
    torch = pytest.importorskip("torch", reason="the oracle is torch.optim")
    x, target = _problem()
    dense = xact.Dense(3, 2, seed=0, xp=np)
    w = torch.tensor(dense.weights.copy(), requires_grad=True)
    b = torch.tensor(dense.biases.copy(), requires_grad=True)
    ours, theirs = PAIRS[name][0](), PAIRS[name][1](torch, [w, b])
    for _ in range(5):
        y = dense(x)
        dense.backward(2 * (y - target) / y.size)
        ours.step([dense])
        theirs.zero_grad()
        loss = torch.mean((torch.tensor(x) @ w + b - torch.tensor(target)) ** 2)
        loss.backward()
        theirs.step()
    np.testing.assert_allclose(dense.weights, w.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dense.biases, b.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(PAIRS))
def test_updates_are_functional_and_on_device(xp, asarray, name):
    x, target = _problem()
    dense = xact.Dense(3, 2, seed=0)
    y = dense(asarray(x))
    before = dense.weights
    snapshot = to_numpy(before).copy()
    dense.backward(y - asarray(target))
    PAIRS[name][0]().step([dense])
    assert dense.weights is not before
    np.testing.assert_array_equal(to_numpy(before), snapshot)  # not written in place
    assert array_api_compat.device(dense.weights) == array_api_compat.device(y)
    assert dense.weights.dtype == y.dtype


def test_learning_rate_decay():
    sgd = optim.SGD(1.0, decay=0.5)
    sgd.iterations = 2
    assert sgd.current_learning_rate == 0.5


def test_bad_hyper_parameters():
    with pytest.raises(ValueError, match=r"xact\.SGD: learning_rate must be > 0"):
        optim.SGD(0.0)
    with pytest.raises(ValueError, match=r"xact\.SGD: momentum must be in \[0, 1\)"):
        optim.SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"xact\.Adam: beta_1"):
        optim.Adam(beta_1=1.5)
    dense = xact.Dense(2, 2, seed=0)
    dense(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match=r"call backward first"):
        optim.SGD(0.1).step([dense])
