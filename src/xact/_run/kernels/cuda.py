"""xact's CUDA kernels: ``cuda.cu`` around the generated ``kernels.h``,
compiled by NVRTC with options xact sets, cached on disk and loaded by CuPy.

NVRTC compiles without a GPU (CuPy's own ``RawModule(code=...)`` asks for a
device, and appends ``-ftz=true``, under which even the float32-float64
conversions flush subnormals): :func:`compile_cubin` calls NVRTC itself, in
CI and at run time alike. The image is cached per source, options, NVRTC
version and architecture, under ``XACT_CACHE_DIR`` or CuPy's cache folder,
and loaded with ``RawModule(path=...)``, which adds no options.

Kernel names: each kernel of :mod:`.table` with its element type,
``gelu_value_f32``, ``tanh_vjp_f64`` (the kernels proven in float64),
``silu_value_f16`` and ``silu_value_bf16`` (16-bit patterns), and the
softmax family's row kernels, ``softmax_masked_row_f32`` and
``log_softmax_row64_f64``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .table import ROWS, Kernel, Row, listed

__all__ = [
    "DEFAULT_ARCHITECTURES",
    "OPTIONS",
    "CudaKernel",
    "KernelCompileError",
    "compile_cubin",
    "cubin_path",
    "kernel_names",
    "source",
]

# IEEE rounding and subnormals, as on the CPU; no contraction into fma, so
# every architecture rounds alike
OPTIONS = (
    "-std=c++17",
    "-ftz=false",
    "-prec-div=true",
    "-prec-sqrt=true",
    "--fmad=false",
)
DEFAULT_ARCHITECTURES = ("sm_80", "sm_90")

_HERE = Path(__file__).parent

# (direction, element type): every family of CUDA kernels
_FAMILIES = (
    ("value", "float32"),
    ("vjp", "float32"),
    ("value", "float64"),
    ("vjp", "float64"),
    ("value", "float16"),
    ("value", "bfloat16"),
)
_SUFFIX = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}


class KernelCompileError(RuntimeError):
    """NVRTC refused the kernels (its log is the message)."""


def source() -> str:
    """The CUDA source NVRTC compiles: ``cuda.cu`` with ``kernels.h`` and
    ``halves.h`` in place of their includes (no headers to pass along)."""
    text = (_HERE / "cuda.cu").read_text()
    for header in ("kernels.h", "halves.h"):
        text = text.replace(f'#include "{header}"', (_HERE / header).read_text())
    return text


@dataclass(frozen=True)
class CudaKernel:
    name: str  # the CUDA function
    function: str  # the activation
    kind: str  # "value", "vjp" or "rows" (the softmax family)
    dtype: str  # the element type


def kernel_names() -> Iterator[CudaKernel]:
    """Every kernel the CUDA source defines."""
    for direction, dtype in _FAMILIES:
        for kernel in listed(direction, dtype == "float64"):
            yield CudaKernel(
                cuda_name(kernel, dtype), kernel.function, direction, dtype
            )
    for row in ROWS:
        dtype = "float64" if row.float64 else "float32"
        name = cuda_row_name(row.function, row.masked, row.float64)
        yield CudaKernel(name, row.function, "rows", dtype)


def cuda_name(kernel: Kernel, dtype: str) -> str:
    """The CUDA function of ``kernel`` for elements of ``dtype``."""
    return f"{kernel.name}_{_SUFFIX[dtype]}"


def cuda_row_name(function: str, masked: bool, float64: bool = False) -> str:
    """The CUDA row kernel of the softmax family's ``function``."""
    return f"{Row(function, masked, float64).name}_{'f64' if float64 else 'f32'}"


def _nvrtc() -> Any:
    from cupy_backends.cuda.libs import nvrtc

    return nvrtc


def compile_cubin(arch: str) -> bytes:
    """Every kernel compiled for ``arch`` (``sm_90``): a CUDA binary image.
    Needs NVRTC (the ``nvidia-cuda-nvrtc`` wheel with CuPy), not a GPU."""
    nvrtc = _nvrtc()
    program = nvrtc.createProgram(source(), "xact.cu", [], [])
    names = [kernel.name for kernel in kernel_names()]
    try:
        for name in names:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, [*OPTIONS, f"-arch={arch}"])
            for name in names:  # every kernel of the table is in the image
                nvrtc.getLoweredName(program, name)
        except nvrtc.NVRTCError as error:
            log = nvrtc.getProgramLog(program)
            raise KernelCompileError(
                f"xact: NVRTC could not compile the kernels for {arch}: {error}\n{log}"
            ) from None
        return bytes(nvrtc.getCUBIN(program))
    finally:
        nvrtc.destroyProgram(program)


def cache_dir() -> Path:
    """``XACT_CACHE_DIR``, else CuPy's kernel cache folder."""
    folder = os.environ.get("XACT_CACHE_DIR") or os.environ.get("CUPY_CACHE_DIR")
    return Path(folder or Path.home() / ".cupy" / "kernel_cache")


def cubin_path(arch: str) -> Path:
    """Where the image for ``arch`` is cached: named for the source, the
    options, NVRTC's version and the architecture."""
    digest = hashlib.sha256()
    for part in (source(), *OPTIONS, str(_nvrtc().getVersion()), arch):
        digest.update(part.encode() + b"\0")
    return cache_dir() / f"xact-{digest.hexdigest()[:24]}-{arch}.cubin"


_LOCK = threading.Lock()


def cached_cubin(arch: str) -> Path:
    """The cached image for ``arch``, compiled and written (atomically) the
    first time."""
    path = cubin_path(arch)
    with _LOCK:
        if not path.exists():
            image = compile_cubin(arch)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(image)
            os.replace(partial, path)
    return path


@lru_cache(maxsize=16)
def module(device_id: int) -> Any:
    """The kernels loaded on a CUDA device (CuPy's ``RawModule``)."""
    import cupy

    with cupy.cuda.Device(device_id) as device:
        arch = f"sm_{device.compute_capability}"
        return cupy.RawModule(path=str(cached_cubin(arch)))


THREADS = 256


def launch(
    device_id: int, name: str, n: int, args: tuple[Any, ...], stream: Any
) -> None:
    """Run CUDA function ``name`` over ``n`` elements on ``stream`` (a grid
    of at most 64 blocks per multiprocessor; each thread strides on)."""
    blocks = min((n + THREADS - 1) // THREADS, 64 * _multiprocessors(device_id))
    _launch(device_id, name, blocks, args, stream)


def launch_rows(
    device_id: int, name: str, rows: int, args: tuple[Any, ...], stream: Any
) -> None:
    """Run row kernel ``name``: a block a row, at most 64 blocks per
    multiprocessor (each block strides on over the rows)."""
    _launch(device_id, name, min(rows, 64 * _multiprocessors(device_id)), args, stream)


def _launch(
    device_id: int, name: str, blocks: int, args: tuple[Any, ...], stream: Any
) -> None:
    import cupy

    with cupy.cuda.Device(device_id):  # the module is loaded on this device
        function = _function(device_id, name)
        function((max(blocks, 1),), (THREADS,), args, stream=stream)


@lru_cache(maxsize=1024)
def _function(device_id: int, name: str) -> Any:
    return module(device_id).get_function(name)


@lru_cache(maxsize=16)
def _multiprocessors(device_id: int) -> int:
    import cupy

    return int(cupy.cuda.Device(device_id).attributes["MultiProcessorCount"])
