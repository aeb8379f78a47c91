"""erfc (for GELU) and tanh, accurate on every backend.

The Array API standard has no erf/erfc. Measured against mpmath
(tests/test_special.py), the backends' own kernels are not all good enough:
SciPy's and JAX's erfc lose about 470 ULP in float64 near z = 25 (JAX 58 ULP
in float32), while torch.special.erfc stays within 1 ULP. So:

- float64 uses :func:`erfc_pair_generic`, a standard-only erfc (Chebyshev
  series of erfcx, the amplified roundings carried as exact pairs) within
  ~3 ULP on every backend;
- float32 is computed in float64 with any native kernel (:func:`erfc_wide`),
  or, without float64 on the device, torch's kernel or the generic one.

Arguments come as an unevaluated sum ``hi + lo`` because erfc multiplies the
rounding error of its argument by about ``2 z**2`` (DESIGN.md, Numerics).
XLA's tanh loses up to 7 ULP; :func:`tanh` replaces it on JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from .._namespace import (
    Array,
    Namespace,
    array_device,
    clip,
    finfo_of,
    is_cupy,
    is_dask,
    is_jax,
    is_numpy,
    is_strict,
    is_torch,
    log_smallest_normal,
)
from .kinks import minus_abs
from .twofold import two_product, two_sum

__all__ = [
    "erfc_pair",
    "erfc_pair_generic",
    "erfc_scaled",
    "erfc_wide",
    "expm1",
    "expm1_series",
    "has_float64",
    "native_erfc",
    "relu",
    "relu_generic",
    "tanh",
]

# erfc(z) = t * exp(-z**2) * g(t) for z >= 0 with t = 2 / (2 + z); g is given by
# its Chebyshev series in u = 2t - 1 (tools/gen_erfc_coefficients.py).
_ERFCX_CHEBYSHEV = (
    5.7703373861646968862e-1,
    3.5543692127049848731e-1,
    6.509515882878652455e-2,
    3.6711423958366391659e-3,
    -1.1128447433526324969e-3,
    -1.6075829915378079758e-4,
    3.2780315741731370605e-5,
    5.4424416455050160333e-6,
    -1.5154665553171481622e-6,
    -1.4297608181169864917e-7,
    8.234608827419493433e-8,
    -1.2962846852306562536e-9,
    -4.1547216310151983042e-9,
    6.3470582783628111814e-10,
    1.4320822712256223707e-10,
    -6.1603901052045855418e-11,
    2.0612138554721696306e-12,
    3.571493148847704445e-12,
    -8.5864228432517964757e-13,
    -6.145600213790630554e-14,
    7.4187257485966170573e-14,
    -1.2895042755032325615e-14,
    -2.3587263857106323568e-15,
    1.5729349381685911397e-15,
    -2.2782966239546465174e-16,
    -6.3123304507564298101e-17,
    3.5916763531814922992e-17,
    -5.0498091498477292793e-18,
    -1.5324541113154898948e-18,
    8.903345288990610214e-19,
    -1.4031007385132943497e-19,
)

# Beyond this |z| erfc(z) is 0 (or 2) in every floating dtype.
_Z_SATURATED = 30.0
_FOUR_OVER_PI = 4.0 / math.pi
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Erfc = Callable[[Array], Array]


def _chebyshev_tail(xp: Namespace, u: Array, coefficients: tuple[float, ...]) -> Array:
    """sum_{k>=2} c_k T_k(u) by Clenshaw's recurrence (c_0 and c_1 left out)."""
    b1 = xp.zeros_like(u)
    b2 = xp.zeros_like(u)
    two_u = 2 * u
    for c in (*coefficients[:1:-1], 0.0):
        b1, b2 = c + two_u * b1 - b2, b1
    return u * b1 - b2


