"""Saving and loading models in the safetensors format.

A file holds the parameters as named tensors (``"0.weights"``, ``"0.biases"``,
... the keys of :meth:`Sequential.state_dict`) and, in its metadata, the
architecture: each layer's class and the options that rebuild it. Loading
reads arrays and JSON, never runs code (unlike pickle), and places the model
on whichever library, device and dtype you ask for, so a model trained on
CuPy loads onto NumPy and back with the same predictions.
"""

from __future__ import annotations

import os
from typing import Any

from . import _model_file
from ._public import public_names
from .model import Sequential

__all__ = ["load", "save"]


def save(model: Sequential, path: str | os.PathLike[str]) -> str:
    """Write ``model`` to ``path`` (see :meth:`Sequential.save`); the path
    written."""
    if not isinstance(model, Sequential):
        raise TypeError(f"xact.save: expected a Sequential, got {type(model).__name__}")
    return model.save(path)


def load(
    path: str | os.PathLike[str],
    *,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
    allow_nonfinite: bool = False,
) -> Sequential:
    """Read a model written by :meth:`Sequential.save`.

    Every part of the file is checked before a layer is built: the
    safetensors header, the architecture, and the tensors against it.

    Parameters
    ----------
    path : str or path-like
        ``.safetensors`` is added where the name has no suffix, as on saving.
    xp, device, dtype : optional
        Where to place the parameters (as :meth:`Sequential.to`); by default
        NumPy, in the dtype they were saved in.
    allow_nonfinite : bool
        Load parameters that hold NaN or infinity (refused by default: they
        are almost always a diverged run, and make every prediction NaN).

    Raises
    ------
    ValueError
        For any file that is not a whole, consistent xact model file, naming
        the path and what is wrong (before allocating more than the file's
        own tensors).
    FileNotFoundError, PermissionError
        As ``open`` raises them.

    Examples
    --------
    >>> import os, tempfile, numpy as np, xact
    >>> model = xact.Sequential([xact.Dense(2, 3, seed=0), xact.Softmax()])
    >>> path = model.save(os.path.join(tempfile.mkdtemp(), "model"))
    >>> os.path.basename(path)
    'model.safetensors'
    >>> restored = xact.load(path)
    >>> bool(np.array_equal(restored.predict(np.ones((1, 2))),
    ...                     model.predict(np.ones((1, 2)))))
    True
    """
    model = Sequential(_model_file.read(path, allow_nonfinite=allow_nonfinite))
    if xp is not None or device is not None or dtype is not None:
        model.to(xp=xp, device=device, dtype=dtype)
    return model


__dir__ = public_names(__all__)
