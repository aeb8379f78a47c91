"""Losses: functions and objects with ``backward()``.

Every loss takes ``(y_true, y_pred)`` (Keras and scikit-learn order), returns a
0-d array of the caller's library (no host sync) and takes
``reduction="mean" | "sum" | "none"``. Class labels may be integer indices of
shape (N,), one-hot or probability rows (N, C), or an unambiguous (1, N) or
(N, 1) index array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import array_api_extra as xpx
import numpy as np

from ._namespace import (
    Array,
    Namespace,
    array_device,
    clip,
    compute_dtype,
    default_float,
    ensure_array,
    is_lazy,
    mean_or_nan,
    resolve,
    shape_of,
    to_host,
)
from ._twofold import exp_pair
from .softmax import log_softmax_math, softmax_math

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

REDUCTIONS = ("mean", "sum", "none")
_ACCEPTED = (
    "integer class indices of shape (N,), one-hot or probability rows of shape "
    "(N, C), or a (1, N) or (N, 1) index array"
)


# Sequential.fit checks its labels once, then sets this for its batches, so
# that training makes one host sync per epoch, none per batch.
labels_checked: ContextVar[bool] = ContextVar("labels_checked", default=False)


@contextmanager
def labels_already_checked(checked: bool = True) -> Iterator[None]:
    """A block whose losses skip the label check (the caller made it)."""
    token = labels_checked.set(checked)
    try:
        yield
    finally:
        labels_checked.reset(token)


def check_labels(fname: str, xp: Namespace, labels: Array, classes: int) -> None:
    """Integer class indices in [0, classes): a ValueError naming ``fname``,
    what was found and the class count otherwise (one host sync). Lazy
    arrays are not read (:func:`class_targets` marks their bad rows NaN)."""
    if is_lazy(xp, labels):
        return
    host = to_host(labels)
    if host.size == 0:
        return
    if host.dtype.kind == "f":
        whole = np.isfinite(host) & (host == np.floor(host))
        if not whole.all():
            raise ValueError(
                f"xact.{fname}: labels must be integers, got "
                f"{float(host[~whole].ravel()[0])!r} (of dtype {host.dtype})"
            )
    low, high = host.min(), host.max()
    if low < 0 or high >= classes:
        raise ValueError(
            f"xact.{fname}: labels must be in [0, {classes}) for {classes} classes; "
            f"found values from {low:g} to {high:g}"
        )


def class_targets(fname: str, xp: Namespace, y_true: Array, y_pred: Array) -> Array:
    """Class labels as dense (N, C) rows of y_pred's dtype.

    Index labels must be integers in [0, C): eager arrays are checked
    (:func:`check_labels`, a ``ValueError``); on Dask and under ``jax.jit``,
    where that would need a device sync, a bad label's row is NaN, so its
    sample's loss is NaN, never a plausible number.
    """
    if y_pred.ndim != 2:
        raise ValueError(
            f"xact.{fname}: y_pred must have shape (N, C), got {tuple(y_pred.shape)}"
        )
    n, classes = shape_of(y_pred)
    if classes is None:
        raise ValueError(f"xact.{fname}: y_pred has an unknown number of classes")
    if shape_of(y_true) == (n, classes):
        return xp.astype(y_true, y_pred.dtype)
    if shape_of(y_true) in ((n,), (1, n), (n, 1)):
        indices = xp.reshape(y_true, (-1,))
        if not xp.isdtype(indices.dtype, ("integral", "real floating", "bool")):
            raise TypeError(f"xact.{fname}: labels of dtype {indices.dtype}")
        lazy = is_lazy(xp, indices)
        if not lazy and not labels_checked.get():
            check_labels(fname, xp, indices, classes)
        valid = None
        if lazy and not xp.isdtype(indices.dtype, "bool"):
            valid = (indices >= 0) & (indices < classes)
            if xp.isdtype(indices.dtype, "real floating"):
                valid = valid & (indices == xp.floor(indices))
            indices = clip(xp, indices, 0, classes - 1)
        if not xp.isdtype(indices.dtype, "integral"):
            indices = xp.astype(indices, xp.int64 if hasattr(xp, "int64") else xp.int32)
        targets = xpx.one_hot(indices, classes, dtype=y_pred.dtype, xp=xp)
        if valid is not None:
            targets = xp.where(valid[:, None], targets, xp.nan)
        return targets
    raise ValueError(
        f"xact.{fname}: y_true of shape {tuple(y_true.shape)} does not match y_pred "
        f"of shape {tuple(y_pred.shape)}; expected {_ACCEPTED}"
    )


def _same_shape_targets(
    fname: str, xp: Namespace, y_true: Array, y_pred: Array
) -> Array:
    """Targets for elementwise losses: y_pred's shape, or (N,) against (N, 1)."""
    shape = shape_of(y_pred)
    if shape_of(y_true) == shape:
        return xp.astype(y_true, y_pred.dtype)
    if (
        y_pred.ndim == 2
        and shape[1] == 1
        and shape_of(y_true) in ((shape[0],), (1, shape[0]))
    ):
        return xp.astype(xp.reshape(y_true, shape), y_pred.dtype)
    raise ValueError(
        f"xact.{fname}: y_true of shape {tuple(y_true.shape)} does not match y_pred "
        f"of shape {shape}"
    )


@dataclass(frozen=True)
class _Spec:
    """A loss as per-element terms and their derivative.

    ``terms(xp, t, p, **o)`` has y_pred's shape; the per-sample loss is its sum
    (``per_row="sum"``) or mean (``"mean"``) over the last axis of 2-D input.
    ``derivative`` is d terms / d p.
    """

    name: str
    targets: Callable[[str, Namespace, Array, Array], Array]
    terms: Callable[..., Array]
    derivative: Callable[..., Array]
    per_row: str
    defaults: dict[str, float] = field(default_factory=dict)


