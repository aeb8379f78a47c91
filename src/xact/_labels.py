"""Class labels for the losses and metrics: dense target rows from index
labels, one-hot or probability rows, with the label rules (integers in
[0, C): a ValueError on eager arrays, a NaN row where reading them would need
a sync)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import array_api_extra as xpx
import numpy as np

from ._namespace import Array, Namespace, clip, is_lazy, shape_of, to_host

__all__ = [
    "check_labels",
    "class_targets",
    "labels_already_checked",
    "same_shape_targets",
]

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


def same_shape_targets(
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
