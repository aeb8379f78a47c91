"""Analytic backward passes (vector-Jacobian products) of every activation.

``*_vjp(xp, x, y, d, ...)`` takes the input ``x``, the forward output ``y`` and
the upstream gradient ``d`` and returns the gradient with respect to ``x``.
Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) =
negative_slope, hard_tanh (and relu6, hard_sigmoid) have slope 0 at the clip
points, hard_shrink and soft_shrink have slope 0 at ±lambd.

The elementwise derivatives are held to the accuracy of the values
(DESIGN.md, Numerics): within a few ULP of the exact derivative wherever it
is a normal number, float32 and float64, on every backend (float32 is never
computed through float64), the limit at ±inf and NaN for NaN. The means:

- every derivative is computed from ``x``, not from ``y`` (``1 - y**2`` loses
  all digits of tanh' once y rounds to 1);
- arguments that ``exp`` amplifies (``beta * x``, ``x / alpha``, ``x**2 / 2``,
  the cubic of the tanh GELU) are carried as exact pairs ``hi + lo``, Python
  parameters included: in float32 ``beta = b_hi + b_lo`` with ``b_hi`` the
  float32 nearest to ``beta``;
- where ``exp`` underflows but the product with a large factor is normal, the
  exponent is shifted by ``n log 2`` and the product scaled back by ``2**-n``;
- near the zero of a derivative (gelu, the tanh GELU, silu, mish), where the
  formula's terms cancel, the derivative is a polynomial ``t * q(t)`` in the
  distance ``t`` to the root, whose coefficients are computed offline with
  mpmath (:mod:`xact._math.derivative_roots`, tools/gen_derivative_roots.py);
- comparisons with a parameter are exact: in float32, ``x > 0.3`` means the
  real number 0.3, not float32(0.3).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from .._namespace import Array, Namespace, clip, finfo_of, rounding_barrier
from . import derivative_roots as roots
from . import elementwise as m
from .kinks import minus_abs
from .special import erfc_pair
from .twofold import (
    constant_pair,
    exp_pair,
    split_constant,
    two_product,
    two_product_by_split,
    two_sum,
)

# Constants to ~106 bits as (hi, lo) float64 pairs.
_INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)
_INV_SQRT_2PI = (0.3989422804014327, -2.4923272022777433e-17)
_TWO_SQRT_2_OVER_PI = (2 * 0.7978845608028654, 2 * -4.98465440455546e-17)
_LN2 = (0.6931471805599453, 2.3190468138462996e-17)

# Beyond these |x| each derivative is saturated (0 or 1, or underflowed) in
# every floating dtype; inputs are clamped there so no discarded branch
# overflows.
_GELU_SATURATED = 64.0
_GELU_TANH_SATURATED = 30.0
_SIGMOID_SATURATED = 1e4
# |argument| of exp beyond which every result below is 0 or saturated
_EXP_SATURATED = 800.0


# --- helpers ------------------------------------------------------------------


def _bits(xp: Namespace, x: Array) -> int:
    return int(finfo_of(xp, x.dtype).bits)


def _host_type(bits: int) -> type[np.floating]:
    return np.float32 if bits == 32 else np.float64


def _keep_nan(xp: Namespace, x: Array, g: Array) -> Array:
    """``g``, NaN where ``x`` is NaN (piecewise constant slopes drop it)."""
    return xp.where(xp.isnan(x), x, g)


@lru_cache(maxsize=256)
def _floor_ceil(value: float, bits: int) -> tuple[float, float]:
    """The largest number <= ``value`` and the smallest >= it in the dtype.

    For x of that dtype, ``x > value`` exactly when ``x > floor`` and
    ``x < value`` exactly when ``x < ceil``.
    """
    kind = _host_type(bits)
    nearest = kind(value)
    if float(nearest) == value:
        return value, value
    if float(nearest) > value:
        return float(np.nextafter(nearest, kind(-np.inf))), float(nearest)
    return float(nearest), float(np.nextafter(nearest, kind(np.inf)))


def _times_pair(xp: Namespace, d: Array, c: tuple[float, float]) -> Array:
    """``d * (hi + lo)`` for a constant pair: one rounding more than exact."""
    hi, lo = constant_pair(*c, xp, d.dtype)
    return d * hi + d * lo if lo else d * hi


def _times_constant(
    xp: Namespace, x: Array, c: float | tuple[float, float]
) -> tuple[Array, Array]:
    """``p, e`` with ``p + e = c * x`` to about twice the working precision.

    ``c`` is an exact Python float (or a float64 pair ``hi + lo``): in float32
    it enters as ``c_hi + c_lo``, ``c_hi`` the nearest float32, so its own
    rounding is carried too. ``c`` is scaled into [1, 2) and ``x`` by the
    inverse power of two (both exact), so that neither ``c_lo`` nor Dekker's
    split underflows or overflows; ``|c x|`` must stay far below the largest
    float (callers clamp ``x`` where the result saturates).
    """
    unscale, *constants = _scaled_constant(xp, x.dtype, c)
    # the barrier keeps XLA from folding (x 2^-shift) c_lo into x (2^-shift c_lo),
    # a constant that underflows
    scaled = rounding_barrier(xp, x * unscale) if unscale != 1.0 else x
    return _times_scaled(xp, scaled, *constants)


def _scaled_constant(
    xp: Namespace, dtype: object, c: float | tuple[float, float]
) -> tuple[float, float, float, float, float]:
    """The constants of ``c * x`` (:func:`_times_constant`): the power of two
    ``2^-shift`` that scales x, ``c 2^shift`` in [1, 2) as a pair ``c_hi +
    c_lo`` in the dtype, and ``c_hi`` split for Dekker's product."""
    hi64, lo64 = c if isinstance(c, tuple) else (c, 0.0)
    shift = -math.floor(math.log2(abs(hi64)))
    c_hi, c_lo = constant_pair(hi64 * 2.0**shift, lo64 * 2.0**shift, xp, dtype)
    return (2.0**-shift, c_hi, c_lo, *split_constant(c_hi, xp, dtype))


