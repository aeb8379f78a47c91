"""Losses: values and gradients against PyTorch's torch.nn.functional (float64),
label forms, errors, and results as 0-d arrays of the caller's library."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy
from xact import losses

RNG = np.random.default_rng(3)
N, C = 6, 4
LABELS = RNG.integers(0, C, size=N)
ONE_HOT = np.eye(C)[LABELS]
LOGITS = RNG.normal(0, 3, size=(N, C))
PROBABILITIES = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
BINARY_TARGETS = RNG.integers(0, 2, size=(N, C)).astype(float)
BINARY_PROBABILITIES = RNG.uniform(0.02, 0.98, size=(N, C))
REGRESSION_TARGETS = RNG.normal(size=(N, C))
REGRESSION_PREDICTIONS = REGRESSION_TARGETS + RNG.normal(0, 1.5, size=(N, C))

# (loss, options, y_true, y_pred, torch reference on (target, input) -> mean loss)
CASES = {
    "categorical_crossentropy": (
        {},
        LABELS,
        PROBABILITIES,
        lambda F, t, p: F.nll_loss(p.log(), t),
    ),
    "softmax_cross_entropy": (
        {},
        LABELS,
        LOGITS,
        lambda F, t, z: F.cross_entropy(z, t),
    ),
    "softmax_cross_entropy_smoothed": (
        {"label_smoothing": 0.1},
        LABELS,
        LOGITS,
        lambda F, t, z: F.cross_entropy(z, t, label_smoothing=0.1),
    ),
    "binary_crossentropy": (
        {},
        BINARY_TARGETS,
        BINARY_PROBABILITIES,
        lambda F, t, p: F.binary_cross_entropy(p, t),
    ),
    "binary_crossentropy_from_logits": (
        {},
        BINARY_TARGETS,
        LOGITS,
        lambda F, t, z: F.binary_cross_entropy_with_logits(z, t),
    ),
    "mean_squared_error": (
        {},
        REGRESSION_TARGETS,
        REGRESSION_PREDICTIONS,
        lambda F, t, p: F.mse_loss(p, t),
    ),
    "mean_absolute_error": (
        {},
        REGRESSION_TARGETS,
        REGRESSION_PREDICTIONS,
        lambda F, t, p: F.l1_loss(p, t),
    ),
    "huber": (
        {"delta": 1.0},
        REGRESSION_TARGETS,
        REGRESSION_PREDICTIONS,
        lambda F, t, p: F.huber_loss(p, t, delta=1.0),
    ),
}


def _labels(xp, asarray, labels):
    """Integer labels on the test device (a copy: never flag the module's array)."""
    device = array_api_compat.device(asarray([0.0]))
    return xp.asarray(np.array(labels), device=device)


def _function(case):
    return getattr(losses, case.replace("_smoothed", ""))


@pytest.mark.parametrize("case", list(CASES))
def test_values_and_gradients_equal_torch(case):
    torch = pytest.importorskip("torch", reason="the oracle is torch.nn.functional")
    options, y_true, y_pred, reference = CASES[case]
    t = torch.tensor(y_true)
    p = torch.tensor(y_pred, requires_grad=True)
    expected = reference(torch.nn.functional, t, p)
    (expected_grad,) = torch.autograd.grad(expected, p)
    value = _function(case)(t, p.detach(), **options)
    np.testing.assert_allclose(value.numpy(), expected.detach().numpy(), rtol=1e-12)
    loss = losses.LOSSES[case.replace("_smoothed", "")](**options)
    np.testing.assert_allclose(loss(t, p.detach()).numpy(), value.numpy(), rtol=1e-15)
    np.testing.assert_allclose(
        loss.backward().numpy(), expected_grad.numpy(), rtol=1e-10, atol=1e-15
    )


@pytest.mark.parametrize("case", list(CASES))
def test_losses_on_every_backend(xp, asarray, case):
    options, y_true, y_pred, _ = CASES[case]
    labels = y_true is LABELS
    t = _labels(xp, asarray, y_true) if labels else asarray(y_true)
    p = asarray(y_pred)
    value = _function(case)(t, p, **options)
    assert type(value) is type(p) or hasattr(value, "aval")
    assert tuple(value.shape) == ()
    assert array_api_compat.device(value) == array_api_compat.device(p)
    expected = _function(case)(y_true, y_pred, **options)
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-13)
    per_sample = _function(case)(t, p, reduction="none", **options)
    assert tuple(per_sample.shape) == (N,)
    total = _function(case)(t, p, reduction="sum", **options)
    np.testing.assert_allclose(to_numpy(total), to_numpy(per_sample).sum(), rtol=1e-13)
    loss = losses.LOSSES[case.replace("_smoothed", "")](**options)
    loss(t, p)
    gradient = loss.backward()
    assert tuple(gradient.shape) == (N, C)
    assert array_api_compat.device(gradient) == array_api_compat.device(p)


