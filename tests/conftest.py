"""The backend matrix: an ``xp`` fixture over every array library.

Modelled on array-api-extra's tests/main/conftest.py. Backends that cannot run
here are skipped with their reason (``pytest -rs``). ``XACT_BACKENDS=numpy,torch``
narrows the set, and a backend named there must import and run, or the whole
session fails: CI never goes green by silently skipping a backend it asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from enum import Enum
from functools import cache, wraps
from typing import Any

import numpy as np
import pytest
from array_api_extra.testing import patch_lazy_xp_functions

import xact
from xact._namespace import asarray_as, to_host
from xact.backends import probe


class Backend(Enum):
    """Backends in the matrix; the value is ``<xact backend>[:<variant>]``."""

    NUMPY = "numpy"
    NUMPY_READONLY = "numpy:readonly"
    ARRAY_API_STRICT = "array_api_strict"
    ARRAY_API_STRICT_DEVICE1 = "array_api_strict:device1"
    ARRAY_API_STRICT_NO_FLOAT64 = "array_api_strict:no_float64"
    TORCH = "torch"
    TORCH_CUDA = "torch:cuda"
    JAX = "jax"
    JAX_X32 = "jax:x32"
    DASK = "dask"
    CUBED = "cubed"
    CUPY = "cupy"

    @property
    def library(self) -> str:
        return self.value.split(":")[0]

    @property
    def has_float64(self) -> bool:
        """Whether the backend's test device has float64 (JAX with x64 off and
        array-api-strict's no_float64 device do not)."""
        return self not in (Backend.JAX_X32, Backend.ARRAY_API_STRICT_NO_FLOAT64)


def _requested() -> set[str] | None:
    raw = os.environ.get("XACT_BACKENDS", "").strip()
    if not raw:
        return None
    names = {part.strip() for part in raw.split(",") if part.strip()}
    known = {b.value for b in Backend} | {b.library for b in Backend}
    unknown = names - known
    if unknown:
        raise pytest.UsageError(
            f"XACT_BACKENDS names unknown backends {sorted(unknown)}; "
            f"known: {sorted(known)}"
        )
    return names


REQUESTED = _requested()


def _selected(backend: Backend) -> bool:
    if REQUESTED is None:
        return True
    return backend.value in REQUESTED or backend.library in REQUESTED


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "skip_xp_backend(backend, *, reason): skip a test on one backend"
    )
    if REQUESTED is None:
        return
    # A backend CI asks for must import and run.
    broken = []
    for library in sorted({b.library for b in Backend if _selected(b)}):
        status = probe(library)
        if not status.usable:
            broken.append(f"{library}: {status.reason}")
    torch_cuda_asked = "torch:cuda" in REQUESTED
    if torch_cuda_asked and not probe("torch").devices[1:]:
        broken.append("torch:cuda: no CUDA device")
    if broken:
        raise pytest.UsageError(
            "XACT_BACKENDS asks for backends that cannot run here: " + "; ".join(broken)
        )