def erfc_pair_generic(
    xp: Namespace, hi: Array, lo: Array, multiplier: Array | float = 1.0
) -> Array:
    """``multiplier * erfc(hi + lo)`` with operators of the Array API standard only.

    For z >= 0, erfc(z) = t exp(-z**2) g(t) with t = 2/(2 + z) and g a Chebyshev
    series in u = 2t - 1. The parts that a later step would amplify are carried
    as pairs: t (its rounding shifts erfc by a full ULP otherwise), the two
    leading Chebyshev terms (they cancel to 0.28 at large z), and z**2 inside
    exp. erfc(-z) = 2 - erfc(z).
    """
    if isinstance(multiplier, float):
        multiplier = xp.full_like(hi, multiplier)
    negative = hi < 0
    z = clip(xp, -minus_abs(xp, hi), 0.0, _Z_SATURATED)
    z_lo = xp.where(negative, -lo, lo)
    z_lo = xp.where(z < _Z_SATURATED, z_lo, 0.0)
    # t + t_lo = 2 / (2 + z + z_lo) to about twice the working precision
    denominator, denominator_lo = two_sum(xp, 2.0, z)
    denominator_lo = denominator_lo + z_lo
    t = 2.0 / denominator
    product, product_lo = two_product(xp, t, denominator)
    # the correction divided by the denominator as a product with t / 2 (a
    # second division would cost as much as the rest of the pair)
    t_lo = ((2.0 - product) - product_lo - t * denominator_lo) * (t / 2)
    # g(u) = c0 + c1 u + tail(u), the first two terms compensated
    u = 2.0 * t - 1.0
    u_lo = 2.0 * t_lo
    c0, c1 = _ERFCX_CHEBYSHEV[0], _ERFCX_CHEBYSHEV[1]
    linear, linear_lo = two_product(xp, xp.full_like(u, c1), u)
    g, g_lo = two_sum(xp, c0, linear)
    g_lo = g_lo + linear_lo + c1 * u_lo + _chebyshev_tail(xp, u, _ERFCX_CHEBYSHEV)
    g, g_lo = two_sum(xp, g, g_lo)
    # erfcx(z) = t g, as a pair
    erfcx, erfcx_lo = two_product(xp, t, g)
    erfcx_lo = erfcx_lo + t * g_lo + t_lo * g
    # exp(-(z + z_lo)**2) = exp(-square) (1 - tail)
    square, square_lo = two_product(xp, z, z)
    tail = square_lo + 2.0 * z * z_lo
    # exp(-square) as the square of exp(-square/2): a subnormal exp(-square)
    # would lose the bits that a large multiplier (gelu's x/2) brings back.
    # Where exp(-square) is normal it is taken once (one rounding less).
    # One exponential serves both: exp(-square) or exp(-square / 2).
    normal = square < -log_smallest_normal(xp, z.dtype) - 1.0
    gaussian = xp.exp(-xp.where(normal, square, square / 2))
    core = erfcx + (erfcx_lo - erfcx * tail)
    result = xp.where(normal, core * gaussian, (core * gaussian) * gaussian)
    # erfc(30) underflows in every dtype: 0, never multiplier * 0 = NaN
    saturated_multiplier = xp.where(z < _Z_SATURATED, multiplier, 0.0)
    scaled = xp.where(
        normal,
        (saturated_multiplier * core) * gaussian,
        ((saturated_multiplier * core) * gaussian) * gaussian,
    )
    return xp.where(negative, multiplier * (2.0 - result), scaled)


@lru_cache(maxsize=16)
def native_erfc(xp: Namespace) -> Erfc | None:
    """The backend's own erfc kernel for namespace ``xp``, or None."""
    try:
        if is_torch(xp):
            import torch

            return torch.special.erfc  # type: ignore[no-any-return]
        if is_cupy(xp):
            from cupyx.scipy.special import erfc as cupy_erfc

            return cupy_erfc  # type: ignore[no-any-return]
        if is_jax(xp):
            import jax.scipy.special

            return jax.scipy.special.erfc
        if is_numpy(xp) or is_dask(xp):
            from scipy.special import erfc as scipy_erfc

            if is_dask(xp):
                return lambda x: x.map_blocks(scipy_erfc, dtype=x.dtype)
            return scipy_erfc  # type: ignore[no-any-return]
    except ImportError:
        return None
    # a namespace of its own kind with an erfc: the kernel source recorder
    return getattr(xp, "erfc", None)


def has_float64(xp: Namespace, x: Array) -> bool:
    """Whether the namespace has float64 on the device of ``x``."""
    info = xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=array_device(x), kind="real floating")


def erfc_wide(xp: Namespace, x64: Array) -> Array:
    """erfc of a float64 array whose result will be rounded to float32.

    Any native kernel will do: their worst float64 errors (about 470 ULP for
    SciPy and JAX near z = 25) are 1e-5 float32 ULP.
    """
    kernel = native_erfc(xp)
    if kernel is None:
        return erfc_pair_generic(xp, x64, xp.zeros_like(x64))
    return kernel(x64)