def test_gradients_match_finite_differences(xp, asarray):
    for case, (options, y_true, y_pred, _) in CASES.items():
        if case == "mean_absolute_error":
            continue  # piecewise linear: covered by the torch comparison
        loss = losses.LOSSES[case.replace("_smoothed", "")](**options)
        t = _labels(xp, asarray, y_true) if y_true is LABELS else asarray(y_true)
        loss(t, asarray(y_pred))
        gradient = to_numpy(loss.backward())
        expected = np.zeros_like(y_pred)
        for index in np.ndindex(y_pred.shape):
            step = 1e-6 * max(abs(y_pred[index]), 1e-3)
            up, down = y_pred.copy(), y_pred.copy()
            up[index] += step
            down[index] -= step
            f = _function(case)
            expected[index] = (
                float(f(y_true, up, **options)) - float(f(y_true, down, **options))
            ) / (2 * step)
        np.testing.assert_allclose(
            gradient, expected, rtol=1e-5, atol=1e-8, err_msg=case
        )


@pytest.mark.parametrize(
    "form", ["indices", "one_hot", "row", "column", "float_indices"]
)
def test_label_forms_agree(xp, asarray, form):
    labels = {
        "indices": LABELS,
        "one_hot": ONE_HOT,
        "row": LABELS[None, :],
        "column": LABELS[:, None],
        "float_indices": LABELS.astype(float),
    }[form]
    t = _labels(xp, asarray, labels)
    value = losses.categorical_crossentropy(t, asarray(PROBABILITIES))
    expected = -np.mean(np.log(PROBABILITIES[np.arange(N), LABELS]))
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-14)


def test_bad_label_shapes_name_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"y_true of shape \(2, 3\) does not match y_pred "
        r"of shape \(6, 4\); expected integer class",
    ):
        losses.categorical_crossentropy(np.zeros((2, 3)), PROBABILITIES)
    with pytest.raises(ValueError, match=r"y_true of shape \(6, 3\) does not match"):
        losses.softmax_cross_entropy(np.zeros((6, 3)), LOGITS)  # class count
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        losses.categorical_crossentropy(np.array([0, 1, 2, 3, 4, 0]), PROBABILITIES)
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        losses.mean_squared_error(
            REGRESSION_TARGETS, REGRESSION_PREDICTIONS, reduction="avg"
        )
    with pytest.raises(ValueError, match=r"y_pred must have shape \(N, C\)"):
        losses.categorical_crossentropy(LABELS, PROBABILITIES[0])


def test_binary_crossentropy_from_logits_is_stable():
    z = np.array([[1e4, -1e4, 30.0, -30.0]])
    t = np.array([[1.0, 0.0, 0.0, 1.0]])
    per_sample = losses.binary_crossentropy_from_logits(t, z, reduction="none")
    # exact: log1p(e^-1e4) ~ 0, 0, 30 + log1p(e^-30), 30 + log1p(e^-30)
    expected = (0 + 0 + 2 * (30 + np.log1p(np.exp(-30.0)))) / 4
    np.testing.assert_allclose(per_sample, [expected], rtol=1e-15)


def test_softmax_cross_entropy_never_takes_the_log_of_a_rounded_probability():
    logits = np.array([[0.0, -800.0]])
    value = losses.softmax_cross_entropy(np.array([1]), logits)
    np.testing.assert_allclose(value, 800.0, rtol=1e-15)  # not inf


def test_probabilities_are_clipped_like_keras():
    p = np.array([[1.0, 0.0]])
    value = losses.categorical_crossentropy(np.array([1]), p)
    np.testing.assert_allclose(value, -np.log(1e-7), rtol=1e-12)


def test_dense_loss_is_the_seed_notebooks_call():
    X, y = xact.datasets.create_spiral_dataset(100, 3, seed=0)
    dense = xact.Dense(2, 3, seed=0, weight_init="small_normal")
    predictions = xact.softmax(dense(X))
    mean, per_sample = dense.loss(y, predictions)
    # the seed's failing cell: labels wrapped in a list, shape (1, 300)
    mean_wrapped, per_sample_wrapped = dense.loss(np.array([y]), predictions)
    np.testing.assert_array_equal(mean_wrapped, mean)
    np.testing.assert_array_equal(per_sample_wrapped, per_sample)
    assert per_sample.shape == (300,)
    np.testing.assert_allclose(
        mean, -np.log(predictions[np.arange(300), y]).mean(), rtol=1e-14
    )
