"""The softmax family: softmax, log_softmax, softmin, logsumexp (the public,
validating layer; the math, its stable core and why it is so, is
:mod:`xact._math.softmax`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._math.softmax import (
    log_softmax_math,
    softmax_math,
    softmin_math,
)
from ._namespace import (
    Array,
    Namespace,
    array_device,
    in_compute_dtype,
    namespace_of,
    resolve_one,
    shape_of,
)
from ._public import public_names
from ._run.fast import logsumexp_rows, rows
from ._validate import axis_index

__all__ = ["log_softmax", "logsumexp", "softmax", "softmin"]


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
        result = logsumexp_rows(xp, y, index, keepdims)
    else:
        result = rows(xp, fname, y, mask, index)
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
