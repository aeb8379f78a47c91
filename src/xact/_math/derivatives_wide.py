"""Float32 derivatives through float64: a fast path of :mod:`xact._run.fast`.

Where the device has float64, the derivative of a float32 input is computed
in float64 by the plain formulas and rounded once. Their float64 rounding
errors (a few units of 2**-53, amplified at most ~10**8 where two terms
cancel next to a derivative's zero, since a float32 input comes no closer to
the zero than 2**-25 of it) stay far below a float32 ULP, so the result is
within 1 ULP of the exact derivative without the exact-pair arithmetic that
:mod:`xact._math.derivatives` needs in float32 alone; it takes a few float64
operations instead of dozens of float32 ones. The tests hold both paths to
the same bound against mpmath (``XACT_FAST_PATHS=0`` runs the exact one;
devices without float64 always do).

Each ``*_slope(xp, x, **params)`` takes a float64 array holding float32
values and returns the derivative in float64, with PyTorch's conventions at
the kinks, the limit at ±inf and NaN for NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .._namespace import Array, Namespace, clip
from .elementwise import sigmoid_math
from .special import erfc_wide

__all__ = ["WIDE_SLOPES", "WIDE_VJPS", "plain_in_float64", "wide_vjp"]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715


def _sigmoid_and_ratio(xp: Namespace, t: Array) -> tuple[Array, Array]:
    """sigmoid(t) and e^-t for ``|t| <= 700``: sigmoid(-t) is their product,
    with no cancellation and no ``where``."""
    e = xp.exp(-t)
    return 1.0 / (1.0 + e), e


def sigmoid_slope(xp: Namespace, x: Array) -> Array:
    e = xp.exp(-xp.abs(x))
    return e / ((1.0 + e) * (1.0 + e))


def log_sigmoid_slope(xp: Namespace, x: Array) -> Array:
    return sigmoid_math(xp, -x)


def softplus_slope(xp: Namespace, x: Array, beta: float) -> Array:
    # sigmoid(beta x); past |beta x| = 800 it is 0 or 1: the clip keeps the
    # product from overflowing
    bound = 800.0 / abs(beta)
    return sigmoid_math(xp, beta * clip(xp, x, -bound, bound))


def tanh_slope(xp: Namespace, x: Array) -> Array:
    e = xp.exp(-2.0 * xp.minimum(xp.abs(x), 400.0))  # e^-800 is 0: no overflow
    return (4.0 * e) / ((1.0 + e) * (1.0 + e))


def tanh_shrink_slope(xp: Namespace, x: Array) -> Array:
    t = xp.tanh(x)
    return t * t


def silu_slope(xp: Namespace, x: Array) -> Array:
    # s (1 + x sigmoid(-x)); past |x| = 200 it is 0 or 1 in float32
    xc = clip(xp, x, -200.0, 200.0)
    s, e = _sigmoid_and_ratio(xp, xc)
    return s * (1.0 + xc * (e * s))


def mish_slope(xp: Namespace, x: Array) -> Array:
    # with n = e^x, w = n (n + 2) and q = w + 2: tanh(softplus x) = w / q,
    # 1 - tanh^2 = 4 (n + 1)^2 / q^2 and sigmoid x = n / (n + 1), so
    # mish' = w / q + 4 x n (n + 1) / q^2: no tanh, no log1p, no where.
    # Past x = 20 it is 1 in float32, below -200 it is 0.
    xc = clip(xp, x, -200.0, 20.0)
    n = xp.exp(xc)
    w = n * (n + 2.0)
    q = w + 2.0
    return w / q + (4.0 * xc) * (n * (n + 1.0)) / (q * q)


def elu_slope(xp: Namespace, x: Array, alpha: float) -> Array:
    return xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0.0)))


def selu_slope(xp: Namespace, x: Array) -> Array:
    from .elementwise import SELU_ALPHA, SELU_SCALE

    return SELU_SCALE * elu_slope(xp, x, SELU_ALPHA)


def celu_slope(xp: Namespace, x: Array, alpha: float) -> Array:
    # past x / alpha = -800 the exponential is 0: the clip keeps the
    # quotient from overflowing
    negative = clip(xp, x, -800.0 * alpha, 0.0) / alpha
    return xp.where(x > 0, 1.0, xp.exp(negative))


def gelu_slope(xp: Namespace, x: Array, approximate: str) -> Array:
    if approximate == "tanh":
        # d/dx x sigmoid(2u) = s + 2 x u' s (1 - s), u = c (x + k x^3); past
        # |x| = 20 it is 0 or 1 in float32, and |2u| stays below 700
        xc = clip(xp, x, -20.0, 20.0)
        u2 = 2.0 * _SQRT_2_OVER_PI * (xc + _GELU_TANH_CUBIC * (xc * xc * xc))
        s, e = _sigmoid_and_ratio(xp, u2)
        du2 = 2.0 * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_CUBIC * (xc * xc))
        return s + (xc * du2) * (s * (e * s))
    # Phi(x) + x phi(x); x^2 is exact in float64 for a float32 x
    xc = clip(xp, x, -64.0, 64.0)
    cdf = 0.5 * erfc_wide(xp, -_SQRT_HALF * xc)
    return cdf + xc * (_INV_SQRT_2PI * xp.exp(-0.5 * (xc * xc)))


def softsign_slope(xp: Namespace, x: Array) -> Array:
    # 1 / (1 + |x|)^2: no overflow for a float32 x, 0 at ±inf
    o = 1.0 + xp.abs(x)
    return 1.0 / (o * o)


def squareplus_slope(xp: Namespace, x: Array, b: float) -> Array:
    # (1 + x / r) / 2 = 1 - q for x >= 0 and q for x < 0, with
    # q = b / (2 r (r + |x|)), r = sqrt(x^2 + b): no cancellation, no inf / inf
    r = xp.sqrt(x * x + b)
    q = b / ((2.0 * r) * (r + xp.abs(x)))
    return xp.where(x >= 0, 1.0 - q, q)


Slope = Callable[..., Array]

WIDE_SLOPES: dict[str, Slope] = {
    "elu": elu_slope,
    "selu": selu_slope,
    "celu": celu_slope,
    "gelu": gelu_slope,
    "silu": silu_slope,
    "mish": mish_slope,
    "softplus": softplus_slope,
    "sigmoid": sigmoid_slope,
    "log_sigmoid": log_sigmoid_slope,
    "tanh": tanh_slope,
    "tanh_shrink": tanh_shrink_slope,
    "softsign": softsign_slope,
}

# Where the derivative is piecewise constant (the kinks), the vector-Jacobian
# product is the incoming gradient or 0, not a product: 0 where the slope is
# 0 even for an infinite or NaN gradient, as PyTorch gives. NaN where x is.


def _keep_nan(xp: Namespace, x: Array, g: Array) -> Array:
    return xp.where(xp.isnan(x), x, g)


def relu_vjp(xp: Namespace, x: Array, d: Array) -> Array:
    return _keep_nan(xp, x, xp.where(x > 0, d, 0.0))


def hard_tanh_vjp(
    xp: Namespace, x: Array, d: Array, min_val: float, max_val: float
) -> Array:
    return _keep_nan(xp, x, xp.where((x > min_val) & (x < max_val), d, 0.0))


def relu6_vjp(xp: Namespace, x: Array, d: Array) -> Array:
    return hard_tanh_vjp(xp, x, d, 0.0, 6.0)


def leaky_relu_vjp(xp: Namespace, x: Array, d: Array, negative_slope: float) -> Array:
    return _keep_nan(xp, x, xp.where(x > 0, d, d * negative_slope))


def hard_sigmoid_vjp(xp: Namespace, x: Array, d: Array) -> Array:
    return _keep_nan(xp, x, xp.where((x > -3.0) & (x < 3.0), d / 6.0, 0.0))


def hard_swish_vjp(xp: Namespace, x: Array, d: Array) -> Array:
    middle = xp.where((x > -3.0) & (x < 3.0), x, 0.0)
    slope = xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, (2.0 * middle + 3.0) / 6.0, 1.0))
    return _keep_nan(xp, x, d * slope)


def hard_shrink_vjp(xp: Namespace, x: Array, d: Array, lambd: float) -> Array:
    return _keep_nan(xp, x, xp.where(xp.abs(x) > lambd, d, 0.0))


def identity_vjp(xp: Namespace, x: Array, d: Array) -> Array:
    return _keep_nan(xp, x, d)


def squareplus_vjp(xp: Namespace, x: Array, d: Array, b: float) -> Array:
    if b == 0.0:  # the positive part
        return relu_vjp(xp, x, d)
    return d * squareplus_slope(xp, x, b)


Vjp = Callable[..., Array]

WIDE_VJPS: dict[str, Vjp] = {
    "relu": relu_vjp,
    "relu6": relu6_vjp,
    "leaky_relu": leaky_relu_vjp,
    "hard_sigmoid": hard_sigmoid_vjp,
    "hard_swish": hard_swish_vjp,
    "hard_tanh": hard_tanh_vjp,
    "hard_shrink": hard_shrink_vjp,
    "soft_shrink": hard_shrink_vjp,
    "squareplus": squareplus_vjp,
    "identity": identity_vjp,
}


def wide_vjp(name: str) -> Vjp:
    """``vjp(xp, x, d, **params)`` in float64 for every elementwise function:
    the piecewise form of :data:`WIDE_VJPS`, else ``d`` times the slope."""
    if name in WIDE_VJPS:
        return WIDE_VJPS[name]
    slope = WIDE_SLOPES[name]

    def vjp(xp: Namespace, x: Array, d: Array, **params: float) -> Array:
        return d * slope(xp, x, **params)

    vjp.__name__ = f"{name}_vjp"
    return vjp


# The slopes that are also accurate in float64 itself (a few ULP): the
# argument of their exp is exact (x, 2|x|, or x scaled by a power of two) and
# no two terms cancel. silu, mish and gelu have a root where their terms
# cancel, tanh_shrink squares JAX's 7-ULP tanh: those keep the exact pairs.
_PLAIN_IN_FLOAT64 = {"sigmoid", "log_sigmoid", "tanh", "elu", "selu"}
_POWER_OF_TWO_SCALE = {"softplus": "beta", "celu": "alpha"}


def plain_in_float64(name: str, params: dict[str, object]) -> bool:
    """Whether ``name``'s derivative, with these parameters, may run its
    plain formula in float64 (the exact pairs would buy nothing)."""
    if name in _PLAIN_IN_FLOAT64:
        return True
    scale = params.get(_POWER_OF_TWO_SCALE.get(name, ""))
    return isinstance(scale, float) and abs(math.frexp(scale)[0]) == 0.5
