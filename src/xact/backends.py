"""Backend discovery: which array libraries are importable and usable here.

Nothing is imported until :func:`available` is called; CuPy counts as usable
only with a CUDA device present.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import metadata

from ._public import public_names

__all__ = ["BACKENDS", "Backend", "available", "probe", "select"]

BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "dask", "cubed", "cupy")

_MODULES = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "jax": "jax.numpy",
    "dask": "dask.array",
    "cubed": "cubed",
    "cupy": "cupy",
}
_DISTRIBUTIONS = {
    "numpy": "numpy",
    "array_api_strict": "array-api-strict",
    "torch": "torch",
    "jax": "jax",
    "dask": "dask",
    "cubed": "cubed",
    "cupy": "cupy",
}


@dataclass(frozen=True)
class Backend:
    """What is known of one backend on this machine."""

    name: str
    module: str
    usable: bool
    version: str | None = None
    devices: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""


def _version(name: str) -> str | None:
    candidates = [_DISTRIBUTIONS[name]]
    if name == "cupy":
        candidates += ["cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x"]
    for distribution in candidates:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _devices(name: str, module: object) -> tuple[str, ...]:
    if name == "cupy":
        count = module.cuda.runtime.getDeviceCount()  # type: ignore[attr-defined]
        if count < 1:
            raise RuntimeError("no CUDA device")
        module.zeros(1) + 1  # type: ignore[attr-defined]  # a real kernel launch
        return tuple(f"cuda:{i}" for i in range(count))
    if name == "torch":
        devices = ["cpu"]
        if module.cuda.is_available():  # type: ignore[attr-defined]
            devices += [f"cuda:{i}" for i in range(module.cuda.device_count())]  # type: ignore[attr-defined]
        return tuple(devices)
    if name == "jax":
        import jax

        return tuple(str(d) for d in jax.devices())
    if name == "array_api_strict":
        info = module.__array_namespace_info__()  # type: ignore[attr-defined]
        return tuple(str(d) for d in info.devices())
    return ("cpu",)


def probe(name: str) -> Backend:
    """Import backend `name` and check that it can run an array operation."""
    if name not in _MODULES:
        raise ValueError(
            f"xact.backends: unknown backend {name!r}; known: {', '.join(BACKENDS)}"
        )
    module_name = _MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or a broken install
        return Backend(
            name, module_name, False, _version(name), (), f"not importable: {error}"
        )
    try:
        devices = _devices(name, module)
    except Exception as error:
        reason = "no CUDA device" if name == "cupy" else f"cannot run: {error}"
        return Backend(name, module_name, False, _version(name), (), reason)
    return Backend(name, module_name, True, _version(name), devices)


def available() -> dict[str, Backend]:
    """Every known backend, probed, in a fixed order."""
    return {name: probe(name) for name in BACKENDS}


def select(name: str | None = None, *, enable_x64: bool = False) -> tuple[str, object]:
    """The backend to run on and its module (``numpy``, ``cupy``, ``torch``...).

    `name`, else the ``XACT_BACKEND`` environment variable, else CuPy when a
    CUDA device is usable, else NumPy. Raises ``ValueError`` for an unknown or
    unusable backend.

    Nothing global changes unless asked: ``enable_x64=True`` on JAX turns on
    ``jax_enable_x64`` for the whole process (JAX's own switch; off, JAX
    arrays are float32 at most). The command line asks for it.
    """
    import os

    choice = name or os.environ.get("XACT_BACKEND") or None
    if choice is None:
        choice = "cupy" if probe("cupy").usable else "numpy"
    status = probe(choice)  # ValueError for an unknown name
    if not status.usable:
        raise ValueError(
            f"xact.backends: backend {choice} is not usable here: {status.reason}"
        )
    if choice == "jax" and enable_x64:
        import jax

        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    return choice, importlib.import_module(_MODULES[choice])


__dir__ = public_names(__all__)