def _times_scaled(
    xp: Namespace, scaled: Array, c_hi: Any, c_lo: Any, split_hi: Any, split_lo: Any
) -> tuple[Array, Array]:
    """``scaled * (c_hi + c_lo)`` as a pair (:func:`_scaled_constant`)."""
    p, e = two_product_by_split(xp, scaled, c_hi, split_hi, split_lo)
    return p, e + scaled * c_lo


def _times_prepared(
    xp: Namespace,
    x: Array,
    *,
    unscale: Any,
    c_hi: Any,
    c_lo: Any,
    split_hi: Any,
    split_lo: Any,
) -> tuple[Array, Array]:
    """``c * x`` from :func:`_scaled_constant`'s constants as kernel
    arguments: x is always scaled (by 1 where c is in [1, 2), exactly)."""
    scaled = rounding_barrier(xp, x * unscale)
    return _times_scaled(xp, scaled, c_hi, c_lo, split_hi, split_lo)


_SCALED_NAMES = ("unscale", "c_hi", "c_lo", "split_hi", "split_lo")


def _exp_shift(bits: int) -> int:
    """n of the shift n log 2 that keeps exp, and exp times its low part, normal."""
    return 64 if bits == 32 else 128


def _exp_up(
    xp: Namespace, factor: Array, hi: Array, lo: Array | float, n: int
) -> Array:
    """``factor * exp(hi + lo) * 2**n`` for ``hi <= 0``: the exponent shifted by
    ``n log 2``, the sum carried exactly (with the shift's own low part)."""
    shift_hi, shift_lo = constant_pair(n * _LN2[0], n * _LN2[1], xp, hi.dtype)
    low = clip(xp, hi, -_EXP_SATURATED - n, 0.0)
    shifted, shifted_lo = two_sum(xp, shift_hi, low)
    return factor * exp_pair(xp, shifted, shifted_lo + (lo + shift_lo))


