"""Losses: functions and objects with ``backward()``.

Every loss takes ``(y_true, y_pred)`` (Keras and scikit-learn order), returns a
0-d array of the caller's library (no host sync) and takes
``reduction="mean" | "sum" | "none"``. Class labels may be integer indices of
shape (N,), one-hot or probability rows (N, C), or an unambiguous (1, N) or
(N, 1) index array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._loss_math import REDUCTIONS, SPECS, LossSpec
from ._namespace import (
    Array,
    Namespace,
    array_device,
    default_float,
    ensure_array,
    in_compute_dtype,
    mean_or_nan,
    resolve,
)
from ._public import public_names

__all__ = [
    "LOSSES",
    "BinaryCrossentropy",
    "BinaryCrossentropyFromLogits",
    "CategoricalCrossentropy",
    "Huber",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SoftmaxCrossEntropy",
    "binary_crossentropy",
    "binary_crossentropy_from_logits",
    "categorical_crossentropy",
    "huber",
    "mean_absolute_error",
    "mean_squared_error",
    "softmax_cross_entropy",
]


def _check_reduction(fname: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"xact.{fname}: reduction must be one of {', '.join(REDUCTIONS)}, "
            f"got {reduction!r}"
        )


def _prepare(
    spec: LossSpec, y_true: Any, y_pred: Any
) -> tuple[Namespace, Array, Array, Any]:
    """Namespace, dense targets, predictions (half precision widened to
    float32) and the dtype results are returned in."""
    xp, (t, p) = resolve(spec.name, y_true, y_pred, floating=False)
    if not xp.isdtype(p.dtype, "real floating"):
        p = xp.astype(p, default_float(xp, array_device(p)))
    dtype = p.dtype
    (p,), _ = in_compute_dtype(xp, p)
    return xp, spec.targets(spec.name, xp, t, p), p, dtype


def _per_sample(xp: Namespace, spec: LossSpec, terms: Array) -> Array:
    if terms.ndim < 2:
        return terms
    reduce = xp.sum if spec.per_row == "sum" else xp.mean
    return reduce(terms, axis=-1)


def _reduce(xp: Namespace, per_sample: Array, reduction: str) -> Array:
    if reduction == "mean":
        return mean_or_nan(xp, per_sample)  # NaN for an empty batch
    if reduction == "sum":
        return ensure_array(xp, xp.sum(per_sample))
    return per_sample


def _gradient(
    xp: Namespace,
    spec: LossSpec,
    t: Array,
    p: Array,
    reduction: str,
    options: dict[str, Any],
) -> Array:
    """d loss / d y_pred ("none": the gradient of the sum of per-sample losses)."""
    g = spec.derivative(xp, t, p, **options)
    if spec.per_row == "mean" and p.ndim == 2:
        g = g / p.shape[-1]
    if reduction == "mean":
        g = g / p.shape[0]
    return g


def _loss(name: str, y_true: Any, y_pred: Any, reduction: str, **options: Any) -> Array:
    spec = SPECS[name]
    _check_reduction(name, reduction)
    xp, t, p, dtype = _prepare(spec, y_true, y_pred)
    value = _reduce(
        xp, _per_sample(xp, spec, spec.terms(xp, t, p, **options)), reduction
    )
    return value if value.dtype == dtype else xp.astype(value, dtype)


def _probability_eps(fname: str, eps: float) -> float:
    if not 0.0 < eps < 0.5:
        raise ValueError(f"xact.{fname}: eps must be in (0, 0.5), got {eps!r}")
    return float(eps)


def categorical_crossentropy(
    y_true: Any, y_pred: Any, /, *, eps: float = 1e-7, reduction: str = "mean"
) -> Array:
    r"""Categorical cross-entropy of probabilities (Keras's clipping).

    .. math:: -\sum_c t_c \log \mathrm{clip}(p_c, \epsilon, 1 - \epsilon)

    Examples
    --------
    >>> import numpy as np, xact
    >>> p = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    >>> round(float(xact.losses.categorical_crossentropy(np.array([0, 1]), p)), 6)
    0.524911
    """
    eps = _probability_eps("categorical_crossentropy", eps)
    return _loss("categorical_crossentropy", y_true, y_pred, reduction, eps=eps)


def softmax_cross_entropy(
    y_true: Any,
    logits: Any,
    /,
    *,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Array:
    r"""Cross-entropy from logits, fused and stable (log_softmax, never the log
    of a rounded probability); ``torch.nn.functional.cross_entropy``.

    .. math:: -\sum_c q_c \,\mathrm{log\_softmax}(z)_c,\quad
        q = (1 - s)\,t + s / C
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"xact.softmax_cross_entropy: label_smoothing must be in [0, 1], "
            f"got {label_smoothing!r}"
        )
    return _loss(
        "softmax_cross_entropy",
        y_true,
        logits,
        reduction,
        label_smoothing=float(label_smoothing),
    )


