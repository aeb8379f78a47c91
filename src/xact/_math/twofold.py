"""Error-free transformations: values carried as an unevaluated sum ``hi + lo``.

A rounding that a later step amplifies (``exp`` multiplies the error of its
argument by the argument's size, ``erfc`` by about ``2 z**2``) must be carried,
not dropped. These helpers return the rounded result together with its exact
rounding error, using only the operators of the Array API standard (Knuth's
TwoSum, Dekker's split and product), so they run on every backend.
"""

from __future__ import annotations

import math

import numpy as np

from .._namespace import Array, Namespace, finfo_of, rounding_barrier

__all__ = [
    "at_least",
    "at_most",
    "below",
    "constant_pair",
    "exceeds",
    "exp_pair",
    "safe_split_bound",
    "split_constant",
    "two_product",
    "two_product_by_constant",
    "two_product_by_split",
    "two_sum",
]


def two_sum(xp: Namespace, a: Array | float, b: Array) -> tuple[Array, Array]:
    """``s, e`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (finite input)."""
    s = rounding_barrier(xp, a + b)
    b_virtual = s - a
    a_virtual = s - b_virtual
    return s, (a - a_virtual) + (b - b_virtual)


def _splitter(xp: Namespace, dtype: object) -> float:
    mantissa_bits = round(-np.log2(float(finfo_of(xp, dtype).eps))) + 1
    return float(2 ** ((mantissa_bits + 1) // 2) + 1)


def safe_split_bound(xp: Namespace, dtype: object) -> float:
    """Largest magnitude that :func:`two_product` may take without overflow."""
    return float(finfo_of(xp, dtype).max) / (2 * _splitter(xp, dtype))


def _split(xp: Namespace, a: Array, splitter: float) -> tuple[Array, Array]:
    c = rounding_barrier(xp, splitter * a)
    hi = c - (c - a)
    return hi, a - hi


def two_product(xp: Namespace, a: Array, b: Array) -> tuple[Array, Array]:
    """``p, e`` with ``p = fl(a * b)`` and ``a * b = p + e`` exactly.

    Exact when no operand exceeds :func:`safe_split_bound` and nothing underflows;
    callers clamp arguments whose products are discarded.
    """
    fused = getattr(xp, "fused_two_product", None)
    if fused is not None:  # a kernel recorder: one instruction where it can
        return fused(a, b)  # type: ignore[no-any-return]
    splitter = _splitter(xp, a.dtype)
    p = a * b
    a_hi, a_lo = _split(xp, a, splitter)
    b_hi, b_lo = _split(xp, b, splitter)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def constant_pair(
    hi64: float, lo64: float, xp: Namespace, dtype: object
) -> tuple[float, float]:
    """A constant given to ~106 bits as ``hi64 + lo64``, split for ``dtype``.

    Returns Python floats ``hi, lo`` with ``hi`` exactly representable in
    ``dtype`` and ``hi + lo`` the constant to about twice that precision.
    """
    bits = finfo_of(xp, dtype).bits
    if bits >= 64:
        return hi64, lo64
    hi = float(np.float32(hi64))
    return hi, float(np.float32((hi64 - hi) + lo64))


def exp_pair(xp: Namespace, hi: Array, lo: Array) -> Array:
    """``exp(hi + lo)`` for ``|lo| <= ulp(hi)``: ``exp(hi) * (1 + lo)``."""
    e = xp.exp(hi)
    return e + e * lo


def split_constant(c: float, xp: Namespace, dtype: object) -> tuple[float, float]:
    """``c = hi + lo`` exactly, each with at most half of ``dtype``'s mantissa
    bits (Dekker's split done once, in Python, for a constant)."""
    if c == 0.0:
        return 0.0, 0.0
    half = (round(-np.log2(float(finfo_of(xp, dtype).eps))) + 1) // 2
    mantissa, exponent = math.frexp(c)
    hi = math.ldexp(round(mantissa * 2.0**half), exponent - half)
    return hi, c - hi


def two_product_by_constant(xp: Namespace, a: Array, c: float) -> tuple[Array, Array]:
    """``p, e`` with ``p = fl(a * c)`` and ``a * c = p + e`` exactly, for a
    constant ``c`` representable in ``a``'s dtype (of any magnitude).

    ``c`` is split in Python, so only ``a`` is split on the device. Exact when
    ``|a|`` is at most :func:`safe_split_bound` and ``|a * c|`` at most half the
    largest float.
    """
    return two_product_by_split(xp, a, c, *split_constant(c, xp, a.dtype))


def two_product_by_split(
    xp: Namespace, a: Array, c: float, c_hi: float, c_lo: float
) -> tuple[Array, Array]:
    """:func:`two_product_by_constant` with ``c = c_hi + c_lo`` split already
    (by :func:`split_constant`): a kernel takes the three as arguments."""
    fused = getattr(xp, "fused_two_product", None)
    if fused is not None:
        return fused(a, c)  # type: ignore[no-any-return]
    a_hi, a_lo = _split(xp, a, _splitter(xp, a.dtype))
    p = rounding_barrier(xp, a * c)
    e = ((a_hi * c_hi - p) + a_hi * c_lo + a_lo * c_hi) + a_lo * c_lo
    return p, e


# Exact comparisons of an array with a Python float (an exact parameter):
# ``value = hi + lo`` with ``hi`` its nearest number in the array's dtype, so
# ``x > value`` is ``x >= hi`` when ``value < hi`` and ``x > hi`` otherwise.
# NaN compares False, as with the operators.


def exceeds(xp: Namespace, x: Array, value: float) -> Array:
    """``x > value`` exactly."""
    hi, lo = constant_pair(value, 0.0, xp, x.dtype)
    return x >= hi if lo < 0 else x > hi


def below(xp: Namespace, x: Array, value: float) -> Array:
    """``x < value`` exactly."""
    hi, lo = constant_pair(value, 0.0, xp, x.dtype)
    return x <= hi if lo > 0 else x < hi


def at_least(xp: Namespace, x: Array, value: float) -> Array:
    """``x >= value`` exactly."""
    hi, lo = constant_pair(value, 0.0, xp, x.dtype)
    return x > hi if lo > 0 else x >= hi


def at_most(xp: Namespace, x: Array, value: float) -> Array:
    """``x <= value`` exactly."""
    hi, lo = constant_pair(value, 0.0, xp, x.dtype)
    return x < hi if lo < 0 else x <= hi
