"""Pictures, with matplotlib (``pip install 'xact-activations[plot]'``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._namespace import to_host

__all__ = ["plot_activations", "plot_decision_regions"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "xact.plotting needs matplotlib: pip install 'xact-activations[plot]'"
        ) from error
    if matplotlib.get_backend().lower() not in (
        "agg",
        "module://matplotlib_inline.backend_inline",
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
) -> Any:
    """Colour the plane by the model's predicted class and draw the data.

    The grid is evaluated on the model's backend (``xp``/``device``); the
    figure is saved to `path` if given. Returns the matplotlib figure.
    """
    plt = _pyplot()
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
    figure, axes = plt.subplots(figsize=(6, 6))
    classes = int(labels.max()) + 1
    colours = plt.get_cmap("tab10")
    axes.contourf(
        gx,
        gy,
        predicted,
        levels=np.arange(classes + 1) - 0.5,
        colors=[colours(k) for k in range(classes)],
        alpha=0.3,
    )
    for k in range(classes):
        chosen = labels == k
        axes.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=12,
            color=colours(k),
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


def plot_activations(path: str | None = None, *, names: list[str] | None = None) -> Any:
    """Every elementwise activation and its derivative on [-6, 7], in a grid.

    Derivatives come from the layers' backward passes.
    """
    from ._registry import ACTIVATIONS
    from .layers import LAYERS

    plt = _pyplot()
    entries = [
        e for e in ACTIVATIONS if not e.along_axis and (not names or e.name in names)
    ]
    columns = 6
    rows = -(-len(entries) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3 * columns, 2.4 * rows), sharex=True, squeeze=False
    )
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