def _shifted_exp(
    xp: Namespace, hi: Array, outside: Array | None = None
) -> tuple[Array, Array, Array]:
    """One exponential for :func:`_times_exp`: ``(E, lift, shifted_lo)``.

    ``lift`` is where ``exp(hi)`` is subnormal, or so small that ``exp(hi) *
    lo`` is: there E = exp(hi + n log 2), the exponent shifted up by the
    exact pair ``n log 2`` (``shifted_lo``: the low part of that sum), else
    ``exp(outside)`` (default ``min(hi, 0)``; a caller that needs e^-|x|
    for both signs of x passes ``-|x|``). Below the lift, e^hi is far below
    half an ULP of 1: a caller that adds it to 1 takes 0 there.
    """
    info = finfo_of(xp, hi.dtype)
    deep = math.log(float(info.smallest_normal)) - math.log(float(info.eps)) + 2.0
    n = _exp_shift(int(info.bits))
    shift_hi, _ = constant_pair(n * _LN2[0], n * _LN2[1], xp, hi.dtype)
    low = clip(xp, hi, -_EXP_SATURATED - n, 0.0)
    shifted, shifted_lo = two_sum(xp, shift_hi, low)
    lift = hi < deep
    outside = xp.minimum(hi, 0.0) if outside is None else outside
    return xp.exp(xp.where(lift, shifted, outside)), lift, shifted_lo


def _below_one(xp: Namespace, shifted: tuple[Array, Array, Array]) -> Array:
    """e^hi from :func:`_shifted_exp` for a sum with 1: 0 where it was lifted
    (there e^hi is far below half an ULP of 1)."""
    e, lift, _ = shifted
    return xp.where(lift, 0.0, e)


def _times_exp(
    xp: Namespace,
    factor: Array,
    hi: Array,
    lo: Array | float = 0.0,
    shifted: tuple[Array, Array, Array] | None = None,
) -> Array:
    """``factor * exp(hi + lo)`` for ``hi <= 0``, ``|lo| <= ulp(hi)``;
    ``shifted``: :func:`_shifted_exp` of ``hi``, where the caller has it.

    Where ``exp(hi)`` is subnormal (or so small that ``exp(hi) * lo`` is) but
    the product is normal, ``exp`` would lose bits (or, on a backend that
    flushes subnormals, all of them): there the exponent is shifted up by
    ``n log 2`` and the product scaled back by the power of two ``2**-n``,
    exact for a normal result.
    """
    n = _exp_shift(_bits(xp, hi))
    _, shift_lo = constant_pair(n * _LN2[0], n * _LN2[1], xp, hi.dtype)
    e, lift, shifted_lo = _shifted_exp(xp, hi) if shifted is None else shifted
    far = (factor * (e + e * (shifted_lo + (lo + shift_lo)))) * 2.0**-n
    return xp.where(lift, far, factor * (e + e * lo))


def _horner(xp: Namespace, t: Array, coefficients: tuple[float, ...]) -> Array:
    """sum_k c_k t**k by Horner's rule."""
    result = xp.full_like(t, coefficients[-1])
    for c in coefficients[-2::-1]:
        result = result * t + c
    return result


def _pieces(
    xp: Namespace, x: Array, pieces: tuple[roots.Piece, ...], slope: Array
) -> Array:
    """``slope``, replaced by the polynomial pieces on their intervals.

    Around the root the derivative is ``t * q(t)``, ``t = (x - root_hi) -
    root_lo``: ``x - root_hi`` is exact near the root (Sterbenz), so ``t``
    carries the root to about twice the working precision and the result
    keeps its relative accuracy however close ``x`` comes to the root. The
    other pieces are plain polynomials in ``x - centre``.
    """
    bits = _bits(xp, x)
    for piece in pieces:
        c_hi, c_lo = constant_pair(*piece.centre, xp, x.dtype)
        low, high = piece.interval
        # the barrier keeps XLA from folding (x - c_hi) - c_lo into x - c_hi
        t = rounding_barrier(xp, clip(xp, x, low, high) - c_hi) - c_lo
        value = _horner(xp, t, piece.float32 if bits == 32 else piece.float64)
        if piece.root:
            value = t * value
        slope = xp.where((x >= low) & (x <= high), value, slope)
    return slope


# --- piecewise linear ---------------------------------------------------------


def relu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return _keep_nan(xp, x, xp.where(x > 0, d, 0.0))


def hard_tanh_vjp(
    xp: Namespace, x: Array, y: Array, d: Array, min_val: float, max_val: float
) -> Array:
    bits = _bits(xp, x)
    low, _ = _floor_ceil(min_val, bits)
    _, high = _floor_ceil(max_val, bits)
    return _keep_nan(xp, x, xp.where((x > low) & (x < high), d, 0.0))


def relu6_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return hard_tanh_vjp(xp, x, y, d, 0.0, 6.0)