def _cce_terms(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    return xp.where(t == 0, 0.0, -t * xp.log(clip(xp, p, eps, 1.0 - eps)))


def _cce_derivative(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    inside = (p >= eps) & (p <= 1.0 - eps)
    return xp.where(inside, -t / xp.where(inside, p, 1.0), 0.0)


def _smoothed(t: Array, label_smoothing: float) -> Array:
    if label_smoothing == 0.0:
        return t
    return t * (1.0 - label_smoothing) + label_smoothing / t.shape[-1]


def _sce_terms(xp: Namespace, t: Array, z: Array, label_smoothing: float) -> Array:
    log_p = log_softmax_math(xp, z, z.ndim - 1, None)
    q = _smoothed(t, label_smoothing)
    return xp.where(q == 0, 0.0, -q * log_p)  # a -inf logit with no target: 0


def _sce_derivative(xp: Namespace, t: Array, z: Array, label_smoothing: float) -> Array:
    q = _smoothed(t, label_smoothing)
    p = softmax_math(xp, z, z.ndim - 1, None)
    return p * xp.sum(q, axis=-1, keepdims=True) - q


def _bce_terms(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    p = clip(xp, p, eps, 1.0 - eps)
    positive = xp.where(t == 0, 0.0, t * xp.log(p))
    negative = xp.where(t == 1, 0.0, (1.0 - t) * xp.log1p(-p))
    return -(positive + negative)


def _bce_derivative(xp: Namespace, t: Array, p: Array, eps: float) -> Array:
    inside = (p >= eps) & (p <= 1.0 - eps)
    q = xp.where(inside, p, 0.5)
    return xp.where(inside, (q - t) / (q * (1.0 - q)), 0.0)


def _bce_logits_terms(xp: Namespace, t: Array, z: Array) -> Array:
    # max(z, 0) - z t + log1p(e^-|z|): stable for any |z|
    e = exp_pair(xp, -xp.abs(z), xp.zeros_like(z))
    return xp.maximum(z, 0.0) - z * t + xp.log1p(e)


def _bce_logits_derivative(xp: Namespace, t: Array, z: Array) -> Array:
    e = xp.exp(-xp.abs(z))
    sigmoid = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return sigmoid - t


def _mse_terms(xp: Namespace, t: Array, p: Array) -> Array:
    r = p - t
    return r * r


def _mse_derivative(xp: Namespace, t: Array, p: Array) -> Array:
    return 2.0 * (p - t)


def _mae_terms(xp: Namespace, t: Array, p: Array) -> Array:
    return xp.abs(p - t)


def _mae_derivative(xp: Namespace, t: Array, p: Array) -> Array:
    return xp.sign(p - t)


def _huber_terms(xp: Namespace, t: Array, p: Array, delta: float) -> Array:
    r = xp.abs(p - t)
    small = xp.where(r <= delta, r, 0.0)  # no overflow in the branch not taken
    return xp.where(r <= delta, 0.5 * small * small, delta * (r - 0.5 * delta))


def _huber_derivative(xp: Namespace, t: Array, p: Array, delta: float) -> Array:
    r = p - t
    return xp.where(xp.abs(r) <= delta, r, delta * xp.sign(r))


SPECS = {
    spec.name: spec
    for spec in (
        _Spec(
            "categorical_crossentropy",
            class_targets,
            _cce_terms,
            _cce_derivative,
            "sum",
            {"eps": 1e-7},
        ),
        _Spec(
            "softmax_cross_entropy",
            class_targets,
            _sce_terms,
            _sce_derivative,
            "sum",
            {"label_smoothing": 0.0},
        ),
        _Spec(
            "binary_crossentropy",
            _same_shape_targets,
            _bce_terms,
            _bce_derivative,
            "mean",
            {"eps": 1e-7},
        ),
        _Spec(
            "binary_crossentropy_from_logits",
            _same_shape_targets,
            _bce_logits_terms,
            _bce_logits_derivative,
            "mean",
        ),
        _Spec(
            "mean_squared_error",
            _same_shape_targets,
            _mse_terms,
            _mse_derivative,
            "mean",
        ),
        _Spec(
            "mean_absolute_error",
            _same_shape_targets,
            _mae_terms,
            _mae_derivative,
            "mean",
        ),
        _Spec(
            "huber",
            _same_shape_targets,
            _huber_terms,
            _huber_derivative,
            "mean",
            {"delta": 1.0},
        ),
    )
}


def _check_reduction(fname: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"xact.{fname}: reduction must be one of {', '.join(REDUCTIONS)}, "
            f"got {reduction!r}"
        )


def _prepare(
    spec: _Spec, y_true: Any, y_pred: Any
) -> tuple[Namespace, Array, Array, Any]:
    """Namespace, dense targets, predictions (half precision widened to
    float32) and the dtype results are returned in."""
    xp, (t, p) = resolve(spec.name, y_true, y_pred, floating=False)
    if not xp.isdtype(p.dtype, "real floating"):
        p = xp.astype(p, default_float(xp, array_device(p)))
    dtype = p.dtype
    work = compute_dtype(xp, dtype)  # half precision: computed in float32
    if work != dtype:
        p = xp.astype(p, work)
    return xp, spec.targets(spec.name, xp, t, p), p, dtype


def _per_sample(xp: Namespace, spec: _Spec, terms: Array) -> Array:
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
    spec: _Spec,
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
