"""Array-agnostic math of the elementwise activations.

Each ``*_math(xp, x, ...)`` takes a resolved namespace and a floating array
(float32 or float64: half precision is widened by the public layer) and
returns an array of the same shape, dtype and device. No function here calls
``array_namespace``, branches on array values or writes into its input; the
public, validating layer is :mod:`xact.activations`.

Kinks use ``where`` so that autodiff gives PyTorch's conventions
(relu'(0) = 0, leaky_relu'(0) = negative_slope, zero slope at clip points).
Branches that ``where`` discards are evaluated on clamped arguments so that no
finite input overflows or produces a NaN there.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from .._namespace import (
    Array,
    Namespace,
    array_device,
    clip,
    finfo_of,
    log_smallest_normal,
    rounding_barrier,
)
from .kinks import minus_abs, negative_part, positive_part
from .special import erfc_pair, erfc_wide, expm1, has_float64
from .special import relu as fast_relu
from .special import tanh as accurate_tanh
from .twofold import (
    at_least,
    at_most,
    below,
    constant_pair,
    exceeds,
    exp_pair,
    safe_split_bound,
    split_constant,
    two_product,
    two_product_by_split,
    two_sum,
)

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

# Constants to ~106 bits as (hi, lo) float64 pairs.
_INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)
_TWO_SQRT_2_OVER_PI = (2 * 0.7978845608028654, 2 * -4.98465440455546e-17)
_GELU_TANH_CUBIC = (0.044715, 2.1960211427085595e-18)

# Continued-fraction depth for tanh_shrink on |x| < 2 (converged in float64).
_TANH_CF_DEPTH = 14
_TANH_SHRINK_SERIES_BOUND = 2.0


@lru_cache(maxsize=16)
def _largest_unsaturated(bits: int, scale: float) -> float:
    """The largest x of a float type with ``bits`` bits where scale * x is finite."""
    kind = np.float32 if bits == 32 else np.float64
    info = np.finfo(kind)
    limit = kind(float(info.max) / scale)
    with np.errstate(over="ignore"):
        while not np.isfinite(kind(scale) * limit):
            limit = np.nextafter(limit, kind(0))
    return float(limit)


def relu_math(xp: Namespace, x: Array) -> Array:
    return fast_relu(xp, x)


def hard_tanh_math(xp: Namespace, x: Array, min_val: float, max_val: float) -> Array:
    # compared with the exact parameters; the clip values round once
    return xp.where(
        at_most(xp, x, min_val),
        min_val,
        xp.where(at_least(xp, x, max_val), max_val, x),
    )


def relu6_math(xp: Namespace, x: Array) -> Array:
    return hard_tanh_math(xp, x, 0.0, 6.0)


def leaky_relu_math(xp: Namespace, x: Array, negative_slope: float) -> Array:
    return xp.where(x > 0, x, _times_constant(xp, negative_part(xp, x), negative_slope))


def _times_constant(xp: Namespace, x: Array, c: float) -> Array:
    """c * x, saturating to ±inf without an overflow warning; c * ±inf is
    computed as such, so autodiff gives c there too."""
    infinite = xp.isinf(x)
    if c == 0.0:  # 0 * ±inf is 0 here (the limit), NaN stays NaN
        return 0.0 * xp.where(infinite, 0.0, x)
    if abs(c) <= 1.0:
        return c * x
    limit = _largest_unsaturated(finfo_of(xp, x.dtype).bits, abs(c))
    inside = c * clip(xp, x, -limit, limit)
    infinity = xp.full_like(x, math.copysign(math.inf, c))
    overflowed = xp.where(x > 0, infinity, -infinity)
    saturated = xp.where(infinite, c * xp.where(infinite, x, 0.0), overflowed)
    return xp.where(xp.abs(x) > limit, saturated, inside)


def elu_math(xp: Namespace, x: Array, alpha: float, scale: float = 1.0) -> Array:
    negative = expm1(xp, negative_part(xp, x))
    positive = x if scale == 1.0 else _times_constant(xp, x, scale)
    return xp.where(x > 0, positive, (scale * alpha) * negative)


def selu_math(xp: Namespace, x: Array) -> Array:
    return elu_math(xp, x, SELU_ALPHA, SELU_SCALE)


def celu_math(xp: Namespace, x: Array, alpha: float) -> Array:
    return celu_prepared(xp, x, **celu_constants(xp, x.dtype, alpha))


def celu_constants(xp: Namespace, dtype: object, alpha: float) -> dict[str, float]:
    """celu's constants: alpha, and the floor of x that keeps x / alpha >= -100
    (where expm1 is -1 in every dtype), so that it cannot overflow."""
    largest = float(finfo_of(xp, dtype).max)
    return {"alpha": alpha, "lowest": max(-100.0 * alpha, -largest)}


def celu_prepared(xp: Namespace, x: Array, alpha: Any, lowest: Any) -> Array:
    # alpha * expm1(x / alpha) for x <= 0; where x / alpha is below the
    # precision (or underflows) the value is x itself.
    negative = xp.maximum(negative_part(xp, x), lowest)
    u = negative / alpha
    tiny = float(finfo_of(xp, x.dtype).eps)
    value = xp.where(xp.abs(u) < tiny, negative, alpha * expm1(xp, u))
    return xp.where(x > 0, x, value)


def sigmoid_math(xp: Namespace, x: Array) -> Array:
    # 1 / (1 + e) and e / (1 + e), e = exp(-|x|): one division for both
    e = xp.exp(minus_abs(xp, x))
    r = 1.0 / (1.0 + e)
    return xp.where(x >= 0, r, e * r)


def _exp_floor(xp: Namespace, dtype: object) -> float:
    """An argument below which x * exp(x) is 0 in ``dtype``."""
    return 2 * log_smallest_normal(xp, dtype) - 64


# ln 2 in two parts (Cody and Waite): n * _LN2_HI is exact for |n| < 2^20
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


def _times_exp(xp: Namespace, factor: Array, hi: Array, lo: Array) -> Array:
    """factor * exp(hi + lo) for hi <= 0, without losing bits to subnormals."""
    lift_hi, lift_lo, _ = _lift(xp, hi.dtype, 1.0)
    return _exp_product(xp, hi, lo, lift_hi, lift_lo, factor=factor)


def _lift(xp: Namespace, dtype: object, divisor: float) -> tuple[float, float, float]:
    """The constants of :func:`_exp_product`: the lift C = (k + m) ln 2 as a
    pair, and 2^m. k is half the dtype's exponent range; m brings a small
    divisor to [1, 2), so that the quotient is normal wherever the result is."""
    info = finfo_of(xp, dtype)
    k = round(math.log2(float(info.max))) // 2
    m = 1 - math.frexp(abs(divisor))[1] if abs(divisor) < 1.0 else 0
    c_hi, c_lo = constant_pair((k + m) * _LN2_HI, (k + m) * _LN2_LO, xp, dtype)
    return c_hi, c_lo, 2.0**m


def _exp_product(
    xp: Namespace,
    hi: Array,
    lo: Array,
    lift_hi: Any,
    lift_lo: Any,
    *,
    factor: Array | None = None,
    divide: tuple[Any, Any, Any] | None = None,
) -> Array:
    """factor * exp(hi + lo) / divisor for hi <= 0 and |lo| <= ulp(hi).

    Where exp(hi) * lo would not be a normal number (a backend that flushes
    subnormals, XLA on CPU, drops it there) the exponent is lifted by
    C = lift_hi + lift_lo = (k + m) ln 2 (:func:`_lift`), an exact pair:
    exp(hi + lo) / divisor = exp((hi + C) + lo') / (divisor 2^m) * 2^-k. The
    powers of two are exact. ``divide`` is the divisor's ``d_hi`` (rounded to
    the dtype), ``d_hi 2^m`` and the ratio of its rounding
    (:func:`_rounded_with_ratio`); None: no division.
    """
    info = finfo_of(xp, hi.dtype)
    deep = log_smallest_normal(xp, hi.dtype) + 2.0 - math.log(float(info.eps))
    k = round(math.log2(float(info.max))) // 2
    lifted, lifted_lo = two_sum(xp, hi, lift_hi)
    lifted, lifted_lo = two_sum(xp, lifted, lifted_lo + (lo + lift_lo))  # |lo| <= ulp
    lift = hi < deep
    e = exp_pair(xp, xp.where(lift, lifted, hi), xp.where(lift, lifted_lo, lo))
    value = e if factor is None else factor * e
    if divide is not None:  # one division, by divisor 2^m where lifted
        d_hi, d_lifted, ratio = divide
        value = value / xp.where(lift, xp.full_like(value, d_lifted), d_hi)
        value = value - value * ratio  # the rounding of the divisor
    return xp.where(lift, value * 2.0**-k, value)


def _rounded_with_ratio(c: float, xp: Namespace, dtype: object) -> tuple[float, float]:
    """``c_hi``, c rounded to ``dtype``, and ``(c - c_hi) / c_hi``, so that
    ``x / c = (x / c_hi) (1 - ratio)`` to second order (an exact parameter)."""
    c_hi, _ = constant_pair(c, 0.0, xp, dtype)
    return c_hi, (c - c_hi) / c_hi


# e^-40 is below half an ULP of 1 in every dtype: beyond it sigmoid is 1.
_SIGMOID_SATURATED = 40.0


def _exp_of_negative_side(xp: Namespace, x: Array) -> tuple[Array, Array, Array]:
    """``e, low, h`` for sigmoid-like formulas, with one exponential: e =
    e^-|x| (x capped at 40, where 1 + e^-|x| is 1, so that autodiff of
    x * f(e^-|x|) at +inf never forms inf * 0), except below the
    point where e^x is subnormal (``low``), where e is 0 (far below half an
    ULP of 1) and h = e^(x/2), so that f e^x = (f h) h keeps its bits."""
    low = x < log_smallest_normal(xp, x.dtype) + 1.0
    capped = xp.where(x > _SIGMOID_SATURATED, _SIGMOID_SATURATED, x)
    h = xp.exp(xp.where(low, x / 2, minus_abs(xp, capped)))
    return xp.where(low, 0.0, h), low, h


def silu_math(xp: Namespace, x: Array) -> Array:
    # each branch sees only its own side of x (autodiff at ±inf stays finite)
    # one exponential (e^-|x|, which is e^x below 0) and one division
    x = xp.maximum(x, _exp_floor(xp, x.dtype))
    e, low, h = _exp_of_negative_side(xp, x)
    r = 1.0 / (1.0 + e)
    positive = positive_part(xp, x) * r
    below_zero = negative_part(xp, x)
    negative = xp.where(low, (below_zero * h) * h, below_zero * e) * r
    return xp.where(x >= 0, positive, negative)


def tanh_softplus(xp: Namespace, x: Array) -> Array:
    """tanh(softplus(x)): n / (n + 2), n = u (u + 2), u = e^x for x <= 0;
    (1 + 2w) / (1 + 2w + 2w^2), w = e^-x for x > 0."""
    e = xp.exp(minus_abs(xp, x))
    n = e * (e + 2.0)
    two_w = 2.0 * e
    positive = (1.0 + two_w) / ((1.0 + two_w) + two_w * e)
    return xp.where(x > 0, positive, n / (n + 2.0))


def mish_math(xp: Namespace, x: Array) -> Array:
    # tanh(softplus(x)) = n / (n + 2) with n = u (u + 2), u = e^x (x <= 0);
    # = (1 + 2w) / (1 + 2w + 2w^2) with w = e^-x (x > 0).
    x = xp.maximum(x, _exp_floor(xp, x.dtype))
    e, low, h = _exp_of_negative_side(xp, x)
    n = e * (e + 2.0)
    below_zero = negative_part(xp, x)
    negative = xp.where(low, (below_zero * h) * h, below_zero * e)
    negative = negative * ((e + 2.0) / (n + 2.0))
    two_w = 2.0 * e
    positive = positive_part(xp, x) * ((1.0 + two_w) / ((1.0 + two_w) + two_w * e))
    return xp.where(x > 0, positive, negative)


def softplus_math(xp: Namespace, x: Array, beta: float) -> Array:
    # log(1 + e^(bx)) / b = [x if bx > 0] + log1p(e^-|bx|) / b: the linear part
    # is x itself (no rounding)
    if beta == 1.0:
        return positive_part(xp, x) + xp.log1p(xp.exp(minus_abs(xp, x)))
    return softplus_prepared(xp, x, **softplus_constants(xp, x.dtype, beta))


def softplus_constants(xp: Namespace, dtype: object, beta: float) -> dict[str, float]:
    """softplus's constants for beta != 1: bx = beta * x is carried as an
    exact pair, the rounding of beta to the dtype included, since exp
    multiplies the error of its argument by |bx|."""
    info = finfo_of(xp, dtype)
    # For |beta| < 1, x is scaled by 2^-shift and beta by 2^shift (both exact)
    # so that every x can be split for the exact product, and beta's low part
    # is a normal number.
    split_bound = safe_split_bound(xp, dtype)
    shift = 0
    if abs(beta) < 1.0:
        needed = math.ceil(math.log2(float(info.max) / split_bound))
        shift = max(needed, 1 - math.frexp(abs(beta))[1])
    b_hi, b_lo = constant_pair(beta * 2.0**shift, 0.0, xp, dtype)
    b_split_hi, b_split_lo = split_constant(b_hi, xp, dtype)
    # within `reach` the pair is exact; beyond it |bx| > max/2: the log term is 0
    far = min(float(info.max) / (2 * abs(b_hi)), float(info.max))
    beta_hi, ratio = _rounded_with_ratio(beta, xp, dtype)
    lift_hi, lift_lo, lift_power = _lift(xp, dtype, beta)
    return {
        "unscale": 2.0**-shift,
        "b_hi": b_hi,
        "b_lo": b_lo,
        "b_split_hi": b_split_hi,
        "b_split_lo": b_split_lo,
        "far": far,
        "reach": min(split_bound, far),
        "beta_hi": beta_hi,
        "ratio": ratio,
        "lift_hi": lift_hi,
        "lift_lo": lift_lo,
        "lifted_beta": beta_hi * lift_power,
    }


def softplus_prepared(
    xp: Namespace,
    x: Array,
    *,
    unscale: Any,
    b_hi: Any,
    b_lo: Any,
    b_split_hi: Any,
    b_split_lo: Any,
    far: Any,
    reach: Any,
    beta_hi: Any,
    ratio: Any,
    lift_hi: Any,
    lift_lo: Any,
    lifted_beta: Any,
) -> Array:
    """softplus from :func:`softplus_constants`."""
    info = finfo_of(xp, x.dtype)
    scaled = rounding_barrier(xp, x * unscale)  # no folding
    near = clip(xp, scaled, -reach, reach)
    product, product_lo = two_product_by_split(xp, near, b_hi, b_split_hi, b_split_lo)
    product_lo = product_lo + b_lo * near
    beyond = xp.abs(scaled) > reach
    bx = xp.where(beyond, b_hi * clip(xp, scaled, -far, far), product)
    bx_lo = xp.where(beyond, 0.0, product_lo)
    down, down_lo = minus_abs(xp, bx), xp.where(bx >= 0, -bx_lo, bx_lo)
    linear = xp.where(bx >= 0, x, 0.0)  # slope 1 at 0, as log1p(e^-|bx|) takes -1
    # log1p(E) = E to the last bit once E < eps: then (1/b) E, kept exact where
    # E is subnormal but E / b is not
    tail = xp.log1p(exp_pair(xp, down, down_lo)) / beta_hi
    tail = tail - tail * ratio
    small = down < math.log(float(info.eps)) - 1.0
    divide = (beta_hi, lifted_beta, ratio)
    deep = _exp_product(xp, down, down_lo, lift_hi, lift_lo, divide=divide)
    return linear + xp.where(small, deep, tail)


def log_sigmoid_math(xp: Namespace, x: Array) -> Array:
    return -softplus_math(xp, -x, 1.0)


def softsign_math(xp: Namespace, x: Array) -> Array:
    magnitude = xp.abs(x)
    large = xp.sign(x) / (1.0 + 1.0 / xp.maximum(magnitude, 1.0))
    small = xp.where(magnitude > 1.0, 0.0, x)
    return xp.where(magnitude > 1.0, large, small / (1.0 + xp.abs(small)))


def hard_sigmoid_math(xp: Namespace, x: Array) -> Array:
    return xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, 1.0, (x + 3.0) / 6.0))


def hard_swish_math(xp: Namespace, x: Array) -> Array:
    # PyTorch's kinks: slope 0 at -3, slope 1 at 3
    middle = xp.where((x > -3.0) & (x < 3.0), x, 0.0)
    return xp.where(
        x <= -3.0, 0.0, xp.where(x < 3.0, middle * ((middle + 3.0) / 6.0), x)
    )


def tanh_math(xp: Namespace, x: Array) -> Array:
    return accurate_tanh(xp, x)


def lambert_q(xp: Namespace, x: Array) -> Array:
    """q with tanh x = x / (1 + q): Lambert's continued fraction
    q = x^2 / (3 + x^2 / (5 + ...)), converged in float64 for |x| < 2."""
    square = x * x
    denominator = xp.full_like(x, 2.0 * _TANH_CF_DEPTH + 3.0)
    for k in range(_TANH_CF_DEPTH, 0, -1):
        denominator = (2.0 * k + 1.0) + square / denominator
    return square / denominator


def tanh_shrink_math(xp: Namespace, x: Array) -> Array:
    # |x| < 2: Lambert's continued fraction tanh x = x / (1 + q),
    # q = x^2 / (3 + x^2 / (5 + ...)), so x - tanh x = x q / (1 + q) with no
    # cancellation; elsewhere x - tanh x directly.
    small = xp.abs(x) < _TANH_SHRINK_SERIES_BOUND
    xs = xp.where(small, x, 0.0)
    q = lambert_q(xp, xs)
    series = xs * q / (1.0 + q)
    return xp.where(small, series, x - accurate_tanh(xp, x))


def hard_shrink_math(xp: Namespace, x: Array, lambd: float) -> Array:
    inside = at_least(xp, x, -lambd) & at_most(xp, x, lambd)
    return xp.where(inside, 0.0, x)


def soft_shrink_math(xp: Namespace, x: Array, lambd: float) -> Array:
    # x -/+ lambd with lambd = hi + lo exact: (x - hi) is exact near the kink
    hi, lo = constant_pair(lambd, 0.0, xp, x.dtype)
    inside = xp.where(xp.isnan(x), x, 0.0)
    # the barrier keeps XLA from folding (x - hi) - lo into x - (hi + lo)
    above = rounding_barrier(xp, x - hi) - lo
    under = rounding_barrier(xp, x + hi) + lo
    return xp.where(
        exceeds(xp, x, lambd), above, xp.where(below(xp, x, -lambd), under, inside)
    )


def squareplus_math(xp: Namespace, x: Array, b: float) -> Array:
    if b == 0.0:  # (x + |x|)/2: the positive part, without 0/0 at 0
        return positive_part(xp, x)
    return squareplus_prepared(xp, x, **squareplus_constants(xp, x.dtype, b))


def squareplus_constants(xp: Namespace, dtype: object, b: float) -> dict[str, float]:
    """squareplus's constants for b > 0: sqrt(b) and b / 4 (exact)."""
    return {"root_b": math.sqrt(b), "quarter_b": b / 4}


