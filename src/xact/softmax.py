"""The softmax family: softmax, log_softmax, softmin, logsumexp.

All four share one stable core (:func:`shifted_exponentials`): the maximum is
subtracted with an error-free TwoSum and the lost low part re-enters as
``exp(hi) * (1 + lo)``, so an element's error does not grow with its distance
from the maximum (PyTorch, JAX and SciPy lose 28-127 ULP on logits in
[-100, 100]). The sum is split into the maxima (each contributing exactly 1)
and the rest, so ``log`` of it is ``log1p(rest)``: log_softmax of the dominant
entry keeps its relative accuracy when the others are tiny.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._math.twofold import exp_pair, two_sum
from ._namespace import (
    Array,
    Namespace,
    array_device,
    finfo_of,
    in_compute_dtype,
    namespace_of,
    narrowed,
    resolve_one,
    shape_of,
)
from ._public import public_names
from ._run.fast import compiled_rows, evaluate_rows, widens
from ._validate import axis_index

__all__ = ["log_softmax", "logsumexp", "softmax", "softmin"]


class Shifted(NamedTuple):
    """exp(x - max) along an axis, with what the reductions need."""

    hi: Array  # x - max, rounded (-inf where masked)
    lo: Array  # its rounding error (0 where not finite)
    exponentials: Array  # exp(x - max), masked entries 0
    log_total: Array  # log(sum(exponentials)), 0 for an empty slice; keepdims
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
    largest = float(finfo_of(xp, x.dtype).max)
    lowest = xp.where(shift > 0, shift - largest, -largest)
    x = xp.where(x == -xp.inf, x, xp.maximum(x, lowest))
    hi = x - shift
    finite = xp.isfinite(hi)
    _, lo = two_sum(xp, xp.where(finite, x, 0.0), -shift)
    lo = xp.where(finite, lo, 0.0)
    exponentials = exp_pair(xp, hi, lo)
    at_maximum = hi == 0
    n_maxima = xp.sum(xp.astype(at_maximum, x.dtype), axis=axis, keepdims=True)
    rest = xp.sum(xp.where(at_maximum, 0.0, exponentials), axis=axis, keepdims=True)
    excess = xp.where(n_maxima > 0, (n_maxima - 1.0) + rest, 0.0)
    log_total = xp.where(xp.isnan(maximum), maximum, xp.log1p(excess))  # NaN: row NaN
    return Shifted(hi, lo, exponentials, log_total, maximum)


def softmax_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    s = shifted_exponentials(xp, x, axis, where)
    return s.exponentials / xp.exp(s.log_total)


def softmin_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    return softmax_math(xp, -x, axis, where)


def log_softmax_math(xp: Namespace, x: Array, axis: int, where: Array | None) -> Array:
    s = shifted_exponentials(xp, x, axis, where)
    return (s.hi - s.log_total) + s.lo


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


_WIDENED = {
    softmax_math: softmax_widened,
    softmin_math: softmin_widened,
    log_softmax_math: log_softmax_widened,
}


def logsumexp_math(xp: Namespace, x: Array, axis: int, keepdims: bool) -> Array:
    s = shifted_exponentials(xp, x, axis, None)
    finite = xp.isfinite(s.maximum)
    result = xp.where(finite, s.maximum + s.log_total, s.maximum)
    return result if keepdims else xp.squeeze(result, axis=axis)


def _logsumexp_kept(xp: Namespace, x: Array, axis: int, _: Array | None) -> Array:
    return logsumexp_math(xp, x, axis, True)


def _logsumexp_dropped(xp: Namespace, x: Array, axis: int, _: Array | None) -> Array:
    return logsumexp_math(xp, x, axis, False)


def _mask(fname: str, xp: Namespace, x: Array, where: object) -> Array | None:
    """``where`` as a boolean array of x's library, broadcast to x's shape."""
    if where is None:
        return None
    where_xp = namespace_of(where)
    if where_xp is None:  # a Python bool or nested list of bools
        where = xp.asarray(np.asarray(where), device=array_device(x))
    elif where_xp is not xp:
        raise TypeError(
            f"xact.{fname}: where must be a boolean array of the same library as x, "
            f"got {type(where).__module__}.{type(where).__qualname__}"
        )
    if not xp.isdtype(where.dtype, "bool"):  # type: ignore[attr-defined]
        raise TypeError(f"xact.{fname}: where must be boolean, got {where.dtype}")  # type: ignore[attr-defined]
    if shape_of(where) == shape_of(x):  # also for unknown (Dask) lengths
        return where
    try:
        return xp.broadcast_to(where, x.shape)
    except (ValueError, RuntimeError) as error:
        raise ValueError(
            f"xact.{fname}: where of shape {tuple(where.shape)} does not broadcast "  # type: ignore[attr-defined]
            f"to x of shape {tuple(x.shape)}"
        ) from error


def _along_axis(
    fname: str,
    x: Any,
    axis: object,
    where: object,
    math: Any,
    *,
    reduce: bool = False,
    keepdims: bool = False,
) -> Array:
    """Validate, widen half precision, handle 0-d and empty input, apply."""
    xp, x = resolve_one(fname, x)
    mask = _mask(fname, xp, x, where)
    index = axis_index(fname, axis, x.ndim)
    (y,), rounded_back = in_compute_dtype(xp, x)
    scalar = x.ndim == 0
    if scalar:
        y = xp.reshape(y, (1,))
        mask = None if mask is None else xp.reshape(mask, (1,))
    if any(length == 0 for length in y.shape):  # empty: no reduction to run
        result = xp.sum(y, axis=index, keepdims=keepdims) - xp.inf if reduce else y
    elif reduce:
        kept = _logsumexp_kept if keepdims else _logsumexp_dropped
        result = evaluate_rows(xp, kept, y, None, index)
    else:
        result = compiled_rows(xp, fname, y, mask, index)
        if result is None:
            if widens(xp, y):
                math = _WIDENED[math]
            result = evaluate_rows(xp, math, y, mask, index)
    if scalar:
        result = xp.reshape(result, ())
    return rounded_back(result)


def softmax(x: Any, /, *, axis: int = -1, where: Any = None) -> Array:
    r"""Softmax along `axis`.

    .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}

    Parameters
    ----------
    x : array
    axis : int, default -1
    where : boolean array, optional
        Broadcastable to `x`; masked-out entries take no part and come out 0.
        A slice with nothing left gives zeros, never NaN.

    Returns
    -------
    array
        Same shape, dtype and device as `x`; each slice sums to 1.

    Notes
    -----
    Max-subtracted with TwoSum so the rounding of ``x - max`` is carried into
    ``exp``; within 8 ULP per element for logits in [-20, 20].

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    """
    return _along_axis("softmax", x, axis, where, softmax_math)


def log_softmax(x: Any, /, *, axis: int = -1, where: Any = None) -> Array:
    r"""Logarithm of the softmax along `axis`.

    .. math:: \log\mathrm{softmax}(x)_i = x_i - \log\sum_j e^{x_j}

    Masked-out entries (`where` False) come out ``-inf``.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.log_softmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    """
    return _along_axis("log_softmax", x, axis, where, log_softmax_math)


def softmin(x: Any, /, *, axis: int = -1) -> Array:
    r"""Softmin along `axis`: softmax of ``-x``.

    .. math:: \mathrm{softmin}(x)_i = \frac{e^{-x_i}}{\sum_j e^{-x_j}}

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.softmin(np.array([3.0, 2.0, 1.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    """
    return _along_axis("softmin", x, axis, None, softmin_math)


def logsumexp(x: Any, /, *, axis: int = -1, keepdims: bool = False) -> Array:
    r"""Logarithm of the sum of exponentials along `axis`.

    .. math:: \log\sum_j e^{x_j}

    An empty slice gives ``-inf``; a slice of ``-inf`` gives ``-inf``.

    Examples
    --------
    >>> import numpy as np, xact
    >>> float(xact.logsumexp(np.array([1000.0, 1000.0])))
    1000.6931471805599
    """
    if not isinstance(keepdims, bool):
        raise TypeError("xact.logsumexp: keepdims must be a bool")
    return _along_axis("logsumexp", x, axis, None, None, reduce=True, keepdims=keepdims)


__dir__ = public_names(__all__)
