"""Metrics."""

from __future__ import annotations

from typing import Any

from ._namespace import Array, mean_or_nan, resolve, shape_of
from ._public import public_names

__all__ = ["accuracy", "predicted_classes"]


def predicted_classes(xp: Any, y_pred: Array) -> Array:
    """Class indices from scores (N, C) or probabilities of one class (N,)/(N, 1)."""
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        return xp.argmax(y_pred, axis=-1)
    return xp.astype(
        xp.reshape(y_pred, (-1,)) > 0.5, xp.int64 if hasattr(xp, "int64") else xp.int32
    )


def accuracy(y_true: Any, y_pred: Any) -> Array:
    """Fraction of samples whose predicted class is the true one (a 0-d array).

    `y_pred` are scores or probabilities (N, C) (argmax) or one probability
    per sample (N,)/(N, 1) (threshold 0.5); `y_true` class indices (N,),
    (1, N), (N, 1) or one-hot rows (N, C). NaN for an empty batch.

    Examples
    --------
    >>> import numpy as np, xact
    >>> scores = np.array([[0.9, 0.1], [0.8, 0.2]])
    >>> float(xact.metrics.accuracy(np.array([0, 1]), scores))
    0.5
    """
    xp, (t, p) = resolve("metrics.accuracy", y_true, y_pred, floating=False)
    n = shape_of(p)[0]
    predicted = predicted_classes(xp, p)
    if t.ndim == 2 and shape_of(t) == shape_of(p) and p.shape[1] > 1:
        t = xp.argmax(t, axis=-1)
    elif shape_of(t) in ((n,), (1, n), (n, 1)):
        t = xp.reshape(t, (-1,))
    else:
        raise ValueError(
            f"xact.metrics.accuracy: y_true of shape {tuple(t.shape)} does not match "
            f"y_pred of shape {tuple(p.shape)}"
        )
    correct = xp.astype(
        predicted == xp.astype(t, predicted.dtype),
        p.dtype if xp.isdtype(p.dtype, "real floating") else xp.float32,
    )
    return mean_or_nan(xp, correct)  # NaN for an empty batch


__dir__ = public_names(__all__)