class NumPyReadOnly:
    """array_api_compat.numpy whose created arrays are read-only.

    Any write into an input (``x[...] = ``, ``x += ``) raises, which catches a
    function that mutates what it was given.
    """

    def __init__(self) -> None:
        import array_api_compat.numpy as np_compat

        self._np = np_compat

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._np, name)
        if not callable(attribute) or isinstance(attribute, type):
            return attribute
        return self._readonly(attribute)

    @staticmethod
    def _readonly(function: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if isinstance(result, np.ndarray):
                result.flags.writeable = False
            return result

        return wrapper


def _torch_has_cuda() -> bool:
    status = probe("torch")
    return status.usable and any(d.startswith("cuda") for d in status.devices)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for name, status in xact.backends.available().items():
        state = (
            f"usable on {', '.join(status.devices)}" if status.usable else status.reason
        )
        lines.append(f"xact backend {name} {status.version or ''}: {state}")
    return lines


def _params() -> list[Any]:
    return [pytest.param(backend, id=backend.value) for backend in Backend]


@cache
def _why_not_here(backend: Backend) -> str | None:
    """Why the tests of ``backend`` cannot run on this machine (None: they can)."""
    if not _selected(backend):
        return "not in XACT_BACKENDS"
    status = probe(backend.library)
    if not status.usable:
        return status.reason
    if backend == Backend.TORCH_CUDA and not _torch_has_cuda():
        return "no CUDA device"
    return None


NOT_RUN: dict[str, tuple[str, int]] = {}


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Backends that cannot run here are left out with one line each in the
    summary (not a skip line per test: ``pytest -rs`` stays readable)."""
    kept, left_out = [], []
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get(
            "library"
        )
        reason = _why_not_here(backend) if isinstance(backend, Backend) else None
        if reason is None:
            kept.append(item)
            continue
        left_out.append(item)
        _, count = NOT_RUN.get(backend.value, (reason, 0))
        NOT_RUN[backend.value] = (reason, count + 1)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name, (reason, count) in NOT_RUN.items():
        terminalreporter.write_line(f"xact: {count} tests not run on {name}: {reason}")


@pytest.fixture(params=_params())
def library(request: pytest.FixtureRequest) -> Backend:
    """The current backend, after the test's ``skip_xp_backend`` markers."""
    backend: Backend = request.param
    for marker in request.node.iter_markers("skip_xp_backend"):
        (target,) = marker.args
        if not isinstance(target, Backend):
            raise TypeError("skip_xp_backend takes a Backend")
        if set(marker.kwargs) != {"reason"}:
            raise TypeError("skip_xp_backend needs exactly a reason=")
        if target == backend or (target.value == backend.library):
            pytest.skip(f"{backend.value}: {marker.kwargs['reason']}")
    return backend


@pytest.fixture
def xp(library: Backend, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The array namespace of the current backend (array-api-compat wrapped).

    On JAX (float64 enabled, or off for ``jax:x32``, JAX's default) every
    function tagged in the test module runs under ``jax.jit``; on Dask it must
    not compute.
    """
    import array_api_compat

    if library == Backend.NUMPY_READONLY:
        yield NumPyReadOnly()
        return
    if library.library == "array_api_strict":
        import array_api_strict

        array_api_strict.set_array_api_strict_flags(api_version="2024.12")
        namespace = array_api_strict
    elif library.library == "jax":
        import jax

        jax.config.update("jax_enable_x64", library != Backend.JAX_X32)
        import jax.numpy as namespace  # type: ignore[no-redef]
    elif library.library == "torch":
        import torch

        torch.set_default_dtype(torch.float32)
        namespace = array_api_compat.array_namespace(torch.empty(0))
    elif library.library == "dask":
        import dask.array

        namespace = array_api_compat.array_namespace(dask.array.empty(0))
    elif library.library == "cubed":
        import cubed

        namespace = cubed
    elif library.library == "cupy":
        import cupy

        namespace = array_api_compat.array_namespace(cupy.empty(0))
    else:
        namespace = array_api_compat.array_namespace(np.empty(0))
    try:
        with patch_lazy_xp_functions(request, xp=namespace):
            yield namespace
    finally:
        if library == Backend.JAX_X32:
            import jax

            jax.config.update("jax_enable_x64", True)


@pytest.fixture
def device(library: Backend, xp: Any) -> Any:
    """The device test arrays are created on: a non-default one where possible
    (array-api-strict ``device1``), so a constant made on the default device
    shows up as a device mismatch."""
    if library == Backend.ARRAY_API_STRICT_DEVICE1:
        return xp.Device("device1")
    if library == Backend.ARRAY_API_STRICT_NO_FLOAT64:
        return xp.Device("no_float64")
    if library == Backend.TORCH_CUDA:
        return "cuda"
    return None


def dtype_or_skip(xp: Any, library: Backend, name: str) -> Any:
    """``xp.<name>``, or a skip where the test device does not have it."""
    if name == "float64" and not library.has_float64:
        pytest.skip(f"{library.value}: no float64 on this device")
    return getattr(xp, name)


@pytest.fixture
def float_dtypes(xp: Any, library: Backend) -> list[Any]:
    """The real floating dtypes of the test device: float32, float64 where
    the device has it, and the half types the library has."""
    dtypes = [xp.float32] + ([xp.float64] if library.has_float64 else [])
    names = ["float16"] if library.library != "array_api_strict" else []
    if library.library in ("torch", "jax"):
        names.append("bfloat16")
    return dtypes + [getattr(xp, n) for n in names if hasattr(xp, n)]


@pytest.fixture
def asarray(xp: Any, library: Backend, device: Any) -> Callable[..., Any]:
    """``asarray(values, dtype)`` on the test device of the current backend.

    The default dtype is float64; a test that needs it is skipped, with that
    reason, on a device without float64."""

    def make(values: Any, dtype: Any = None) -> Any:
        if dtype is None or (dtype == xp.float64 and not library.has_float64):
            dtype = dtype_or_skip(xp, library, "float64")
        values = np.array(values, copy=True)  # never share the caller's buffer
        return asarray_as(xp, values, dtype, device)

    return make


def to_numpy(x: Any) -> np.ndarray:
    """Host NumPy copy of an array of any backend (xact's own conversion)."""
    return to_host(x)


PUBLIC_FUNCTIONS = [*xact.names(), "logsumexp"]
