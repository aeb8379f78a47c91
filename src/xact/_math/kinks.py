"""Piecewise primitives written with ``where`` so autodiff picks a side.

``xp.maximum(x, 0)`` and ``xp.abs(x)`` have gradient 0.5 (PyTorch, JAX) or 0
at the tie; these versions choose the branch xact's backward passes use, so
``torch.autograd`` and ``jax.grad`` through the forward functions give the
same derivatives as the layers' ``backward`` at every point.
"""

from __future__ import annotations

from .._namespace import Array, Namespace

__all__ = ["minus_abs", "negative_part", "positive_part"]


def positive_part(xp: Namespace, x: Array) -> Array:
    """max(x, 0), derivative 1 at 0 (the side of x >= 0, as in
    ``max(x, 0) + log1p(exp(-|x|))``); NaN propagates. ReLU, whose derivative
    at 0 is 0, is written on its own."""
    return xp.where(x >= 0, x, 0.0)


def negative_part(xp: Namespace, x: Array) -> Array:
    """min(x, 0), derivative 1 at 0; NaN propagates."""
    return xp.where(x > 0, 0.0, x)


def minus_abs(xp: Namespace, x: Array) -> Array:
    """-|x|, derivative -1 at 0 (the side of x >= 0); NaN propagates."""
    return xp.where(x >= 0, -x, x)
