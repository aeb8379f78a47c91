"""Argument checks shared by every public function: one rule per kind of
argument, one message shape (``xact.<function>: <argument> must be ...``)."""

from __future__ import annotations

import numbers
import operator

__all__ = ["axis_index", "positive_integer", "real_parameter"]


def real_parameter(
    fname: str,
    pname: str,
    value: object,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    nonzero: bool = False,
    below_one: bool = False,
) -> float:
    """A finite real Python or NumPy number (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"xact.{fname}: {pname} must be a real number, got {type(value).__name__}"
        )
    try:
        result = float(value)
    except OverflowError:  # an integer beyond float64's range
        raise ValueError(
            f"xact.{fname}: {pname} must be finite, got an integer beyond "
            f"float64's range"
        ) from None
    problem = None
    if result != result or result in (float("inf"), float("-inf")):
        problem = "finite"
    elif positive and result <= 0:
        problem = "> 0"
    elif nonnegative and result < 0:
        problem = ">= 0"
    elif nonzero and result == 0:
        problem = "nonzero"
    elif below_one and not 0 <= result < 1:
        problem = "in [0, 1)"
    if problem is not None:
        raise ValueError(f"xact.{fname}: {pname} must be {problem}, got {value!r}")
    return result


def positive_integer(fname: str, pname: str, value: object) -> int:
    """A Python or NumPy integer >= 1 (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"xact.{fname}: {pname} must be a positive integer, got "
            f"{type(value).__name__} {value!r}"
        )
    if value < 1:
        raise ValueError(
            f"xact.{fname}: {pname} must be a positive integer, got {value!r}"
        )
    return int(value)


def axis_index(fname: str, axis: object, ndim: int) -> int:
    """``axis`` (a Python or NumPy integer, not a bool) as an index in
    ``range(ndim)``; a 0-d array counts as one dimension."""
    if isinstance(axis, bool):
        raise TypeError(f"xact.{fname}: axis must be an integer, got bool")
    try:
        index = operator.index(axis)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"xact.{fname}: axis must be an integer, got {type(axis).__name__}"
        ) from None
    size = max(ndim, 1)
    if not -size <= index < size:
        raise ValueError(
            f"xact.{fname}: axis {index} is out of range for an array with {ndim} dims"
        )
    return index % size