def squareplus_prepared(xp: Namespace, x: Array, root_b: Any, quarter_b: Any) -> Array:
    # (x + sqrt(x^2 + b)) / 2; for x < 0 the equal b / (2 (sqrt(x^2 + b) - x)),
    # free of cancellation. hypot avoids overflow of x^2.
    # at ±inf the root is |x| itself, so that autodiff sees its slope ±1
    infinite = xp.isinf(x)
    root = xp.hypot(xp.where(infinite, 0.0, x), root_b) + xp.where(
        infinite, xp.abs(x), 0.0
    )
    positive = positive_part(xp, x) / 2 + root / 2
    negative = quarter_b / (root / 2 - negative_part(xp, x) / 2)
    return xp.where(x >= 0, positive, negative)


def identity_math(xp: Namespace, x: Array) -> Array:
    return x


def gelu_math(xp: Namespace, x: Array, approximate: str) -> Array:
    if approximate == "tanh":
        return _gelu_tanh(xp, x)
    # Beyond |x| = 64, gelu is x or -0 in every dtype; inside, the math sees
    # only finite values, so autodiff at ±inf forms no inf * 0.
    clamped = clip(xp, x, -_GELU_SATURATED, _GELU_SATURATED)
    if finfo_of(xp, x.dtype).bits == 32 and has_float64(xp, x):
        # float64 carries float32's result to 0.5 ULP with any erfc kernel
        wide = xp.astype(clamped, xp.float64)
        inner = xp.astype((wide / 2) * erfc_wide(xp, -wide * _INV_SQRT2[0]), x.dtype)
    else:
        # x Phi(x) = x/2 erfc(-x / sqrt 2), with x / sqrt 2 carried as a pair.
        hi_c, lo_c = constant_pair(*_INV_SQRT2, xp, x.dtype)
        z, z_lo = two_product(xp, clamped, xp.full_like(clamped, -hi_c))
        z_lo = z_lo - clamped * lo_c
        inner = erfc_pair(xp, z, z_lo, clamped / 2)
    return xp.where(x > _GELU_SATURATED, x, inner)