def leaky_relu_vjp(
    xp: Namespace, x: Array, y: Array, d: Array, negative_slope: float
) -> Array:
    slope = _times_pair(xp, d, (negative_slope, 0.0))
    return _keep_nan(xp, x, xp.where(x > 0, d, slope))


def hard_sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return _keep_nan(xp, x, xp.where((x > -3.0) & (x < 3.0), d / 6.0, 0.0))


def hard_swish_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    # (2x + 3) / 6 in the middle: 2x + 3 is exact near the root -3/2
    middle = xp.where((x > -3.0) & (x < 3.0), x, 0.0)
    slope = xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, (2.0 * middle + 3.0) / 6.0, 1.0))
    return _keep_nan(xp, x, d * slope)


def hard_shrink_vjp(xp: Namespace, x: Array, y: Array, d: Array, lambd: float) -> Array:
    low, _ = _floor_ceil(lambd, _bits(xp, x))
    return _keep_nan(xp, x, xp.where(xp.abs(x) > low, d, 0.0))


soft_shrink_vjp = hard_shrink_vjp


def identity_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    return _keep_nan(xp, x, d)


# --- exponential family -------------------------------------------------------


def _elu_slope(
    xp: Namespace,
    x: Array,
    d: Array,
    slope: tuple[float, float],
    scale: tuple[float, float],
) -> Array:
    """d * scale for x > 0, else d * slope * e^x; the constants as float64 pairs,
    and the shifted exponent keeps a large slope's normal results."""
    negative = _times_exp(xp, _times_pair(xp, d, slope), x)
    return xp.where(x > 0, _times_pair(xp, d, scale), negative)


def elu_vjp(xp: Namespace, x: Array, y: Array, d: Array, alpha: float) -> Array:
    """1 for x > 0, else alpha e^x."""
    return _elu_slope(xp, x, d, (alpha, 0.0), (1.0, 0.0))


def _decimal_pair(*factors: str) -> tuple[float, float]:
    """The product of decimal numbers as a float64 pair ``hi + lo``."""
    exact = math.prod((Fraction(f) for f in factors), start=Fraction(1))
    hi = float(exact)
    return hi, float(exact - Fraction(hi))


# SELU's constants are the decimal numbers of its definition (DESIGN.md)
_SELU_SCALE = _decimal_pair(repr(m.SELU_SCALE))
_SELU_SLOPE = _decimal_pair(repr(m.SELU_SCALE), repr(m.SELU_ALPHA))


def selu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """scale for x > 0, else scale alpha e^x."""
    return _elu_slope(xp, x, d, _SELU_SLOPE, _SELU_SCALE)


def celu_vjp(xp: Namespace, x: Array, y: Array, d: Array, alpha: float) -> Array:
    """1 for x > 0, else e^(x/alpha)."""
    return celu_vjp_prepared(xp, x, d, **celu_vjp_constants(xp, x.dtype, alpha))


def celu_vjp_constants(xp: Namespace, dtype: object, alpha: float) -> dict[str, float]:
    """The constants of celu's derivative: alpha and x are scaled by the same
    power of two, alpha to about 1, so that the remainder x - q alpha stays a
    normal number; beyond x = -800 alpha the derivative underflows in every
    dtype."""
    scale = 2.0 ** max(-100, -math.floor(math.log2(alpha)))
    a_hi, a_lo = constant_pair(alpha * scale, 0.0, xp, dtype)
    largest = float(finfo_of(xp, dtype).max)
    bits = int(finfo_of(xp, dtype).bits)
    lowest = _floor_ceil(-min(_EXP_SATURATED * alpha, largest), bits)[1]
    times = dict(zip(_SCALED_NAMES, _scaled_constant(xp, dtype, a_hi), strict=True))
    return {"scale": scale, "a_hi": a_hi, "a_lo": a_lo, "lowest": lowest, **times}


def celu_vjp_prepared(
    xp: Namespace,
    x: Array,
    d: Array,
    *,
    scale: Any,
    a_hi: Any,
    a_lo: Any,
    lowest: Any,
    **times: Any,
) -> Array:
    """celu' from :func:`celu_vjp_constants`: e^(x/alpha) with ``x/alpha = q +
    q_lo`` exact to about twice the working precision (exp multiplies the
    rounding of q by |q|)."""
    xn = clip(xp, x, lowest, 0.0) * scale
    q = xn / a_hi
    # x - q alpha exactly: q a_hi = p + e, and x - p is exact (Sterbenz)
    p, e = _times_prepared(xp, q, **times)
    q_lo = (((xn - p) - e) - q * a_lo) / a_hi
    return xp.where(x > 0, d, _times_exp(xp, d, q, q_lo))


