"""Analytic backward passes (vector-Jacobian products) of every activation.

``*_vjp(xp, x, y, d, ...)`` takes the input ``x``, the forward output ``y`` and
the upstream gradient ``d`` and returns the gradient with respect to ``x``.
Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) =
negative_slope, hard_tanh (and relu6, hard_sigmoid) have slope 0 at the clip
points, hard_shrink and soft_shrink have slope 0 at ±lambd.
"""

from __future__ import annotations

import math

from . import _elementwise as m
from ._namespace import Array, Namespace
from ._special import erfc_scaled

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return xp.where(x > 0, d, 0.0)


def hard_tanh_vjp(
    xp: Namespace, x: Array, y: Array, d: Array, min_val: float, max_val: float
) -> Array:
    return xp.where((x > min_val) & (x < max_val), d, 0.0)


def relu6_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return hard_tanh_vjp(xp, x, y, d, 0.0, 6.0)


def leaky_relu_vjp(
    xp: Namespace, x: Array, y: Array, d: Array, negative_slope: float
) -> Array:
    return xp.where(x > 0, d, negative_slope * d)


def elu_vjp(
    xp: Namespace, x: Array, y: Array, d: Array, alpha: float, scale: float = 1.0
) -> Array:
    slope = (scale * alpha) * xp.exp(xp.minimum(x, 0.0))
    return xp.where(x > 0, scale * d, slope * d)


def selu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return elu_vjp(xp, x, y, d, m.SELU_ALPHA, m.SELU_SCALE)


def celu_vjp(xp: Namespace, x: Array, y: Array, d: Array, alpha: float) -> Array:
    return xp.where(x > 0, d, xp.exp(xp.minimum(x, 0.0) / alpha) * d)


def _sigmoid_both(xp: Namespace, x: Array) -> tuple[Array, Array]:
    """sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), each without cancellation."""
    e = xp.exp(-xp.abs(x))
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    return xp.where(x >= 0, big, small), xp.where(x >= 0, small, big)


def gelu_vjp(xp: Namespace, x: Array, y: Array, d: Array, approximate: str) -> Array:
    if approximate == "tanh":
        # d/dx x s(2u) = s + 2 x s (1 - s) u',  u = c (x + k x^3)
        c = math.sqrt(2.0 / math.pi)
        xc = xp.clip(x, -30.0, 30.0)
        u2 = 2.0 * c * (xc + 0.044715 * xc * xc * xc)
        s, s_minus = _sigmoid_both(xp, u2)
        du = 2.0 * c * (1.0 + 3 * 0.044715 * xc * xc)
        return d * (s + (xc * s * s_minus) * du)
    # Phi(x) + x phi(x)
    xc = xp.clip(x, -64.0, 64.0)
    cdf = erfc_scaled(xp, -xc / math.sqrt(2.0), 0.5)
    pdf = _INV_SQRT_2PI * xp.exp(-(xc * xc) / 2)
    return d * (cdf + xc * pdf)


def silu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    xc = xp.clip(x, -1e4, 1e4)
    s, s_minus = _sigmoid_both(xp, xc)
    return d * (s * (1.0 + xc * s_minus))


def mish_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    # tanh(sp) + x sech^2(sp) sigmoid(x), sp = softplus(x)
    xc = xp.clip(x, -1e4, 1e4)
    t = m.tanh_softplus(xp, xc)
    s, _ = _sigmoid_both(xp, xc)
    return d * (t + xc * (1.0 - t * t) * s)


def softplus_vjp(xp: Namespace, x: Array, y: Array, d: Array, beta: float) -> Array:
    s, _ = _sigmoid_both(xp, beta * xp.clip(x, -1e4 / abs(beta), 1e4 / abs(beta)))
    return d * s


def log_sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    _, s_minus = _sigmoid_both(xp, x)
    return d * s_minus


def sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    s, s_minus = _sigmoid_both(xp, x)
    return d * (s * s_minus)


def softsign_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    denominator = 1.0 + xp.abs(x)
    return d / denominator / denominator


def hard_sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return xp.where((x > -3.0) & (x < 3.0), d / 6.0, 0.0)


def hard_swish_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    middle = xp.where((x > -3.0) & (x < 3.0), x, 0.0)
    return xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, d * (middle / 3.0 + 0.5), d))


def tanh_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return d * (1.0 - y * y)


def tanh_shrink_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    t = x - y
    return d * (t * t)


def hard_shrink_vjp(xp: Namespace, x: Array, y: Array, d: Array, lambd: float) -> Array:
    return xp.where((x >= -lambd) & (x <= lambd), 0.0, d)


soft_shrink_vjp = hard_shrink_vjp


def squareplus_vjp(xp: Namespace, x: Array, y: Array, d: Array, b: float) -> Array:
    # (1 + x/r)/2 = (r + x)/(2r); for x < 0 that is b / (2 r (r - x))
    if b == 0.0:  # the positive part
        return xp.where(x > 0, d, 0.0)
    root = xp.hypot(x, math.sqrt(b))
    positive = 0.5 + (xp.maximum(x, 0.0) / root) / 2
    negative = (b / 4) / root / (root / 2 - xp.minimum(x, 0.0) / 2)
    return d * xp.where(x >= 0, positive, negative)


def identity_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return d


# Along an axis: the Jacobian couples the slice.


def softmax_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    return y * (d - xp.sum(d * y, axis=axis, keepdims=True))


def log_softmax_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    probabilities = xp.where(xp.isinf(y), 0.0, xp.exp(y))
    return d - probabilities * xp.sum(d, axis=axis, keepdims=True)


def softmin_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    return -softmax_vjp(xp, -x, y, d, axis)


def glu_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    half = x.shape[axis] // 2
    first = [slice(None)] * x.ndim
    second = [slice(None)] * x.ndim
    first[axis] = slice(0, half)
    second[axis] = slice(half, None)
    a = x[tuple(first)]
    s, s_minus = _sigmoid_both(xp, x[tuple(second)])
    return xp.concat([d * s, d * a * s * s_minus], axis=axis)