def erfc_pair(xp: Namespace, hi: Array, lo: Array, multiplier: Array) -> Array:
    """``multiplier * erfc(hi + lo)`` for ``|lo| <= ulp(hi)``, to a few ULP.

    Measured against mpmath (tests/test_special.py): scipy.special.erfc and
    jax.scipy.special.erfc lose about 470 ULP in float64 near z = 25 (and JAX
    58 ULP in float32), so float64 always takes :func:`erfc_pair_generic`,
    which also keeps the bits a subnormal erfc would lose (the multiplier
    enters before the last exp factor). In float32, torch.special.erfc (within
    1 ULP) is used with the low part entering through the logarithmic
    derivative, erfc(hi + lo) = erfc(hi) (1 - lo R(hi)), R(z) = 2 exp(-z^2) /
    (sqrt(pi) erfc(z)) taken from Birnbaum's bound z + sqrt(z^2 + 4/pi) for
    z >= 0 (exact at 0, within 3%, all the correction needs).
    """
    if is_torch(xp) and finfo_of(xp, hi.dtype).bits == 32:
        value = native_erfc(xp)(hi)  # type: ignore[misc]
        z = clip(xp, hi, 0.0, _Z_SATURATED)
        zn = clip(xp, hi, -_Z_SATURATED, 0.0)
        ratio = xp.where(
            hi >= 0,
            z + xp.sqrt(z * z + _FOUR_OVER_PI),
            _TWO_OVER_SQRT_PI * xp.exp(-zn * zn) / xp.maximum(value, 1.0),
        )
        lo = xp.where(xp.abs(hi) < _Z_SATURATED, lo, 0.0)
        return multiplier * (value - value * (lo * ratio))
    return erfc_pair_generic(xp, hi, lo, multiplier)


def erfc_scaled(xp: Namespace, z: Array, multiplier: float) -> Array:
    """``multiplier * erfc(z)``: float32 through float64 where the device has it."""
    if finfo_of(xp, z.dtype).bits == 32 and has_float64(xp, z):
        wide = erfc_wide(xp, xp.astype(z, xp.float64))
        return xp.astype(multiplier * wide, z.dtype)
    return erfc_pair(xp, z, xp.zeros_like(z), xp.full_like(z, multiplier))


def tanh(xp: Namespace, x: Array) -> Array:
    """tanh, accurate on every backend.

    XLA's tanh (JAX) loses up to 7 ULP in float64 and 4 in float32 as it
    saturates; there, for |x| >= 0.55 (where tanh >= 0.5), it is
    (1 - e) / (1 + e) with e = exp(-2|x|), within 2 ULP. Other backends'
    own tanh is within 1.3 ULP (tests/test_accuracy.py).
    """
    if not is_jax(xp):
        return xp.tanh(x)
    e = xp.exp(2.0 * minus_abs(xp, x))
    saturating = xp.sign(x) * ((1.0 - e) / (1.0 + e))
    return xp.where(xp.abs(x) >= 0.55, saturating, xp.tanh(x))


def expm1(xp: Namespace, x: Array) -> Array:
    """e^x - 1, accurate on every backend.

    XLA's expm1 (JAX) loses up to 5 ULP in float32 for small arguments; there
    it is :func:`expm1_series` for |x| < 0.5 and exp(x) - 1 beyond (which
    cancels by at most 1.6x). Other backends' own expm1 is within 1 ULP.
    """
    if not is_jax(xp):
        return xp.expm1(x)
    small = xp.abs(x) < 0.5
    series = expm1_series(xp, xp.where(small, x, 0.0))
    return xp.where(small, series, xp.exp(x) - 1.0)


def expm1_series(xp: Namespace, x: Array) -> Array:
    """e^x - 1 for |x| <= 0.5 by its Taylor series, x (1 + x/2 (1 + x/3 (...))),
    to the dtype's precision (9 terms for float32, 17 for float64)."""
    terms = 17 if finfo_of(xp, x.dtype).bits == 64 else 9
    total = xp.ones_like(x)
    for k in range(terms, 1, -1):
        total = 1.0 + (x / k) * total
    return x * total


def relu(xp: Namespace, x: Array) -> Array:
    """max(x, 0) with relu'(0) = 0 under autodiff, NaN propagating.

    ``where(x <= 0, 0, x)`` is the generic form, but ``where`` on a random mask
    runs at a quarter of memory speed on CPU. Libraries without autodiff
    (NumPy, CuPy, Dask, array-api-strict) take ``maximum``; PyTorch and JAX
    take their own relu, whose derivative at 0 is also 0.
    """
    if is_torch(xp):
        import torch

        return torch.relu(x)
    if is_jax(xp):
        import jax

        return jax.nn.relu(x)
    if is_numpy(xp) or is_cupy(xp) or is_dask(xp) or is_strict(xp):
        return xp.maximum(x, 0.0)
    return relu_generic(xp, x)


def relu_generic(xp: Namespace, x: Array) -> Array:
    """The standard-only relu (``where``), the reference for :func:`relu`."""
    return xp.where(x <= 0, 0.0, x)