def _one_plus(xp: Namespace, e: Array) -> tuple[Array, Array, Array]:
    """``o, o_lo, rel``: 1 + e = o + o_lo exactly, and rel = o_lo / o, the
    relative correction that 1 / o needs."""
    o, o_lo = two_sum(xp, 1.0, e)
    return o, o_lo, o_lo / o


def _sigmoid_pair(xp: Namespace, v: Array, v_lo: Array | None = None) -> Array:
    """sigmoid(v + v_lo): 1/(1 + e^-v) for v >= 0, e^v/(1 + e^v) below, with
    1 + e carried as a pair (its rounding enters as a relative correction)."""
    if v_lo is None:
        e = xp.exp(minus_abs(xp, v))
        v_lo = xp.zeros_like(v)
    else:
        e = exp_pair(xp, minus_abs(xp, v), xp.where(v >= 0, -v_lo, v_lo))
    o, _, rel = _one_plus(xp, e)
    inverse = 1.0 / o
    negative = _times_exp(xp, inverse, xp.minimum(v, 0.0), v_lo - rel)
    return xp.where(v >= 0, inverse - inverse * rel, negative)


def _sigmoid_both(xp: Namespace, x: Array) -> tuple[Array, Array]:
    """sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), each without cancellation."""
    return m.sigmoid_math(xp, x), m.sigmoid_math(xp, -x)


def softplus_vjp(xp: Namespace, x: Array, y: Array, d: Array, beta: float) -> Array:
    """sigmoid(beta x)."""
    constants = softplus_vjp_constants(xp, x.dtype, beta)
    return softplus_vjp_prepared(xp, x, d, **constants)


def softplus_vjp_constants(
    xp: Namespace, dtype: object, beta: float
) -> dict[str, float]:
    """The constants of softplus's derivative: the bound beyond which sigmoid(beta x) is
    saturated, and beta for the exact pair ``beta x`` (its float32 rounding
    too)."""
    bits = int(finfo_of(xp, dtype).bits)
    largest = float(finfo_of(xp, dtype).max)
    bound = _floor_ceil(min(_EXP_SATURATED / abs(beta), largest), bits)[0]
    times = dict(zip(_SCALED_NAMES, _scaled_constant(xp, dtype, beta), strict=True))
    return {"bound": bound, **times}


def softplus_vjp_prepared(
    xp: Namespace, x: Array, d: Array, *, bound: Any, **times: Any
) -> Array:
    """softplus' from :func:`softplus_vjp_constants`."""
    xc = clip(xp, x, -bound, bound)
    v, v_lo = _times_prepared(xp, xc, **times)
    return d * _sigmoid_pair(xp, v, v_lo)


def log_sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """sigmoid(-x)."""
    return d * _sigmoid_pair(xp, -x)


def sigmoid_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """e / (1 + e)**2 with e = exp(-|x|), 1 + e as a pair."""
    down = minus_abs(xp, x)
    shifted = _shifted_exp(xp, down)
    e = _below_one(xp, shifted)
    o, _, rel = _one_plus(xp, e)
    return d * _times_exp(xp, 1.0 / (o * o), down, -2.0 * rel, shifted)


def softsign_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """1 / (1 + |x|)**2, 1 + |x| as a pair (its rounding a relative correction;
    beyond |x| = 2**60 the correction is below any rounding)."""
    a = xp.abs(x)
    _, _, rel = _one_plus(xp, xp.minimum(a, 2.0**60))
    denominator = 1.0 + a
    slope = d / denominator / denominator
    return slope - slope * (2.0 * rel)


# --- tanh ---------------------------------------------------------------------


def tanh_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """sech(x)**2 = 4e / (1 + e)**2 with e = exp(-2|x|), 1 + e as a pair (not
    1 - y**2, which is 0 once tanh rounds to 1)."""
    down = -2.0 * xp.minimum(xp.abs(x), _SIGMOID_SATURATED)
    shifted = _shifted_exp(xp, down)
    e = _below_one(xp, shifted)
    o, _, rel = _one_plus(xp, e)
    return d * _times_exp(xp, 4.0 / (o * o), down, -2.0 * rel, shifted)


