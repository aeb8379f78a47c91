"""The softmax family's math: softmax, log_softmax, softmin, logsumexp.

All four share one stable core (:func:`shifted_exponentials`): the maximum is
subtracted with an error-free TwoSum and the lost low part re-enters as
``exp(hi) * (1 + lo)``, so an element's error does not grow with its distance
from the maximum (PyTorch, JAX and SciPy lose 28-127 ULP on logits in
[-100, 100]). The sum is split into the maxima (each contributing exactly 1)
and the rest, so ``log`` of it is ``log1p(rest)``: log_softmax of the dominant
entry keeps its relative accuracy when the others are tiny. The public,
validating layer is :mod:`xact.softmax`.
"""

from __future__ import annotations

from typing import NamedTuple

from .._namespace import Array, Namespace, finfo_of, narrowed
from .twofold import exp_pair, two_sum

__all__ = [
    "WIDENED",
    "Shifted",
    "log_softmax_math",
    "log_softmax_widened",
    "log_total",
    "logsumexp_dropped",
    "logsumexp_kept",
    "logsumexp_math",
    "logsumexp_widened",
    "shifted_exponentials",
    "softmax_math",
    "softmax_widened",
    "softmin_math",
    "softmin_widened",
]


class Shifted(NamedTuple):
    """exp(x - max) along an axis, with what the reductions need."""

    hi: Array  # x - max, rounded (-inf where masked)
    lo: Array  # its rounding error (0 where not finite)
    exponentials: Array  # exp(x - max), masked entries 0
    maximum: Array  # max over the axis as found (may be +-inf or NaN); keepdims


def shifted_exponentials(
    xp: Namespace, x: Array, axis: int, where: Array | None
) -> Shifted:
    """The stable core of the softmax family (see the module docstring)."""
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    maximum = xp.max(x, axis=axis, keepdims=True)
    # A row whose maximum is +inf: its +inf entries share the mass (the limit),
    # the rest get none.
    infinite_row = maximum == xp.inf
    only_infinities = xp.where(x == xp.inf, 0.0, xp.full_like(x, -xp.inf))
    x = xp.where(infinite_row, only_infinities, x)
    shift = xp.where(xp.isfinite(maximum), maximum, 0.0)
    # x - shift below -max overflows; clamp it there (exp gives 0 either way).
    # (as an array: NumPy 1.x takes the Python float of float32's largest
    # number for a float64 and would widen the result)
    largest = xp.full_like(shift, float(finfo_of(xp, x.dtype).max))
    lowest = xp.where(shift > 0, shift - largest, -largest)
    # (a where, not maximum: lowest is never NaN, and gcc 12 leaves a loop
    # of NaN-propagating maxima against a per-row bound unvectorized)
    x = xp.where((x < lowest) & (x != -xp.inf), lowest, x)
    hi = x - shift
    finite = xp.isfinite(hi)
    _, lo = two_sum(xp, xp.where(finite, x, 0.0), -shift)
    lo = xp.where(finite, lo, 0.0)
    return Shifted(hi, lo, exp_pair(xp, hi, lo), maximum)


def log_total(xp: Namespace, s: Shifted, axis: int) -> Array:
    """log of the sum of the exponentials, keepdims: the maxima contribute
    exactly 1 each, so it is ``log1p`` of the rest, which keeps the dominant
    entry's relative accuracy when the others are tiny (0 for an empty
    slice, NaN for a row with NaN)."""
    at_maximum = s.hi == 0
    n_maxima = xp.sum(xp.astype(at_maximum, s.hi.dtype), axis=axis, keepdims=True)
    rest = xp.sum(xp.where(at_maximum, 0.0, s.exponentials), axis=axis, keepdims=True)
    excess = xp.where(n_maxima > 0, (n_maxima - 1.0) + rest, 0.0)
    return xp.where(xp.isnan(s.maximum), s.maximum, xp.log1p(excess))


def softmax_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    # one sum and one division (not e / exp(log_total): the logarithm's
    # rounding came back amplified by its size, 4 ULP and more)
    s = shifted_exponentials(xp, x, axis, where)
    total = xp.sum(s.exponentials, axis=axis, keepdims=True)
    return s.exponentials / xp.where(total == 0.0, 1.0, total)  # nothing left: 0


