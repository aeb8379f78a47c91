"""The backend matrix: an ``xp`` fixture over every array library.

Modelled on array-api-extra's tests/main/conftest.py. Backends that cannot run
here are skipped with their reason (``pytest -rs``). ``XACT_BACKENDS=numpy,torch``
narrows the set, and a backend named there must import and run, or the whole
session fails: CI never goes green by silently skipping a backend it asked for.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache, wraps
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from array_api_extra.testing import patch_lazy_xp_functions

import xact
from oracle import Case, cases
from xact._namespace import asarray_as, to_host
from xact._registry import ACTIVATIONS
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
    # the libraries with fast paths, with them switched off: the numerical
    # modules that set ``ON_THE_GENERIC_PATH_TOO = True`` run here too
    NUMPY_GENERIC = "numpy:generic"
    TORCH_GENERIC = "torch:generic"
    JAX_GENERIC = "jax:generic"

    @property
    def library(self) -> str:
        return self.value.split(":")[0]

    @property
    def generic(self) -> bool:
        """Whether this variant runs with xact's fast paths switched off."""
        return self.value.endswith(":generic")

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

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per worker: PyTorch's OpenMP threads spinning against the
    # other worker made one training test take 95 s instead of 1 s
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# JAX compiles every call under jit: identical programs (the same function,
# shape and dtype in another test or worker) compile once per run
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


def _selected(backend: Backend) -> bool:
    if REQUESTED is None:
        return True
    return backend.value in REQUESTED or backend.library in REQUESTED


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "skip_xp_backend(backend, *, reason): skip a test on one backend"
    )
    config.addinivalue_line(
        "markers",
        "exhaustive: the full tier, beyond the default run's budget "
        "(XACT_FULL=1 bash ci/test.sh, or pytest -m exhaustive)",
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every array test on every backend; the generic-path variants only in
    the modules that ask for them."""
    generic_too = getattr(metafunc.module, "ON_THE_GENERIC_PATH_TOO", False)
    parametrized_here = any(
        "library" in str(marker.args[0])
        for marker in metafunc.definition.iter_markers("parametrize")
    )
    if "library" not in metafunc.fixturenames or parametrized_here:
        if generic_too:
            metafunc.parametrize("xact_path", ["fast", "generic"], indirect=True)
        return
    backends = [b for b in Backend if generic_too or not b.generic]
    metafunc.parametrize(
        "library",
        [pytest.param(b, id=b.value) for b in backends],
        indirect=True,
        scope="function",
    )


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
FULL_TIER_LEFT_OUT: dict[str, int] = {}


@dataclass(frozen=True)
class Sample:
    """What the default run checks on a backend where calls are dear (the
    rest is the full tier, marker ``exhaustive``): of the accuracy tests'
    cases (by ``case``), each function's first ``settings`` (its defaults,
    then its grid; None: all); of the other parametrized checks (by function,
    dtype, axis, ...), one in ``share``, picked by a stable hash of the test
    and its parameters (a module that sets ``NOT_SAMPLED`` runs whole). The
    accuracy tests keep every function, dtype and branch there; the other
    backends run everything."""

    settings: int | None
    share: int


SAMPLES = {
    # each operation a task: a call costs by the operation (gelu: seconds)
    Backend.DASK: Sample(settings=2, share=4),
    Backend.CUBED: Sample(settings=1, share=8),
    # every call compiles under jax.jit
    Backend.JAX: Sample(settings=None, share=2),
    Backend.JAX_X32: Sample(settings=2, share=4),
    Backend.JAX_GENERIC: Sample(settings=2, share=4),
}


# every elementwise activation of the registry, at its defaults and off them
ELEMENTWISE_CASES = cases({e.name: e.defaults for e in ACTIVATIONS if not e.along_axis})


@cache
def first_settings(count: int) -> frozenset[Case]:
    """Each function's first `count` cases: its defaults, then its grid."""
    chosen: dict[str, list[Case]] = {}
    for case in ELEMENTWISE_CASES:
        chosen.setdefault(case.name, []).append(case)
    return frozenset(c for group in chosen.values() for c in group[:count])


def case_params(all_cases: list[Case], settings: int = 2) -> list[Any]:
    """``pytest.param`` per case for a test without a backend whose calls are
    dear: the first `settings` of each function in the default run, the rest
    marked ``exhaustive``."""
    keep = first_settings(settings)
    return [
        pytest.param(c, id=c.id, marks=() if c in keep else pytest.mark.exhaustive)
        for c in all_cases
    ]


def _full_tier_only(item: pytest.Item) -> bool:
    """Whether the default run leaves this item to the full tier."""
    params = getattr(item, "callspec", None) and item.callspec.params
    sample = params and SAMPLES.get(params.get("library"))
    if not sample or getattr(item.module, "NOT_SAMPLED", False):
        return False
    case = params.get("case")
    if isinstance(case, Case):
        return sample.settings is not None and case not in first_settings(
            sample.settings
        )
    if set(params) - {"library"}:  # a check parametrized beyond the backend
        key = f"{getattr(item, 'originalname', item.name)}:{item.callspec.id}"
        return zlib.crc32(key.encode()) % sample.share != 0
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Backends that cannot run here are left out with one line each in the
    summary (not a skip line per test: ``pytest -rs`` stays readable); the
    checks beyond a backend's sample (SAMPLES) are marked ``exhaustive``."""
    kept, left_out = [], []
    for item in items:
        if _full_tier_only(item):
            item.add_marker(pytest.mark.exhaustive)
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


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("exhaustive") is not None:
            callspec = getattr(item, "callspec", None)  # none: not parametrized
            backend = callspec.params.get("library") if callspec else None
            where = backend.value if isinstance(backend, Backend) else ""
            FULL_TIER_LEFT_OUT[where] = FULL_TIER_LEFT_OUT.get(where, 0) + 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist the workers collect: each hands its left-out counts
    to the controller, which prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["xact_not_run"] = json.dumps([NOT_RUN, FULL_TIER_LEFT_OUT])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's hook in the controller: every worker collects the same
    items, so the first report of each backend is the count."""
    report = getattr(node, "workeroutput", {}).get("xact_not_run")
    not_run, full_tier = json.loads(report or "[{}, {}]")
    for name, (reason, count) in not_run.items():
        NOT_RUN.setdefault(name, (reason, count))
    for name, count in full_tier.items():
        FULL_TIER_LEFT_OUT.setdefault(name, count)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name, (reason, count) in NOT_RUN.items():
        terminalreporter.write_line(f"xact: {count} tests not run on {name}: {reason}")
    for name, count in FULL_TIER_LEFT_OUT.items():
        where = f" on {name}" if name else " (tests without a backend)"
        terminalreporter.write_line(
            f"xact: {count} tests of the full tier not run{where} "
            "(XACT_FULL=1 bash ci/test.sh runs them)"
        )


@pytest.fixture(autouse=True)
def xact_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "generic" (xact's fast paths off) on a ``:generic`` backend and for the
    "generic" parameter of a test without a backend; else "fast" (as set)."""
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("library") if callspec else None
    on_generic_backend = isinstance(backend, Backend) and backend.generic
    path = "generic" if on_generic_backend else getattr(request, "param", "fast")
    previous = xact.use_fast_paths(False) if path == "generic" else None
    try:
        yield path
    finally:
        if previous is not None:
            xact.use_fast_paths(previous)


@pytest.fixture
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
