"""Pictures, with matplotlib (``pip install 'xact-activations[plot]'``).

Nothing here changes matplotlib's state: no backend is chosen, no rcParams
are set. Each function draws on the ``figure`` it is given, or on a new
pyplot figure made with the backend the user has (so a notebook shows it
inline, ``%matplotlib widget`` makes it interactive and ``plt.show()``
displays it). A program that only writes files can pass a
:class:`matplotlib.figure.Figure` made without pyplot: no GUI, nothing left
open (the command line does that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._namespace import to_host
from ._public import public_names

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_activations", "plot_decision_regions", "plot_history"]


def _figure(figure: Figure | None, function: str, **size: Any) -> Figure:
    """`figure`, else a new pyplot figure of ``size`` (pyplot's own backend)."""
    if figure is not None:
        return figure
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"xact.plotting.{function} needs matplotlib: "
            "pip install 'xact-activations[plot]'"
        ) from error
    return plt.figure(**size)


def _colours(classes: int) -> list[Any]:
    import matplotlib

    colours = matplotlib.colormaps["tab10"]
    return [colours(k % colours.N) for k in range(classes)]


def plot_decision_regions(
    model: Any,
    X: Any,
    y: Any,
    path: str | None = None,
    *,
    xp: Any = None,
    device: Any = None,
    resolution: int = 300,
    title: str = "",
    figure: Figure | None = None,
) -> Figure:
    """Colour the plane by the model's predicted class and draw the data.

    The grid is evaluated on the model's backend (``xp``/``device``). The
    drawing goes on `figure` (a new pyplot figure when None) and is saved to
    `path` if given. Returns the figure.
    """
    figure = _figure(figure, "plot_decision_regions", figsize=(6, 6))
    points, labels = to_host(X), to_host(y)
    low, high = points.min(axis=0) - 0.1, points.max(axis=0) + 0.1
    gx, gy = np.meshgrid(
        np.linspace(low[0], high[0], resolution),
        np.linspace(low[1], high[1], resolution),
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    if xp is not None:
        from ._namespace import as_namespace

        namespace = as_namespace(xp)
        grid = namespace.asarray(grid, dtype=X.dtype, device=device)
    predicted = np.argmax(to_host(model.predict(grid)), axis=1).reshape(gx.shape)
    axes = figure.add_subplot()
    classes = int(labels.max()) + 1
    colours = _colours(classes)
    axes.contourf(
        gx,
        gy,
        predicted,
        levels=np.arange(classes + 1) - 0.5,
        colors=colours,
        alpha=0.3,
    )
    for k in range(classes):
        chosen = labels == k
        axes.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=12,
            color=colours[k],
            edgecolor="k",
            linewidth=0.3,
            label=f"class {k}",
        )
    axes.set_aspect("equal")
    axes.legend(loc="upper right")
    axes.set_title(title or "decision regions")
    if path:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


_PANELS = (("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy")))


def plot_history(
    history: Mapping[str, Sequence[float]],
    path: str | None = None,
    *,
    title: str = "",
    figure: Figure | None = None,
) -> Figure:
    """The loss and accuracy curves of a training run, one panel each.

    `history` is what :meth:`xact.Sequential.fit` returns: ``"loss"`` and
    ``"accuracy"`` per epoch (``"val_loss"`` and ``"val_accuracy"`` are drawn
    beside them when present; other entries are ignored). The drawing goes
    on `figure` (a new pyplot figure when None) and is saved to `path` if
    given. Returns the figure.
    """
    panels = [
        (label, [key for key in keys if key in history])
        for label, keys in _PANELS
        if any(key in history for key in keys)
    ]
    if not panels:
        raise ValueError(
            "xact.plotting.plot_history: the history has none of 'loss', "
            f"'accuracy', 'val_loss', 'val_accuracy' (got {sorted(history)})"
        )
    figure = _figure(figure, "plot_history", figsize=(5 * len(panels), 3.5))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (label, keys) in zip(axes, panels, strict=True):
        for key in keys:
            values = [float(v) for v in history[key]]
            axis.plot(range(1, len(values) + 1), values, label=key)
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


def plot_activations(
    path: str | None = None,
    *,
    names: list[str] | None = None,
    figure: Figure | None = None,
) -> Figure:
    """Every elementwise activation and its derivative on [-6, 7], in a grid.

    Derivatives come from the layers' backward passes. The drawing goes on
    `figure` (a new pyplot figure when None) and is saved to `path` if
    given. Returns the figure.
    """
    from ._registry import ACTIVATIONS
    from .layers import LAYERS

    entries = [
        e for e in ACTIVATIONS if not e.along_axis and (not names or e.name in names)
    ]
    columns = 6
    rows = -(-len(entries) // columns)
    figure = _figure(figure, "plot_activations", figsize=(3 * columns, 2.4 * rows))
    axes = figure.subplots(rows, columns, sharex=True, squeeze=False)
    x = np.linspace(-6, 7, 1041)
    for axis, entry in zip(axes.ravel(), entries, strict=False):
        layer = LAYERS[entry.layer]()
        y = layer(x)
        derivative = layer.backward(np.ones_like(x))
        axis.plot(x, y, label="f(x)")
        axis.plot(x, derivative, "--", label="f'(x)")
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.axvline(0, color="grey", linewidth=0.5)
        axis.set_title(entry.name)
        axis.set_ylim(-2.5, 7.5)
    for axis in axes.ravel()[len(entries) :]:
        axis.set_visible(False)
    axes[0, 0].legend(loc="upper left")
    figure.tight_layout()
    if path:
        figure.savefig(path, dpi=100, bbox_inches="tight")
    return figure


__dir__ = public_names(__all__)