def binary_crossentropy(
    y_true: Any, y_pred: Any, /, *, eps: float = 1e-7, reduction: str = "mean"
) -> Array:
    r"""Binary cross-entropy of probabilities, clipped at ``eps``; the
    per-sample loss of 2-D input is the mean over its last axis (Keras).

    .. math:: -(t \log p + (1 - t) \log(1 - p))
    """
    eps = _probability_eps("binary_crossentropy", eps)
    return _loss("binary_crossentropy", y_true, y_pred, reduction, eps=eps)


def binary_crossentropy_from_logits(
    y_true: Any, logits: Any, /, *, reduction: str = "mean"
) -> Array:
    r"""Binary cross-entropy from logits, stable for any logit.

    .. math:: \max(z, 0) - z t + \log(1 + e^{-|z|})
    """
    return _loss("binary_crossentropy_from_logits", y_true, logits, reduction)


def mean_squared_error(
    y_true: Any, y_pred: Any, /, *, reduction: str = "mean"
) -> Array:
    r"""Mean squared error; per sample, the mean over the last axis.

    .. math:: (p - t)^2
    """
    return _loss("mean_squared_error", y_true, y_pred, reduction)


def mean_absolute_error(
    y_true: Any, y_pred: Any, /, *, reduction: str = "mean"
) -> Array:
    r"""Mean absolute error; per sample, the mean over the last axis.

    .. math:: |p - t|
    """
    return _loss("mean_absolute_error", y_true, y_pred, reduction)


def huber(
    y_true: Any, y_pred: Any, /, *, delta: float = 1.0, reduction: str = "mean"
) -> Array:
    r"""Huber loss; per sample, the mean over the last axis.

    .. math:: \tfrac12 r^2 \text{ if } |r| \le \delta \text{ else }
        \delta(|r| - \tfrac12\delta), \quad r = p - t
    """
    if not delta > 0:
        raise ValueError(f"xact.huber: delta must be > 0, got {delta!r}")
    return _loss("huber", y_true, y_pred, reduction, delta=float(delta))


_FUNCTIONS: dict[str, Callable[..., Array]] = {name: globals()[name] for name in SPECS}


class Loss:
    """A loss as an object: ``loss(y_true, y_pred)`` returns the value and keeps
    the inputs; ``loss.backward()`` returns d loss / d y_pred as ``dinputs``."""

    name: str = ""

    def __init__(self, *, reduction: str = "mean", **options: Any) -> None:
        _check_reduction(type(self).__name__, reduction)
        function = _FUNCTIONS[self.name]
        # validate the options with the function's own checks
        function(np.zeros((1, 2)), np.full((1, 2), 0.5), reduction=reduction, **options)
        self.reduction = reduction
        self.options = {**SPECS[self.name].defaults, **options}
        self.y_true: Array | None = None
        self.y_pred: Array | None = None
        self.output: Array | None = None
        self.dinputs: Array | None = None
        self._xp: Any = None
        self._dtype: Any = None

    def forward(self, y_true: Any, y_pred: Any) -> Array:
        spec = SPECS[self.name]
        xp, t, p, self._dtype = _prepare(spec, y_true, y_pred)
        self._xp, self.y_true, self.y_pred = xp, t, p
        per_sample = _per_sample(xp, spec, spec.terms(xp, t, p, **self.options))
        self.output = xp.astype(_reduce(xp, per_sample, self.reduction), self._dtype)
        return self.output

    __call__ = forward

    def backward(self) -> Array:
        if self.y_pred is None:
            raise RuntimeError(f"xact.{type(self).__name__}.backward: call it first")
        spec = SPECS[self.name]
        gradient = _gradient(
            self._xp, spec, self.y_true, self.y_pred, self.reduction, self.options
        )
        self.dinputs = self._xp.astype(gradient, self._dtype)
        return self.dinputs


def _loss_class(class_name: str, name: str) -> type[Loss]:
    doc = f"Object form of :func:`xact.losses.{name}` with ``backward()``."
    return type(class_name, (Loss,), {"name": name, "__doc__": doc})


CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", "categorical_crossentropy"
)
SoftmaxCrossEntropy = _loss_class("SoftmaxCrossEntropy", "softmax_cross_entropy")
BinaryCrossentropy = _loss_class("BinaryCrossentropy", "binary_crossentropy")
BinaryCrossentropyFromLogits = _loss_class(
    "BinaryCrossentropyFromLogits", "binary_crossentropy_from_logits"
)
MeanSquaredError = _loss_class("MeanSquaredError", "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", "mean_absolute_error")
Huber = _loss_class("Huber", "huber")

LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        CategoricalCrossentropy,
        SoftmaxCrossEntropy,
        BinaryCrossentropy,
        BinaryCrossentropyFromLogits,
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
    )
}

__dir__ = public_names(__all__)