def softmin_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    return softmax_math(xp, -x, axis, where)


def log_softmax_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    s = shifted_exponentials(xp, x, axis, where)
    return (s.hi - log_total(xp, s, axis)) + s.lo


# Float32 logits through float64 (a fast path, :func:`xact._run.fast.widens`):
# ``x - max`` of two float32 numbers is within 2**-53 of itself in float64, so
# plain max-subtracted exponentials are within 1e-14 of exact wherever the
# result is a normal float32, and one rounding gives the float32 answer. The
# edge cases are arithmetic, not branches: +inf entries are lowered to
# _CEILING (above every float32), where they share the row's mass as the
# row's maxima; a slice with nothing left sums to 0 and gives zeros.
_CEILING = 1e300


def _widened_shift(
    xp: Namespace, x: Array, axis: int, where: Array | None
) -> tuple[Array, Array, Array]:
    """x - max in float64 and its exponentials, with the row maxima."""
    v = xp.minimum(xp.astype(x, xp.float64), _CEILING)
    if where is not None:
        v = xp.where(where, v, -xp.inf)
    maximum = xp.max(v, axis=axis, keepdims=True)  # NaN for a row with NaN
    hi = v - xp.where(xp.isfinite(maximum), maximum, 0.0)
    return hi, xp.exp(hi), maximum


def softmax_widened(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    _, exponentials, _ = _widened_shift(xp, x, axis, where)
    total = xp.sum(exponentials, axis=axis, keepdims=True)
    total = xp.where(total == 0.0, 1.0, total)  # nothing left: zeros
    return narrowed(xp, exponentials / total, x.dtype)


def softmin_widened(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    return softmax_widened(xp, -x, axis, where)


def log_softmax_widened(
    xp: Namespace, x: Array, axis: int, where: Array | None
) -> Array:
    hi, exponentials, maximum = _widened_shift(xp, x, axis, where)
    # the maxima contribute exactly 1 each; log1p of the rest keeps the
    # dominant entry's relative accuracy when the others are tiny
    at_maximum = xp.astype(hi == 0.0, xp.float64)
    n_maxima = xp.sum(at_maximum, axis=axis, keepdims=True)
    rest = xp.sum(exponentials - at_maximum, axis=axis, keepdims=True)
    excess = xp.where(n_maxima > 0, (n_maxima - 1.0) + rest, 0.0)
    log_total = xp.where(xp.isnan(maximum), maximum, xp.log1p(excess))
    return narrowed(xp, hi - log_total, x.dtype)


def logsumexp_widened(
    xp: Namespace, x: Array, axis: int, where: Array | None = None
) -> Array:
    """logsumexp of float32 logits through float64, kept dimension: the
    maximum (exact) plus the log of the exponentials' sum, rounded once."""
    _, exponentials, maximum = _widened_shift(xp, x, axis, where)
    total = xp.sum(exponentials, axis=axis, keepdims=True)
    finite = xp.isfinite(maximum)
    result = xp.where(finite, maximum + xp.log(xp.where(finite, total, 1.0)), maximum)
    return narrowed(xp, result, x.dtype)


WIDENED = {
    softmax_math: softmax_widened,
    softmin_math: softmin_widened,
    log_softmax_math: log_softmax_widened,
}


def logsumexp_math(xp: Namespace, x: Array, axis: int, keepdims: bool) -> Array:
    s = shifted_exponentials(xp, x, axis, None)
    finite = xp.isfinite(s.maximum)
    result = xp.where(finite, s.maximum + log_total(xp, s, axis), s.maximum)
    return result if keepdims else xp.squeeze(result, axis=axis)


def logsumexp_kept(xp: Namespace, x: Array, axis: int, _: Array | None) -> Array:
    return logsumexp_math(xp, x, axis, True)


def logsumexp_dropped(xp: Namespace, x: Array, axis: int, _: Array | None) -> Array:
    return logsumexp_math(xp, x, axis, False)
