"""The losses' math: per-element terms and their derivatives, one table.

Each entry of :data:`SPECS` names how targets are formed, the terms whose
per-row sum or mean is the per-sample loss, and d terms / d y_pred.
:mod:`xact.losses` builds the public functions and classes from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ._labels import class_targets, same_shape_targets
from ._math.elementwise import sigmoid_math
from ._math.softmax import log_softmax_math, softmax_math
from ._math.twofold import exp_pair
from ._namespace import Array, Namespace, clip

__all__ = ["REDUCTIONS", "SPECS", "LossSpec"]

REDUCTIONS = ("mean", "sum", "none")


@dataclass(frozen=True)
class LossSpec:
    """A loss as per-element terms and their derivative.

    ``terms(xp, t, p, **o)`` has y_pred's shape; the per-sample loss is its sum
    (``per_row="sum"``) or mean (``"mean"``) over the last axis of 2-D input.
    ``derivative`` is d terms / d p.
    """

    name: str
    targets: Callable[[str, Namespace, Array, Array], Array]
    terms: Callable[..., Array]
    derivative: Callable[..., Array]
    per_row: str
    defaults: dict[str, float] = field(default_factory=dict)


def _cce_terms(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    return xp.where(t == 0, 0.0, -t * xp.log(clip(xp, p, eps, 1.0 - eps)))


def _cce_derivative(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    inside = (p >= eps) & (p <= 1.0 - eps)
    return xp.where(inside, -t / xp.where(inside, p, 1.0), 0.0)


def _smoothed(t: Array, label_smoothing: float) -> Array:
    if label_smoothing == 0.0:
        return t
    return t * (1.0 - label_smoothing) + label_smoothing / t.shape[-1]


def _sce_terms(xp: Namespace, t: Array, z: Array, label_smoothing: float) -> Array:
    log_p = log_softmax_math(xp, z, z.ndim - 1, None)
    q = _smoothed(t, label_smoothing)
    return xp.where(q == 0, 0.0, -q * log_p)  # a -inf logit with no target: 0


def _sce_derivative(xp: Namespace, t: Array, z: Array, label_smoothing: float) -> Array:
    q = _smoothed(t, label_smoothing)
    p = softmax_math(xp, z, z.ndim - 1, None)
    return p * xp.sum(q, axis=-1, keepdims=True) - q


def _bce_terms(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    p = clip(xp, p, eps, 1.0 - eps)
    positive = xp.where(t == 0, 0.0, t * xp.log(p))
    negative = xp.where(t == 1, 0.0, (1.0 - t) * xp.log1p(-p))
    return -(positive + negative)


def _bce_derivative(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    inside = (p >= eps) & (p <= 1.0 - eps)
    q = xp.where(inside, p, 0.5)
    return xp.where(inside, (q - t) / (q * (1.0 - q)), 0.0)


def _bce_logits_terms(xp: Namespace, t: Array, z: Array) -> Array:
    # max(z, 0) - z t + log1p(e^-|z|): stable for any |z|
    e = exp_pair(xp, -xp.abs(z), xp.zeros_like(z))
    return xp.maximum(z, 0.0) - z * t + xp.log1p(e)


def _bce_logits_derivative(xp: Namespace, t: Array, z: Array) -> Array:
    return sigmoid_math(xp, z) - t


def _mse_terms(xp: Namespace, t: Array, p: Array) -> Array:
    r = p - t
    return r * r


def _mse_derivative(xp: Namespace, t: Array, p: Array) -> Array:
    return 2.0 * (p - t)


def _mae_terms(xp: Namespace, t: Array, p: Array) -> Array:
    return xp.abs(p - t)


def _mae_derivative(xp: Namespace, t: Array, p: Array) -> Array:
    return xp.sign(p - t)


def _huber_terms(xp: Namespace, t: Array, p: Array, delta: float) -> Array:
    r = xp.abs(p - t)
    small = xp.where(r <= delta, r, 0.0)  # no overflow in the branch not taken
    return xp.where(r <= delta, 0.5 * small * small, delta * (r - 0.5 * delta))


def _huber_derivative(xp: Namespace, t: Array, p: Array, delta: float) -> Array:
    r = p - t
    return xp.where(xp.abs(r) <= delta, r, delta * xp.sign(r))


SPECS = {
    spec.name: spec
    for spec in (
        LossSpec(
            "categorical_crossentropy",
            class_targets,
            _cce_terms,
            _cce_derivative,
            "sum",
            {"eps": 1e-7},
        ),
        LossSpec(
            "softmax_cross_entropy",
            class_targets,
            _sce_terms,
            _sce_derivative,
            "sum",
            {"label_smoothing": 0.0},
        ),
        LossSpec(
            "binary_crossentropy",
            same_shape_targets,
            _bce_terms,
            _bce_derivative,
            "mean",
            {"eps": 1e-7},
        ),
        LossSpec(
            "binary_crossentropy_from_logits",
            same_shape_targets,
            _bce_logits_terms,
            _bce_logits_derivative,
            "mean",
        ),
        LossSpec(
            "mean_squared_error",
            same_shape_targets,
            _mse_terms,
            _mse_derivative,
            "mean",
        ),
        LossSpec(
            "mean_absolute_error",
            same_shape_targets,
            _mae_terms,
            _mae_derivative,
            "mean",
        ),
        LossSpec(
            "huber",
            same_shape_targets,
            _huber_terms,
            _huber_derivative,
            "mean",
            {"delta": 1.0},
        ),
    )
}
