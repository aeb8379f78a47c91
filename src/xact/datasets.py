"""Toy datasets for classification, on any namespace, device and dtype.

Random numbers come from ``numpy.random.default_rng(seed)`` and are moved to
the target namespace and device, so a seed means the same data everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._namespace import Array, as_namespace, asarray_as, default_float
from ._public import public_names
from ._validate import positive_integer, real_parameter

__all__ = ["create_spiral_dataset", "spiral", "vertical"]


def _check_counts(fname: str, samples: object, classes: object) -> tuple[int, int]:
    name = f"datasets.{fname}"
    return (
        positive_integer(name, "samples", samples),
        positive_integer(name, "classes", classes),
    )


def _place(
    fname: str, X: np.ndarray, y: np.ndarray, xp: Any, device: Any, dtype: Any
) -> tuple[Array, Array]:
    namespace = as_namespace(xp if xp is not None else np)
    if dtype is None:
        dtype = default_float(namespace, device)
    elif isinstance(dtype, str):
        dtype = getattr(namespace, dtype, None) or dtype
    if isinstance(dtype, str) or not namespace.isdtype(dtype, "real floating"):
        name = getattr(dtype, "__name__", None) or str(dtype)
        raise TypeError(
            f"xact.datasets.{fname}: dtype must be a real floating dtype, got {name}"
        )
    info = namespace.__array_namespace_info__()
    integer = info.default_dtypes(device=device)["integral"]
    return (
        asarray_as(namespace, X, dtype, device),
        asarray_as(namespace, y, integer, device),
    )


def spiral(
    samples: int,
    classes: int,
    *,
    noise: float = 0.2,
    seed: int | None = None,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> tuple[Array, Array]:
    """The classic spiral: ``classes`` arms of ``samples`` points each.

    For arm k: r = linspace(0, 1), t = linspace(4k, 4(k+1)) + noise·N(0, 1),
    X = (r sin 2.5t, r cos 2.5t).

    Returns
    -------
    X : array of shape (samples*classes, 2), floating
    y : array of shape (samples*classes,), integer labels 0..classes-1

    Examples
    --------
    >>> import xact
    >>> X, y = xact.datasets.spiral(100, 3, seed=0)
    >>> X.shape, y.shape
    ((300, 2), (300,))
    """
    samples, classes = _check_counts("spiral", samples, classes)
    noise = real_parameter("datasets.spiral", "noise", noise, nonnegative=True)
    rng = np.random.default_rng(seed)
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype=np.int64)
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        r = np.linspace(0.0, 1.0, samples)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), samples) + noise * rng.standard_normal(
            samples
        )
        X[rows] = np.column_stack((r * np.sin(2.5 * t), r * np.cos(2.5 * t)))
        y[rows] = k
    return _place("spiral", X, y, xp, device, dtype)


def vertical(
    samples: int,
    classes: int,
    *,
    noise: float = 0.1,
    seed: int | None = None,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> tuple[Array, Array]:
    """Vertical bands: class k is centred at x = k/3, y = 0.5, spread by noise.

    Returns ``(X, y)`` as :func:`spiral` does.
    """
    samples, classes = _check_counts("vertical", samples, classes)
    noise = real_parameter("datasets.vertical", "noise", noise, nonnegative=True)
    rng = np.random.default_rng(seed)
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype=np.int64)
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        X[rows, 0] = rng.standard_normal(samples) * noise + k / 3
        X[rows, 1] = rng.standard_normal(samples) * noise + 0.5
        y[rows] = k
    return _place("vertical", X, y, xp, device, dtype)


def create_spiral_dataset(
    samples: int, classes: int, **options: Any
) -> tuple[Array, Array]:
    """The seed notebook's name for :func:`spiral`."""
    return spiral(samples, classes, **options)


__dir__ = public_names(__all__)
