"""Saving and loading models in the safetensors format.

A file holds the parameters as named tensors (``"0.weights"``, ``"0.biases"``,
... the keys of :meth:`Sequential.state_dict`) and, in its metadata, the
architecture: each layer's class and the options that rebuild it. Loading
reads arrays and JSON, never runs code (unlike pickle), and places the model
on whichever library, device and dtype you ask for, so a model trained on
CuPy loads onto NumPy and back with the same predictions.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _model_file
from ._public import public_names
from .model import Sequential

__all__ = ["load", "save"]


def save(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (see :meth:`Sequential.save`)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"xact.save: expected a Sequential, got {type(model).__name__}")
    model.save(path)


def load(
    path: str | os.PathLike[str],
    *,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> Sequential:
    """Read a model written by :meth:`Sequential.save`.

    Parameters
    ----------
    path : str or path-like
    xp, device, dtype : optional
        Where to place the parameters (as :meth:`Sequential.to`); by default
        NumPy, in the dtype they were saved in.

    Examples
    --------
    >>> import os, tempfile, numpy as np, xact
    >>> model = xact.Sequential([xact.Dense(2, 3, seed=0), xact.Softmax()])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> model.save(path)
    >>> restored = xact.load(path)
    >>> bool(np.array_equal(restored.predict(np.ones((1, 2))),
    ...                     model.predict(np.ones((1, 2)))))
    True
    """
    safetensors = _model_file.safetensors()
    fspath = os.fspath(path)
    with safetensors.safe_open(fspath, framework="np") as handle:
        metadata = handle.metadata() or {}
    if "xact" not in metadata:
        raise ValueError(
            f"xact.load: {fspath} is not an xact model file (no 'xact' metadata)"
        )
    architecture = json.loads(metadata["xact"])
    FORMAT, VERSION = _model_file.FORMAT, _model_file.VERSION
    if architecture.get("format") != FORMAT or architecture.get("version") != VERSION:
        raise ValueError(
            f"xact.load: {fspath} holds format {architecture.get('format')!r} "
            f"version {architecture.get('version')!r}; this xact reads {FORMAT} "
            f"version {VERSION}"
        )
    layers = []
    for spec in architecture["layers"]:
        cls = _model_file.CLASSES.get(spec["class"])
        if cls is None:
            raise ValueError(f"xact.load: unknown layer class {spec['class']!r}")
        layers.append(cls(**spec["config"]))
    model = Sequential(layers)
    model.load_state_dict(safetensors.numpy.load_file(fspath))
    if xp is not None or device is not None or dtype is not None:
        model.to(xp=xp, device=device, dtype=dtype)
    return model


__dir__ = public_names(__all__)
