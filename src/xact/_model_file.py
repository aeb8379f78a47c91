"""The model file format: safetensors, the parameters as tensors and the
architecture as JSON in the metadata. Written by :meth:`Sequential.save`,
read by :func:`xact.load` (:mod:`xact.saving`); it knows the layer classes,
not the model, so that neither of those modules imports the other's user.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ._namespace import to_host
from .dense import Dense
from .layers import LAYERS

__all__ = ["CLASSES", "FORMAT", "VERSION", "safetensors", "write"]

FORMAT = "xact.Sequential"
VERSION = 1
CLASSES: dict[str, Any] = {"Dense": Dense, **LAYERS}


def safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise ImportError(
            "xact: saving and loading models needs safetensors "
            "(pip install safetensors)"
        ) from error
    return safetensors


def write(
    layers: list[Any], state: dict[str, Any], path: str | os.PathLike[str]
) -> None:
    """Write the ``layers`` (xact layers, rebuilt from their class and
    config) and their parameters ``state`` to ``path``."""
    described = []
    for index, layer in enumerate(layers):
        name = type(layer).__name__
        if CLASSES.get(name) is not type(layer):
            raise TypeError(
                f"xact.Sequential.save: layer {index} ({name}) is not an xact "
                f"layer, so the file could not rebuild it"
            )
        described.append({"class": name, "config": layer.config()})
    architecture = {"format": FORMAT, "version": VERSION, "layers": described}
    tensors = {
        key: np.ascontiguousarray(to_host(value)) for key, value in state.items()
    }
    safetensors().numpy.save_file(
        tensors, os.fspath(path), metadata={"xact": json.dumps(architecture)}
    )
