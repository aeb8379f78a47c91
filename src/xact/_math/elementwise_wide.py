"""Float32 values through float64: a fast path of :mod:`xact._run.fast`.

Where the device has float64, a float32 input's value is computed in
float64 by the plain formulas and rounded once to float32. A float32 input
is exact in float64, so each formula's float64 rounding errors (a few units
of 2**-53, amplified at most by |x| <= 200 in an exponent) stay far below
half a float32 ULP: the result is the correctly rounded value, or its
neighbour when the exact value lies within ~1e-7 ULP of a tie. That takes a
handful of float64 operations where :mod:`xact._math.elementwise` needs dozens
of float32 ones (exact pairs, Cody-Waite reductions). The tests hold both
paths to the same bound against mpmath (``XACT_FAST_PATHS=0`` runs the exact
one; devices without float64 always do).

Each ``*_value(xp, v, **params)`` takes a float64 array holding float32
values and returns the function in float64, with the exact path's limits
at ±inf (inputs are clamped where ``inf * 0`` would form) and NaN for NaN.
:data:`WIDE_VALUES` holds a formula for every elementwise function: each is
the source of a compiled kernel (:mod:`xact._run.kernels`). On arrays, only the
functions of :data:`WIDENED_ON_ARRAYS` take it; the others' float32 math is
already a few operations (relu, tanh, the kinks), fewer passes over memory
than widening would cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .._namespace import Array, Namespace, clip
from .elementwise import SELU_ALPHA, SELU_SCALE, hard_shrink_math, hard_tanh_math
from .kinks import positive_part
from .special import erfc_wide, relu_generic

__all__ = ["WIDENED_ON_ARRAYS", "WIDE_VALUES"]

# beyond -_FLOOR every function below is 0 or saturated in float32 (e^-200
# is 1e-87), and e^_FLOOR is finite in float64: clamping there keeps
# exp from overflowing and inf * 0 from forming
_FLOOR = 200.0
_SQRT_HALF = math.sqrt(0.5)
_TWO_SQRT_2_OVER_PI = 2.0 * math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715


def sigmoid_value(xp: Namespace, v: Array) -> Array:
    return 1.0 / (1.0 + xp.exp(-xp.maximum(v, -_FLOOR)))


def log_sigmoid_value(xp: Namespace, v: Array) -> Array:
    return xp.minimum(v, 0.0) - xp.log1p(xp.exp(-xp.abs(v)))


def softplus_value(xp: Namespace, v: Array, beta: float) -> Array:
    t = beta * v  # one float64 rounding: beta is the Python float, exactly
    return (xp.maximum(t, 0.0) + xp.log1p(xp.exp(-xp.abs(t)))) / beta


def silu_value(xp: Namespace, v: Array) -> Array:
    vc = xp.maximum(v, -_FLOOR)
    return vc / (1.0 + xp.exp(-vc))


def mish_value(xp: Namespace, v: Array) -> Array:
    # tanh(log1p(n)) = w / (w + 2) with n = e^x, w = n (n + 2): no log1p, no
    # tanh; past x = 20 the ratio is 1 in float64 (1 - 8e-18)
    vc = xp.maximum(v, -_FLOOR)
    n = xp.exp(xp.minimum(vc, 20.0))
    w = n * (n + 2.0)
    return vc * (w / (w + 2.0))


def tanh_shrink_value(xp: Namespace, v: Array) -> Array:
    # x - tanh x cancels below |x| = 1/16: there its Taylor series, whose
    # next term is 6e-12 of the sum
    small = clip(xp, v, -0.0625, 0.0625)
    s = small * small
    series = (small * s) * (
        1.0 / 3.0 + s * (-2.0 / 15.0 + s * (17.0 / 315.0 + s * (-62.0 / 2835.0)))
    )
    return xp.where(xp.abs(v) < 0.0625, series, v - xp.tanh(v))


def elu_value(xp: Namespace, v: Array, alpha: float, scale: float = 1.0) -> Array:
    negative = (scale * alpha) * xp.expm1(xp.minimum(v, 0.0))
    return xp.where(v > 0, scale * v, negative)


def selu_value(xp: Namespace, v: Array) -> Array:
    return elu_value(xp, v, SELU_ALPHA, SELU_SCALE)


def celu_value(xp: Namespace, v: Array, alpha: float) -> Array:
    negative = alpha * xp.expm1(xp.minimum(v, 0.0) / alpha)
    return xp.where(v > 0, v, negative)


def gelu_value(xp: Namespace, v: Array, approximate: str) -> Array:
    vc = xp.maximum(v, -_FLOOR)
    if approximate == "tanh":
        # x (1 + tanh u) / 2 = x sigmoid(2u), u = sqrt(2/pi) (x + k x^3);
        # past x = -20 the value is 0 in float32 and 2u stays finite
        vc = xp.maximum(vc, -20.0)
        two_u = _TWO_SQRT_2_OVER_PI * (vc + _GELU_TANH_CUBIC * (vc * (vc * vc)))
        return vc / (1.0 + xp.exp(-two_u))
    return 0.5 * vc * erfc_wide(xp, -_SQRT_HALF * vc)


def hard_sigmoid_value(xp: Namespace, v: Array) -> Array:
    # (v + 3) / 6, not v / 6 + 0.5: XLA rewrites the division as a multiply
    # by fl(1/6) and fuses the add, fma(-3, fl(1/6), 0.5) = 2.8e-17; written
    # this way no rewrite moves a kink (0 / 6 = 0 * c = 0; 6 * fl(1/6) = 1)
    return clip(xp, (v + 3.0) / 6.0, 0.0, 1.0)


def hard_swish_value(xp: Namespace, v: Array) -> Array:
    vc = xp.maximum(v, -4.0)  # 0 from -3 down; -inf * 0 never forms
    # the ratio first: vc * 6 would overflow below float64's largest numbers;
    # 0 (not the -0 of vc * 0) from -3 down, and -0 at -0, as the definition
    product = vc * (clip(xp, vc + 3.0, 0.0, 6.0) / 6.0)
    return xp.where(v <= -3.0, 0.0, product)


def leaky_relu_value(xp: Namespace, v: Array, negative_slope: float) -> Array:
    # with a zero slope, ±inf * 0 must not form (where evaluates both sides)
    negative = clip(xp, v, -1.0, 1.0) if negative_slope == 0.0 else v
    return xp.where(v > 0, v, negative * negative_slope)


# The piecewise functions compare a float32 x with their exact parameters
# and copy, or form one product or difference, rounded once: the float32
# definitions themselves, run in float64.


def relu_value(xp: Namespace, v: Array) -> Array:
    return relu_generic(xp, v)


def relu6_value(xp: Namespace, v: Array) -> Array:
    return hard_tanh_math(xp, v, 0.0, 6.0)


def hard_tanh_value(xp: Namespace, v: Array, min_val: float, max_val: float) -> Array:
    return hard_tanh_math(xp, v, min_val, max_val)


def hard_shrink_value(xp: Namespace, v: Array, lambd: float) -> Array:
    return hard_shrink_math(xp, v, lambd)


def soft_shrink_value(xp: Namespace, v: Array, lambd: float) -> Array:
    inside = xp.where(xp.isnan(v), v, 0.0)
    return xp.where(v > lambd, v - lambd, xp.where(v < -lambd, v + lambd, inside))


def identity_value(xp: Namespace, v: Array) -> Array:
    return v


def tanh_value(xp: Namespace, v: Array) -> Array:
    return xp.tanh(v)


def softsign_value(xp: Namespace, v: Array) -> Array:
    # past 2**60 the quotient is ±1 in float64, and inf / inf never forms
    vc = clip(xp, v, -(2.0**60), 2.0**60)
    return vc / (1.0 + xp.abs(vc))


def squareplus_value(xp: Namespace, v: Array, b: float) -> Array:
    # (x + r) / 2 = max(x, 0) + b / (2 (r + |x|)), r = sqrt(x^2 + b): no
    # cancellation on either side, and 0 added at ±inf; x^2 is exact in
    # float64 for a float32 x
    if b == 0.0:  # the positive part; 0 / 0 at x = 0 otherwise
        return positive_part(xp, v)
    root = xp.sqrt(v * v + b)
    return positive_part(xp, v) + b / (2.0 * (root + xp.abs(v)))


Value = Callable[..., Array]

WIDE_VALUES: dict[str, Value] = {
    "relu": relu_value,
    "relu6": relu6_value,
    "leaky_relu": leaky_relu_value,
    "elu": elu_value,
    "selu": selu_value,
    "celu": celu_value,
    "gelu": gelu_value,
    "silu": silu_value,
    "mish": mish_value,
    "softplus": softplus_value,
    "sigmoid": sigmoid_value,
    "log_sigmoid": log_sigmoid_value,
    "hard_sigmoid": hard_sigmoid_value,
    "hard_swish": hard_swish_value,
    "softsign": softsign_value,
    "hard_tanh": hard_tanh_value,
    "tanh": tanh_value,
    "tanh_shrink": tanh_shrink_value,
    "hard_shrink": hard_shrink_value,
    "soft_shrink": soft_shrink_value,
    "squareplus": squareplus_value,
    "identity": identity_value,
}

# the functions whose float32 values on arrays (NumPy chunks, torch, JAX,
# CuPy) are computed through float64 by the formulas above
WIDENED_ON_ARRAYS = frozenset(
    {
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "gelu",
        "silu",
        "mish",
        "softplus",
        "sigmoid",
        "log_sigmoid",
        "hard_sigmoid",
        "hard_swish",
        "tanh_shrink",
    }
)