def tanh_shrink_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """tanh(x)**2 ((x - y)**2 cancels, and is NaN at ±inf).

    For |x| < 1, tanh x = x - x q / (1 + q) with Lambert's continued fraction
    q = x**2 / (3 + x**2 / (5 + ...)), the correction a quarter of x at most;
    beyond, tanh |x| = (1 - e) / (1 + e) with e = exp(-2|x|) and both sums as
    pairs. (Backends' own tanh, XLA's in particular, lose more.)
    """
    a = xp.abs(x)
    small = a < 1.0
    xs = xp.where(small, x, 0.0)
    q = m.lambert_q(xp, xs)
    t = xs - xs * q / (1.0 + q)
    e = xp.exp(-2.0 * clip(xp, a, 1.0, _SIGMOID_SATURATED))
    numerator, numerator_lo = two_sum(xp, 1.0, -e)
    o, _, rel = _one_plus(xp, e)
    ratio = numerator / o
    large = ratio * ratio
    large = large + large * (2.0 * (numerator_lo / numerator - rel))
    return d * xp.where(small, t * t, large)


# --- GELU, SiLU, Mish: zeros of the derivative --------------------------------


def _gelu_exact_slope(xp: Namespace, x: Array) -> Array:
    """Phi(x) + x phi(x), with x/sqrt(2) (for erfc) and x**2/2 (for exp) as
    exact pairs; near the root x ~ -0.75 a polynomial.

    Both terms are computed times ``2**n`` and the sum scaled back: for
    x < -13 (float32) or x < -37 (float64) Phi(x) is subnormal while
    Phi(x) + x phi(x) ~ x phi(x) is not, and a backend that flushes subnormals
    (XLA on CPU) would drop it.
    """
    n = _exp_shift(_bits(xp, x))
    xc = clip(xp, x, -_GELU_SATURATED, _GELU_SATURATED)
    hi_c, lo_c = constant_pair(*_INV_SQRT2, xp, x.dtype)
    z, z_lo = two_product(xp, xc, xp.full_like(xc, -hi_c))
    z_lo = z_lo - xc * lo_c
    cdf = erfc_pair(xp, z, z_lo, xp.full_like(xc, 0.5 * 2.0**n))
    square, square_lo = two_product(xp, xc, xc)
    # x / sqrt(2 pi) = p + p_lo: its rounding joins the exponent's low part
    p, p_lo = _times_constant(xp, xc, _INV_SQRT_2PI)
    rel = p_lo / xp.where(p == 0, 1.0, p)
    density = _exp_up(xp, p, -square / 2, rel - square_lo / 2, n)
    return _pieces(xp, x, roots.GELU, (cdf + density) * 2.0**-n)


def _gelu_tanh_slope(xp: Namespace, x: Array) -> Array:
    """d/dx x sigmoid(A), A = 2c (x + k x**3), c = sqrt(2/pi):

    e (1 + e + x A') / (1 + e)**2 with e = exp(A) for x < 0, and
    (1 + w + x A' w) / (1 + w)**2 with w = exp(-A) for x >= 0, where
    x A' = 2c x (1 + 3k x**2). A and x A' are carried as pairs (exp and the
    cancellation amplify their rounding); near the root a polynomial.
    """
    xc = clip(xp, x, -_GELU_TANH_SATURATED, _GELU_TANH_SATURATED)
    c_hi, c_lo = constant_pair(*_TWO_SQRT_2_OVER_PI, xp, x.dtype)
    # A = c x (1 + k x^2), as in the forward
    arg, arg_lo, cubic, cubic_lo = m.gelu_tanh_argument(xp, xc)
    # x A' = c x (1 + 3 k x^2)
    triple, triple_lo = two_sum(xp, 2.0 * cubic, cubic)
    triple_lo = triple_lo + 3.0 * cubic_lo
    factor3, factor3_lo = two_sum(xp, 1.0, triple)
    factor3_lo = factor3_lo + triple_lo
    inner3, inner3_lo = two_product(xp, xc, factor3)
    inner3_lo = inner3_lo + xc * factor3_lo
    slope, slope_lo = two_product(xp, xp.full_like(xc, c_hi), inner3)
    slope_lo = slope_lo + c_hi * inner3_lo + c_lo * inner3
    negative_arg = xp.minimum(arg, 0.0)
    negative_lo = xp.where(arg < 0, arg_lo, 0.0)
    e = exp_pair(xp, minus_abs(xp, arg), xp.where(arg >= 0, -arg_lo, arg_lo))
    o, o_lo, rel = _one_plus(xp, e)
    square_o = o * o
    # x < 0
    bracket = slope + (o + (slope_lo + o_lo))
    negative = _times_exp(xp, bracket / square_o, negative_arg, negative_lo - 2.0 * rel)
    # x >= 0
    positive = (o + (slope * e + (o_lo + slope_lo * e))) / square_o
    positive = positive - positive * (2.0 * rel)
    return _pieces(xp, x, roots.GELU_TANH, xp.where(arg >= 0, positive, negative))