_GELU_SATURATED = 64.0


def gelu_tanh_argument(xp: Namespace, x: Array) -> tuple[Array, Array, Array, Array]:
    """``A = 2 sqrt(2/pi) x (1 + k x^2)`` and ``k x^2``, each as an exact pair
    ``(A, A_lo, kx2, kx2_lo)``, for finite ``|x| <= 30``."""
    k_hi, k_lo = constant_pair(*_GELU_TANH_CUBIC, xp, x.dtype)
    c_hi, c_lo = constant_pair(*_TWO_SQRT_2_OVER_PI, xp, x.dtype)
    square, square_lo = two_product(xp, x, x)
    cubic, cubic_lo = two_product(xp, xp.full_like(x, k_hi), square)
    cubic_lo = cubic_lo + k_hi * square_lo + k_lo * square
    factor, factor_lo = two_sum(xp, 1.0, cubic)
    factor_lo = factor_lo + cubic_lo
    inner, inner_lo = two_product(xp, x, factor)
    inner_lo = inner_lo + x * factor_lo
    arg, arg_lo = two_product(xp, xp.full_like(x, c_hi), inner)
    arg_lo = arg_lo + c_hi * inner_lo + c_lo * inner
    return arg, arg_lo, cubic, cubic_lo


def _gelu_tanh(xp: Namespace, x: Array) -> Array:
    # x/2 (1 + tanh(y)) = x sigmoid(2y), 2y = 2 sqrt(2/pi) x (1 + k x^2)
    # evaluated as an exact pair, since sigmoid's exp amplifies its rounding.
    bound = 30.0
    xc = clip(xp, x, -bound, bound)
    arg, arg_lo, _, _ = gelu_tanh_argument(xp, xc)
    # x sigmoid(arg): x / (1 + e^-arg) for arg >= 0, x e^arg / (1 + e^arg) else
    negative_hi = negative_part(xp, arg)
    negative_lo = xp.where(arg < 0, arg_lo, 0.0)
    e = exp_pair(xp, minus_abs(xp, arg), xp.where(arg >= 0, -arg_lo, arg_lo))
    negative = _times_exp(xp, xc, negative_hi, negative_lo) / (1.0 + e)
    # beyond the bound the value is x (or -0): only finite values inside, so
    # autodiff at ±inf forms no inf * 0
    inner = xp.where(arg >= 0, xc / (1.0 + e), negative)
    return xp.where(x > bound, x, inner)


def glu_math(xp: Namespace, x: Array, axis: int) -> Array:
    """a * sigmoid(b), (a, b) the halves of x along ``axis``."""
    half = x.shape[axis] // 2
    if 0 in x.shape:  # nothing to compute (and Cubed 0.27 cannot slice it)
        shape = (*x.shape[:axis], half, *x.shape[axis + 1 :])
        return xp.zeros(shape, dtype=x.dtype, device=array_device(x))
    first = [slice(None)] * x.ndim
    second = [slice(None)] * x.ndim
    first[axis] = slice(0, half)
    second[axis] = slice(half, None)
    return x[tuple(first)] * sigmoid_math(xp, x[tuple(second)])
