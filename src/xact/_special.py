"""erfc, the one special function xact needs (GELU), on every backend.

The Array API standard has no erf/erfc. :func:`erfc_pair` uses the backend's
own kernel where there is one (SciPy for NumPy and Dask-of-NumPy chunks,
``cupyx.scipy.special`` for CuPy, ``torch.special`` for PyTorch,
``jax.scipy.special`` for JAX) and a standard-only implementation, accurate to
a few float64 ULP, for any other namespace. Both take their argument as an
unevaluated sum ``hi + lo``, because erfc multiplies the rounding error of its
argument by about ``2 z**2`` (see DESIGN.md, Numerics).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from ._namespace import (
    Array,
    Namespace,
    array_device,
    is_cupy,
    is_dask,
    is_numpy,
    is_torch,
)
from ._twofold import two_product, two_sum

__all__ = ["erfc_pair", "erfc_pair_generic", "native_erfc"]

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

Erfc = Callable[[Array], Array]


def _chebyshev_tail(xp: Namespace, u: Array, coefficients: tuple[float, ...]) -> Array:
    """sum_{k>=2} c_k T_k(u) by Clenshaw's recurrence (c_0 and c_1 left out)."""
    b1 = xp.zeros_like(u)
    b2 = xp.zeros_like(u)
    two_u = 2 * u
    for c in (*coefficients[:1:-1], 0.0):
        b1, b2 = c + two_u * b1 - b2, b1
    return u * b1 - b2


def erfc_pair_generic(xp: Namespace, hi: Array, lo: Array) -> Array:
    """erfc(hi + lo) with operators of the Array API standard only.

    For z >= 0, erfc(z) = t exp(-z**2) g(t) with t = 2/(2 + z) and g a Chebyshev
    series in u = 2t - 1. The parts that a later step would amplify are carried
    as pairs: t (its rounding shifts erfc by a full ULP otherwise), the two
    leading Chebyshev terms (they cancel to 0.28 at large z), and z**2 inside
    exp. erfc(-z) = 2 - erfc(z).
    """
    negative = hi < 0
    z = xp.clip(xp.abs(hi), 0.0, _Z_SATURATED)
    z_lo = xp.where(negative, -lo, lo)
    z_lo = xp.where(z < _Z_SATURATED, z_lo, 0.0)
    # t + t_lo = 2 / (2 + z + z_lo) to about twice the working precision
    denominator, denominator_lo = two_sum(2.0, z)
    denominator_lo = denominator_lo + z_lo
    t = 2.0 / denominator
    product, product_lo = two_product(xp, t, denominator)
    t_lo = ((2.0 - product) - product_lo - t * denominator_lo) / denominator
    # g(u) = c0 + c1 u + tail(u), the first two terms compensated
    u = 2.0 * t - 1.0
    u_lo = 2.0 * t_lo
    c0, c1 = _ERFCX_CHEBYSHEV[0], _ERFCX_CHEBYSHEV[1]
    linear, linear_lo = two_product(xp, xp.full_like(u, c1), u)
    g, g_lo = two_sum(c0, linear)
    g_lo = g_lo + linear_lo + c1 * u_lo + _chebyshev_tail(xp, u, _ERFCX_CHEBYSHEV)
    g, g_lo = two_sum(g, g_lo)
    # erfcx(z) = t g, as a pair
    erfcx, erfcx_lo = two_product(xp, t, g)
    erfcx_lo = erfcx_lo + t * g_lo + t_lo * g
    # exp(-(z + z_lo)**2) = exp(-square) (1 - tail)
    square, square_lo = two_product(xp, z, z)
    tail = square_lo + 2.0 * z * z_lo
    gaussian = xp.exp(-square)
    result = gaussian * erfcx
    result = result + result * (erfcx_lo / erfcx - tail)
    return xp.where(negative, 2.0 - result, result)


@lru_cache(maxsize=32)
def native_erfc(xp: Namespace, dtype_name: str) -> Erfc | None:
    """The backend's own erfc for ``xp`` and a dtype, where it is accurate.

    Measured against mpmath (tests/test_special.py): torch.special.erfc is
    within 1 ULP in float32 and float64; scipy.special.erfc is within 1 ULP in
    float32 (it computes in double) but loses ~470 ULP in float64 near z = 25,
    and so does jax.scipy.special.erfc (58 ULP in float32). Those cases, and
    namespaces without a kernel, take :func:`erfc_pair_generic`.
    """
    try:
        if is_torch(xp):
            import torch

            return torch.special.erfc  # type: ignore[no-any-return]
        if is_cupy(xp):
            from cupyx.scipy.special import erfc as cupy_erfc

            return cupy_erfc  # type: ignore[no-any-return]
        if dtype_name == "float32" and (is_numpy(xp) or is_dask(xp)):
            from scipy.special import erfc as scipy_erfc

            if is_dask(xp):
                return lambda x: x.map_blocks(scipy_erfc, dtype=x.dtype)
            return scipy_erfc  # type: ignore[no-any-return]
    except ImportError:
        return None
    return None


def _has_float64(xp: Namespace, x: Array) -> bool:
    info = xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=array_device(x), kind="real floating")


def erfc_pair(xp: Namespace, hi: Array, lo: Array) -> Array:
    """erfc(hi + lo) for ``|lo| <= ulp(hi)``, accurate to a few ULP.

    With a native kernel the low part enters through the logarithmic
    derivative: erfc(hi + lo) = erfc(hi) * (1 - lo * R(hi)) with
    R(z) = 2 exp(-z**2) / (sqrt(pi) erfc(z)), approximated by Birnbaum's bound
    z + sqrt(z**2 + 4/pi) (exact at 0, relative error under 3% for z >= 0,
    which is all the correction term needs). Without one, float32 is computed
    in float64 where the namespace has it.
    """
    dtype_name = _dtype_name(hi.dtype)
    kernel = native_erfc(xp, dtype_name)
    if kernel is None:
        if dtype_name == "float32" and _has_float64(xp, hi):
            wide = erfc_pair_generic(
                xp, xp.astype(hi, xp.float64), xp.astype(lo, xp.float64)
            )
            return xp.astype(wide, hi.dtype)
        return erfc_pair_generic(xp, hi, lo)
    z = xp.clip(hi, 0.0, _Z_SATURATED)
    ratio = z + xp.sqrt(z * z + _FOUR_OVER_PI)
    lo = xp.where(xp.abs(hi) < _Z_SATURATED, lo, 0.0)
    value = kernel(hi)
    return value - value * (lo * ratio)


def _dtype_name(dtype: object) -> str:
    return str(dtype).rsplit(".", 1)[-1]