def gelu_vjp(xp: Namespace, x: Array, y: Array, d: Array, approximate: str) -> Array:
    if approximate == "tanh":
        return d * _gelu_tanh_slope(xp, x)
    return d * _gelu_exact_slope(xp, x)


def silu_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """s (1 + x (1 - s)), s = sigmoid(x):

    e (1 + x + e) / (1 + e)**2 with e = exp(x) for x < 0 (1 + x is exact on
    [-2, -0.5]) and (1 + w + x w) / (1 + w)**2 with w = exp(-x) for x >= 0;
    near the root x ~ -1.28 a polynomial.
    """
    xc = clip(xp, x, -_SIGMOID_SATURATED, _SIGMOID_SATURATED)
    below_zero = xp.minimum(xc, 0.0)
    shifted = _shifted_exp(xp, below_zero, minus_abs(xp, xc))
    e = _below_one(xp, shifted)
    o, o_lo, rel = _one_plus(xp, e)
    square_o = o * o
    # both sides divide by (1 + e)**2: one division of the side's numerator
    bracket = (1.0 + xc) + e
    quotient = xp.where(xc >= 0, o + (xc * e + o_lo), bracket) / square_o
    negative = _times_exp(xp, quotient, below_zero, -2.0 * rel, shifted)
    positive = quotient - quotient * (2.0 * rel)
    return d * _pieces(xp, x, roots.SILU, xp.where(xc >= 0, positive, negative))


def mish_vjp(xp: Namespace, x: Array, y: Array, d: Array) -> Array:
    """tanh(sp) + x sech(sp)**2 sigmoid(x), sp = softplus(x), as rational
    functions of an exponential:

    u B / (n + 2)**2 with u = e^x, n = u (u + 2),
    B = 4 (1 + x) + u (6 + 4x + u (4 + u)) for x <= 0, and
    (1 + 2w) / D + 4 x w**2 (1 + w) / D**2, w = e^-x, D = 1 + 2w (1 + w) for
    x > 0; near the root x ~ -1.19 a polynomial.
    """
    xc = clip(xp, x, -_SIGMOID_SATURATED, _SIGMOID_SATURATED)
    below_zero = xp.minimum(xc, 0.0)
    shifted = _shifted_exp(xp, below_zero, minus_abs(xp, xc))
    u = _below_one(xp, shifted)
    # x <= 0: the last sums of B and n + 2 as pairs, their roundings relative
    # corrections of exp (B is not 0 outside the root's interval)
    n2, n2_lo = two_sum(xp, 2.0, u * (u + 2.0))
    s, s_lo = two_sum(xp, 1.0, xc)
    bracket, bracket_lo = two_sum(xp, 4.0 * s, u * ((6.0 + 4.0 * xc) + u * (4.0 + u)))
    bracket_lo = bracket_lo + 4.0 * s_lo
    # x > 0: (1 + 2w) / D + 4 x w**2 (1 + w) / D / D
    two_w = 2.0 * u
    denominator = 1.0 + two_w * (1.0 + u)
    # three divisions for both sides, each side's own operands selected first
    # (the same quotients as six divisions, at half the cost)
    side = xc > 0
    first = xp.where(side, 1.0 + two_w, bracket) / xp.where(side, denominator, n2 * n2)
    second = xp.where(side, (4.0 * xc) * (u * u) * (1.0 + u), bracket_lo) / xp.where(
        side, denominator, xp.where(bracket == 0, 1.0, bracket)
    )
    third = xp.where(side, second, 2.0 * n2_lo) / xp.where(side, denominator, n2)
    negative = _times_exp(xp, first, below_zero, second - third, shifted)
    positive = first + third
    return d * _pieces(xp, x, roots.MISH, xp.where(side, positive, negative))


