"""Running the CUDA kernels (:mod:`xact._run.kernels.cuda`) on CuPy arrays
and PyTorch CUDA tensors: one launch per call, on the array's device and
the library's current stream, with no host synchronisation.

A CuPy array runs on CuPy's current stream. A tensor's output is allocated
by PyTorch (its caching allocator, so CUDA graph capture sees no foreign
allocation), and the kernel is given the two data pointers and launched on
PyTorch's current stream: no DLPack exchange, whose stream handshake would
record an event between the two libraries' streams on every call. Float16
and bfloat16 pass as 16-bit patterns.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from .kernels import cuda as _cuda
from .kernels.table import MAX_ARGUMENTS

__all__ = [
    "cupy_rows",
    "cupy_run",
    "ready",
    "status",
    "torch_rows",
    "torch_run",
    "usable_on",
]

Array = Any


@lru_cache(maxsize=1)
def _probe() -> str:
    """'' where CuPy and NVRTC load, else why not."""
    try:
        import cupy  # noqa: F401
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception as error:  # no CuPy, no NVRTC library
        return f"{type(error).__name__}: {error}"
    return ""


def ready() -> bool:
    """Whether CuPy and NVRTC, which compile and load the kernels, are here."""
    return not _probe()


def usable_on(x: Array) -> bool:
    """Whether the kernels run on the CUDA device of CuPy array or tensor
    ``x``: CuPy and NVRTC are here, and the kernels compiled and loaded on
    that device (the first call tries, once; a failure, such as an NVRTC
    older than the device, warns and leaves the generic path to run)."""
    if not ready():
        return False
    device = x.device
    index = device.id if hasattr(device, "id") else device.index
    if index is None:  # a torch.device("cuda") without an index
        import torch

        index = torch.cuda.current_device()
    return _loaded(int(index))


@lru_cache(maxsize=16)
def _loaded(device_id: int) -> bool:
    try:
        _cuda.module(device_id)
    except Exception as error:  # NVRTC, the driver or the cache said no
        warnings.warn(
            f"xact: the CUDA kernels could not be loaded on device {device_id} "
            f"({type(error).__name__}: {error}); the generic path runs there",
            RuntimeWarning,
            stacklevel=4,
        )
        return False
    return True


def status() -> str:
    """One line for ``xact info``."""
    reason = _probe()
    if reason:
        return f"not available ({reason}); CuPy and CUDA tensors take the generic path"
    from cupy_backends.cuda.libs import nvrtc

    major, minor = nvrtc.getVersion()
    return f"NVRTC {major}.{minor}, {sum(1 for _ in _cuda.kernel_names())} kernels"


def _arguments(numbers: tuple[float, ...]) -> tuple[np.float64, ...]:
    """A kernel's arguments as its CUDA function takes them: every one of
    the XACT_MAX_ARGUMENTS doubles, the unused ones zero."""
    padded = (*numbers, *(0.0,) * (MAX_ARGUMENTS - len(numbers)))
    return tuple(np.float64(p) for p in padded)


def cupy_run(function: str, params: tuple[float, ...], *arrays: Array) -> Array:
    """CUDA function ``function`` over CuPy arrays of one shape and dtype:
    ``x`` (value) or ``x, d`` (vector-Jacobian product); a new array."""
    import cupy

    with arrays[0].device:  # allocate, and find the stream, on x's device
        sources = [_contiguous(a) for a in arrays]
        out = cupy.empty(sources[0].shape, dtype=sources[0].dtype)
        n = out.size
        if n:
            views = [_as_bits(a) for a in (*sources, out)]
            _cuda.launch(
                out.device.id,
                function,
                n,
                (*views, np.int64(n), *_arguments(params)),
                cupy.cuda.get_current_stream(),
            )
    return out


def cupy_rows(function: str, x: Array, mask: Array | None) -> Array:
    """Row kernel ``function`` along the last axis of a float32 or float64 CuPy array
    (``mask``: booleans that broadcast to it, or None)."""
    import cupy

    with x.device:  # allocate, and find the stream, on x's device
        source = _contiguous(x)
        where = None
        if mask is not None:
            where = _contiguous(cupy.broadcast_to(mask, x.shape)).view(cupy.uint8)
        out = cupy.empty(source.shape, dtype=source.dtype)
        n = source.shape[-1]
        rows = source.size // n if n else 0
        if rows:
            _cuda.launch_rows(
                out.device.id,
                function,
                rows,
                (
                    source,
                    np.uint64(0) if where is None else where,
                    out,
                    np.int64(n),
                    np.int64(rows),
                ),
                cupy.cuda.get_current_stream(),
            )
    return out


def torch_rows(function: str, x: Array, mask: Array | None) -> Array:
    """Row kernel ``function`` along the last axis of a float32 or float64 CUDA tensor,
    on PyTorch's current stream (no autograd)."""
    import torch

    source = x.detach().contiguous()
    where = None
    if mask is not None:
        where = mask.to(torch.bool).broadcast_to(x.shape).contiguous()
    out = torch.empty_like(source, memory_format=torch.contiguous_format)
    n = source.shape[-1]
    rows = source.numel() // n if n else 0
    if rows:
        device = out.device
        pointer = np.uint64(0 if where is None else where.data_ptr())
        _cuda.launch_rows(
            _index(device),
            function,
            rows,
            (
                np.uint64(source.data_ptr()),
                pointer,
                np.uint64(out.data_ptr()),
                np.int64(n),
                np.int64(rows),
            ),
            _cupy_stream(torch.cuda.current_stream(device)),
        )
    return out


def _index(device: Any) -> int:
    import torch

    return device.index if device.index is not None else torch.cuda.current_device()


def _contiguous(x: Array) -> Array:
    # cupy.ascontiguousarray would make a 0-d array 1-d
    return x if x.flags.c_contiguous else x.copy(order="C")


def _as_bits(x: Array) -> Array:
    return x.view(np.uint16) if x.dtype == np.float16 else x


def torch_run(function: str, params: tuple[float, ...], *tensors: Array) -> Array:
    """CUDA function ``function`` over PyTorch CUDA tensors of one shape and
    dtype, on PyTorch's current stream; a new tensor (no autograd)."""
    import torch

    sources = [t.detach().contiguous() for t in tensors]
    out = torch.empty_like(sources[0], memory_format=torch.contiguous_format)
    n = out.numel()
    if n:
        device = out.device
        pointers = [np.uint64(t.data_ptr()) for t in (*sources, out)]
        _cuda.launch(
            _index(device),
            function,
            n,
            (*pointers, np.int64(n), *_arguments(params)),
            _cupy_stream(torch.cuda.current_stream(device)),
        )
    return out


def _cupy_stream(stream: Any) -> Any:
    """PyTorch's stream as a CuPy stream (``Stream.from_external``; the
    deprecated ``ExternalStream`` where the stream lacks the protocol)."""
    key = (stream.cuda_stream, stream.device_index)
    wrapped = _STREAMS.get(key)
    if wrapped is None:
        import cupy

        try:
            wrapped = cupy.cuda.Stream.from_external(stream)
        except (AttributeError, TypeError):  # a torch without __cuda_stream__
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                wrapped = cupy.cuda.ExternalStream(*key)
        _STREAMS[key] = wrapped
    return wrapped


# (stream handle, device) -> the CuPy stream that wraps it
_STREAMS: dict[tuple[int, int], Any] = {}