# --- squareplus ---------------------------------------------------------------


def squareplus_vjp(xp: Namespace, x: Array, y: Array, d: Array, b: float) -> Array:
    """(1 + x/r)/2 with r = sqrt(x**2 + b); for x < 0 the equal
    b / (2 r (r - x)), free of cancellation."""
    if b == 0.0:  # the positive part
        return _keep_nan(xp, x, xp.where(x > 0, d, 0.0))
    constants = squareplus_vjp_constants(xp, x.dtype, b)
    return squareplus_vjp_prepared(xp, x, d, **constants)


def squareplus_vjp_constants(
    xp: Namespace, dtype: object, b: float
) -> dict[str, float]:
    """The constants of squareplus's derivative for b > 0. The slope depends
    on x / sqrt(b) only, so x and b are scaled by powers of two (exactly) to b
    in [1, 4):
    ``b1`` and float32's ``relative`` rounding of it, the powers ``down`` =
    2^-k and ``up`` = 2^k, and ``far`` = 2^32 sqrt(b), beyond which the
    slope is 1, or b / (4 x**2), to every digit."""
    k = math.floor(math.log2(b) / 2)
    b1, b1_lo = constant_pair(b * 4.0**-k, 0.0, xp, dtype)  # in [1, 4]
    return {
        "b1": b1,
        "relative": b1_lo / b1,
        "far": 2.0 ** (32 + k),
        "down": 2.0**-k,
        "up": 2.0**k,
    }


def squareplus_vjp_prepared(
    xp: Namespace,
    x: Array,
    d: Array,
    *,
    b1: Any,
    relative: Any,
    far: Any,
    down: Any,
    up: Any,
) -> Array:
    """squareplus' from :func:`squareplus_vjp_constants`: r**2 is an exact
    pair and r = sqrt is refined to a pair (a backend's hypot or sqrt may be
    off by an ULP, which the slope would double)."""
    a = xp.abs(x)
    scaled = xp.minimum(a, far) * down
    square, square_lo = two_product(xp, scaled, scaled)
    s, s_lo = two_sum(xp, b1, square)
    s_lo = s_lo + square_lo
    r = xp.sqrt(s)
    rr, rr_lo = two_product(xp, r, r)
    r_lo = (((s - rr) - rr_lo) + s_lo) / (2.0 * r)
    # x >= 0: (1 + x/r) / 2
    ratio = scaled / r
    positive = 0.5 + (ratio - ratio * (r_lo / r)) / 2
    # x < 0: (b/2) / (r (r + |x|)), r + |x| = w + w_lo + r_lo
    w, w_lo = two_sum(xp, r, scaled)
    base = (b1 / 2) / (r * w)
    negative = base + base * (relative - r_lo / r - (w_lo + r_lo) / w)
    # x < -far: b / (4 x**2)
    m = up / xp.maximum(a, far)
    beyond = ((b1 / 4) * m) * m
    beyond = beyond + beyond * relative
    slope = xp.where(x >= 0, positive, xp.where(a > far, beyond, negative))
    return d * slope


# --- along an axis: the Jacobian couples the slice -----------------------------


def softmax_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    return y * (d - xp.sum(d * y, axis=axis, keepdims=True))


def log_softmax_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    probabilities = xp.where(xp.isinf(y), 0.0, xp.exp(y))
    return d - probabilities * xp.sum(d, axis=axis, keepdims=True)


def softmin_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    return -softmax_vjp(xp, x, y, d, axis)  # from y alone, as softmax's


def glu_vjp(xp: Namespace, x: Array, y: Array, d: Array, axis: int) -> Array:
    half = x.shape[axis] // 2
    first = [slice(None)] * x.ndim
    second = [slice(None)] * x.ndim
    first[axis] = slice(0, half)
    second[axis] = slice(half, None)
    a = x[tuple(first)]
    s, s_minus = _sigmoid_both(xp, x[tuple(second)])
    return xp.concat([d * s, d * a * s * s_minus], axis=axis)
