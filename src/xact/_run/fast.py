"""Fast paths: how each backend evaluates xact's one definition of the math.

The Array API implementation (:mod:`xact._math`) is the definition of every
function and the path for every library without an entry here. One route
per direction (:func:`value`, :func:`vjp`, :func:`rows`, :func:`rows_vjp`,
:func:`logsumexp_rows`) chooses, per call:

==========  =================================================================
backend     fast path
==========  =================================================================
kernels     NumPy arrays and PyTorch CPU tensors (CuPy arrays and CUDA
            tensors through NVRTC): the math recorded into C
            (:mod:`xact._run.kernels`), float32 and the half types through
            the wide formulas, float64 through the exact math itself; the
            softmax family and its backward by row kernels on any axis.
torch       autograd, torch.func and forward-mode AD through an autograd
            Function (xact's derivative); torch.compile through registered
            operators (:mod:`xact._run.torch_ops`); else chunked on the CPU.
dask/cubed  each NumPy chunk through the NumPy route (:mod:`.chunked`).
numpy       chunked: large arrays in chunks of ``CHUNK`` elements (the
            softmax family: blocks of rows) over a small thread pool, into
            one output buffer xact allocates, where no kernel serves.
jax         compiled: eager calls run the math under ``jax.jit``, compiled
            once per function, parameters and input type. Inside a caller's
            own ``jax.jit`` the math is traced as it is.
float32     widened: on a device with float64, a float32 input's value and
            derivative are computed in float64 by the plain formulas and
            rounded once (:mod:`xact._math.elementwise_wide`,
            :mod:`xact._math.derivatives_wide`).
==========  =================================================================

The chunked and compiled paths compute what the generic path computes, bit
for bit on NumPy (``tests/test_fast_paths.py``); the kernels and the
widened formulas are held to the same bounds against mpmath.

``XACT_FAST_PATHS=0`` in the environment, or :func:`use_fast_paths` with
``False``, switches them off, so the test suite runs both ways;
``XACT_NUM_THREADS`` sets the NumPy pool's size (default: the CPU count).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache, partial
from math import prod
from typing import Any

import numpy as np

from .._math import softmax as softmax_math
from .._math.catalogue import definition
from .._math.derivatives_wide import WIDE_SLOPES, plain_in_float64, wide_vjp
from .._math.elementwise_wide import WIDE_VALUES, WIDENED_ON_ARRAYS
from .._math.special import has_float64
from .._namespace import (
    Array,
    Namespace,
    array_device,
    finfo_of,
    in_compute_dtype,
    is_cupy,
    is_jax,
    is_numpy,
    is_torch,
    namespace_of_array,
    narrowed,
)
from . import chunked, torch_ops
from . import cuda as _cuda_run
from . import kernels as _kernels
from .kernels.cuda import cuda_name, cuda_row_name
from .kernels.table import find as find_kernel
from .kernels.table import find_row, find_row_vjp

__all__ = [
    "CHUNK",
    "FAST_PATHS",
    "LANE_TYPES",
    "backward_for",
    "compiled_rows",
    "compiled_rows_vjp",
    "compiled_value",
    "compiled_vjp",
    "evaluate",
    "evaluate_rows",
    "fast_paths_enabled",
    "generic_path",
    "lane",
    "rows_vjp",
    "use_fast_paths",
    "value",
    "values_for",
    "vjp",
    "widens",
]

FAST_PATHS = {
    "numpy": "kernels (float32, float64, float16), else chunked",
    "torch": "kernels (CPU; autograd, torch.func, torch.compile: xact's derivative)",
    "dask/cubed": "NumPy chunks through the NumPy path",
    "jax": "compiled",
    "float32": "widened to float64",
}
# elements per chunk: float64 temporaries of 128 KiB, a handful of which stay
# in a 1 MiB L2 cache (measured: 2-3x faster than 64K-element chunks for the
# widened float32 math, within noise for the rest)
CHUNK = 16384

_enabled = os.environ.get("XACT_FAST_PATHS", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)


def fast_paths_enabled() -> bool:
    """Whether the fast paths are on (they are unless switched off)."""
    return _enabled


def use_fast_paths(enabled: bool) -> bool:
    """Switch the fast paths on or off for the whole process; returns the
    previous setting. ``XACT_FAST_PATHS=0`` sets the initial one."""
    global _enabled
    previous, _enabled = _enabled, bool(enabled)
    return previous


@contextmanager
def generic_path() -> Iterator[None]:
    """A ``with`` block in which only the generic Array API path runs."""
    previous = use_fast_paths(False)
    try:
        yield
    finally:
        use_fast_paths(previous)


Math = Callable[..., Array]


def evaluate(
    xp: Namespace,
    math: Math,
    arrays: tuple[Array, ...],
    params: dict[str, Any],
    *,
    elementwise: bool = True,
) -> Array:
    """``math(xp, *arrays, **params)`` on the namespace's fast path when there
    is one. Only ``elementwise`` math (the arrays share one shape, each output
    element depends on the same input elements alone) is chunked."""
    if _enabled:
        if is_numpy(xp) and elementwise and arrays[0].size >= 2 * CHUNK:
            return _chunked(xp, math, arrays, params)
        if is_torch(xp) and elementwise and _torch_chunkable(arrays):
            return _chunked_torch(xp, math, arrays, params)
        if is_jax(xp) and not _is_tracer(arrays[0]):
            return _compiled(math, xp, tuple(sorted(params.items())))(*arrays)
    return math(xp, *arrays, **params)


# --- numpy: chunked, threaded ------------------------------------------------


# one pool per size asked for (XACT_NUM_THREADS may change: xact's --threads),
# each made once even when two threads ask at the same moment
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    size = _threads()
    pool = _POOLS.get(size)
    if pool is None:
        with _POOL_LOCK:
            pool = _POOLS.get(size)
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="xact")
                _POOLS[size] = pool
    return pool


def _threads() -> int:
    asked = getattr(_LOCAL, "threads", 0)
    if asked:
        return int(asked)
    return int(os.environ.get("XACT_NUM_THREADS", "0")) or os.cpu_count() or 1


_LOCAL = threading.local()


@contextmanager
def threads(count: int) -> Iterator[None]:
    """A ``with`` block in which xact's kernels on this thread use ``count``
    threads (PyTorch tensors: ``torch.get_num_threads()``)."""
    previous = getattr(_LOCAL, "threads", 0)
    _LOCAL.threads = max(1, count)
    try:
        yield
    finally:
        _LOCAL.threads = previous


def one_thread() -> Any:
    """A ``with`` block in which xact's NumPy work stays on the calling
    thread (a Dask or Cubed task: the engine runs a task per core)."""
    return threads(1)


def _forget_pools() -> None:
    """In a forked child (multiprocessing, data-loader workers), which has
    none of the parent's threads: new pools, and a lock no thread holds."""
    global _POOL_LOCK
    _POOLS.clear()
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _in_parallel(size: int, chunk: int, run: Callable[[int, int], None]) -> None:
    """``run(start, stop)`` over ``range(size)`` in pieces of ``chunk``: one
    contiguous share per thread, each walked chunk by chunk (a task per
    thread, not per chunk, keeps the pool's overhead out of the loop)."""
    share = -(-size // _threads())
    share = -(-share // chunk) * chunk

    def walk(first: int) -> None:
        last = min(first + share, size)
        for start in range(first, last, chunk):
            run(start, min(start + chunk, last))

    # the calling thread walks the first share itself: one hand-off fewer
    # (a pool thread takes tens of microseconds to wake)
    futures = [_pool().submit(walk, s) for s in range(share, size, share)]
    try:
        walk(0)
    finally:
        for future in futures:
            future.result()  # re-raises a worker's exception (or warning as error)


def _chunked(
    xp: Namespace, math: Math, arrays: tuple[Array, ...], params: dict[str, Any]
) -> Array:
    shape = arrays[0].shape
    flat = [np.reshape(a, -1) for a in arrays]  # views where contiguous
    out = np.empty(flat[0].size, dtype=flat[0].dtype)  # xact's own buffer

    def run(start: int, stop: int) -> None:
        out[start:stop] = math(xp, *(a[start:stop] for a in flat), **params)

    _in_parallel(out.size, CHUNK, run)
    return np.reshape(out, shape)


def evaluate_rows(
    xp: Namespace, math: Math, x: Array, mask: Array | None, axis: int
) -> Array:
    """``math(xp, x, axis, mask)`` for math along ``axis`` (the softmax
    family): compiled on JAX (eager calls), and chunked over blocks of rows of
    axis 0 when ``axis`` is not 0 (the rows are independent there), on NumPy
    over the thread pool, on PyTorch's CPU (without autograd) one block after
    another."""
    if _enabled and is_jax(xp) and not _is_tracer(x):
        params = (("axis", axis), ("math", math))
        return _compiled(_along_rows, xp, params)(x, mask)

    def function(rows: Array, part: Array | None) -> Array:
        return math(xp, rows, axis, part)

    torch_rows = is_torch(xp) and _torch_chunkable((x,) if mask is None else (x, mask))
    if not (_enabled and (is_numpy(xp) or torch_rows) and x.ndim >= 2 and axis != 0):
        return function(x, mask)
    chunk = 4 * CHUNK if torch_rows else CHUNK
    size = prod(x.shape)
    if size < 2 * chunk or x.shape[0] < 2:
        return function(x, mask)
    rows = max(1, chunk // (size // x.shape[0]))

    def block(start: int, stop: int) -> Array:
        part = None if mask is None else mask[start:stop]
        return function(x[start:stop], part)

    first = block(0, rows)
    out = xp.empty(
        (x.shape[0], *first.shape[1:]), dtype=first.dtype, device=array_device(x)
    )
    out[:rows] = first

    def run(start: int, stop: int) -> None:
        out[rows + start : rows + stop] = block(rows + start, rows + stop)

    if torch_rows:
        for start in range(0, x.shape[0] - rows, rows):
            run(start, min(start + rows, x.shape[0] - rows))
    else:
        _in_parallel(x.shape[0] - rows, rows, run)
    return out


def _along_rows(
    xp: Namespace, x: Array, mask: Array | None, *, axis: int, math: Math
) -> Array:
    return math(xp, x, axis, mask)


# --- torch: chunked on the CPU ----------------------------------------------


def _torch_chunkable(arrays: tuple[Array, ...]) -> bool:
    """CPU tensors large enough, and no autograd graph to record."""
    import torch

    x = arrays[0]
    if x.device.type != "cpu" or x.numel() < 8 * CHUNK:
        return False
    return not (torch.is_grad_enabled() and any(a.requires_grad for a in arrays))


def _chunked_torch(
    xp: Namespace, math: Math, arrays: tuple[Array, ...], params: dict[str, Any]
) -> Array:
    """As :func:`_chunked`, one chunk after the other: PyTorch spreads each
    operation over its own threads (from 32K elements on: hence chunks four
    times NumPy's, measured 2x faster than NumPy's size)."""
    import torch

    flat = [a.reshape(-1) for a in arrays]
    out = torch.empty_like(flat[0])  # xact's own buffer
    chunk = 4 * CHUNK
    for start in range(0, out.numel(), chunk):
        stop = start + chunk
        out[start:stop] = math(xp, *(a[start:stop] for a in flat), **params)
    return out.reshape(arrays[0].shape)


# --- the routes: one per direction, for every backend -----------------------


def value(
    xp: Namespace, name: str, math: Math, given: Array, params: dict[str, Any]
) -> Array:
    """``name``'s value of ``given`` (any floating dtype; the parameters
    checked): its compiled kernel where one serves, else the math on the
    backend's fast path (half precision computed in float32 and rounded
    back). A Dask or Cubed array of NumPy chunks maps each chunk through
    this same route for NumPy (:mod:`xact._run.chunked`)."""
    if _enabled and chunked.numpy_chunks(xp, given):
        items = tuple(params.items())
        return chunked.map_chunks(
            xp,
            chunked.value_block,
            (given,),
            given.dtype,
            function=name,
            math=math,
            params=items,
        )
    if is_torch(xp):
        import torch

        if not torch.compiler.is_compiling():
            torch_ops.register()  # for a later torch.compile (not in a trace)
        elif _enabled and torch_ops.ready():
            # one operator in the graph, whose derivative is xact's
            numbers, text = torch_ops.encode(name, params)
            return torch_ops.value(given, name, numbers, text)
    result = compiled_value(xp, name, math, given, params)
    if result is not None:
        return result
    (x,), rounded_back = in_compute_dtype(xp, given)
    if _enabled and is_torch(xp) and _takes_xacts_derivative(x):
        # autograd or a torch.func transform (no kernel for this dtype or
        # parameter, or a wrapped tensor): still xact's derivative, not that
        # of the composition of torch operations
        return rounded_back(_kernel_function().apply(x, None, name, math, params))
    return rounded_back(evaluate(xp, values_for(xp, name, math, x), (x,), params))


def vjp(
    xp: Namespace,
    name: str,
    generic: Math,
    x: Array,
    y: Array,
    d: Array,
    params: dict[str, Any],
) -> Array:
    """``d`` times ``name``'s derivative at ``x`` (``y`` its value; all three
    of the dtype computed in): the compiled kernel where one serves, else
    :func:`backward_for`'s math, chunked where the backend is; Dask and
    Cubed map their chunks through this route for NumPy."""
    if _enabled and chunked.numpy_chunks(xp, x, y, d):
        items = tuple(params.items())
        block = chunked.vjp_block
        mapped = _mapped(xp, block, (x, y, d), function=name, vjp=generic, params=items)
        if mapped is not None:
            return mapped
    result = compiled_vjp(xp, name, x, d, params)
    if result is not None:
        return result
    return evaluate(xp, backward_for(xp, name, generic, x, params), (x, y, d), params)


def _mapped(
    xp: Namespace, block: Math, arrays: tuple[Array, ...], **kwargs: Any
) -> Array | None:
    """``block`` mapped over the chunks of ``arrays`` (their first's dtype),
    or None where the chunks do not line up (the composed graph runs)."""
    try:
        return chunked.map_chunks(xp, block, arrays, arrays[0].dtype, **kwargs)
    except ValueError:
        return None


# --- numpy float32: the compiled kernels -------------------------------------

# below this many elements a kernel runs on the calling thread alone: waking
# a pool thread costs ~60 us here, a float64 exp ~1 ns an element, and a
# kernel of arithmetic alone is a pass over memory (relu at 1e6: 0.12 ms on
# one thread, 0.16 ms on two)
KERNEL_THREADED = 131072
ARITHMETIC_THREADED = 4 * 1024 * 1024


def compiled_value(
    xp: Namespace, name: str, math: Math | None, x: Array, params: dict[str, Any]
) -> Array | None:
    """``name``'s value of a float32 NumPy array or PyTorch CPU tensor by
    its compiled kernel (:mod:`xact._run.kernels`), or None where no kernel
    serves. ``math`` is the composed definition, which a tensor's double
    backward differentiates."""
    kernel = _kernel_for(xp, name, "value", x, params)
    if kernel is None:
        return None
    if is_torch(xp):
        if math is None:
            raise TypeError("xact: a tensor's value needs its composed math")
        return _torch_value(kernel, name, math, x, params)
    if is_cupy(xp):
        return _cuda_run.cupy_run(kernel[3], kernel[2], x)
    # the parameters were checked: the next call may take the short lane
    _LANE[(name, np.ndarray, x.dtype, *_typed(params))] = kernel
    return _value(kernel, x)


# (name, array type, dtype, *parameters) -> the kernel, for parameters
# checked already; LANE_TYPES: the array types with a lane
_LANE: dict[tuple[Any, ...], Kernel] = {}
LANE_TYPES: set[type] = {np.ndarray}


def _typed(params: dict[str, Any]) -> tuple[tuple[str, type, float, Any], ...]:
    """The parameters with their types: 1 and 1.0 and True are one dict key
    but not one call (a bool is refused), and -0.0 == 0.0 is kept apart by
    its sign."""
    return tuple(
        (k, type(v), math.copysign(1.0, v) if isinstance(v, float) else 0, v)
        for k, v in params.items()
    )


def lane(name: str, x: Array, params: dict[str, Any]) -> Array | None:
    """The value of a NumPy array or PyTorch CPU tensor (of a type in
    :data:`LANE_TYPES`) by its kernel in one dictionary look-up, for a
    function, dtype and parameters served before (None otherwise: the
    caller takes the general path, which resolves, checks the parameters
    and fills this lane). ``array_namespace`` alone would cost more than a
    64-element kernel call."""
    if not _enabled:
        return None
    kernel = _LANE.get((name, type(x), x.dtype, *_typed(params)))
    if kernel is None:
        return None
    if type(x) is np.ndarray:
        return _value(kernel, x)
    if x.requires_grad or not x.is_cpu or _torch_traced(x) or _is_dual(x):
        return None  # autograd, a transform or a trace: the general path
    import torch

    if x.numel() < KERNEL_THREADED:  # one thread whatever the setting
        return torch.from_numpy(_value(kernel, x.numpy()))
    with threads(torch.get_num_threads()):
        return torch.from_numpy(_value(kernel, x.numpy()))


def compiled_vjp(
    xp: Namespace, name: str, x: Array, d: Array, params: dict[str, Any]
) -> Array | None:
    """``d`` times ``name``'s derivative at a float32 NumPy array or PyTorch
    CPU tensor ``x`` by its compiled kernel, or None where no kernel serves."""
    kernel = _kernel_for(xp, name, "vjp", x, params)
    if kernel is None or d.dtype != x.dtype or d.shape != x.shape:
        return None
    if array_device(d) != array_device(x):
        return None  # the library's own operations raise, or move it
    if is_torch(xp):
        return _torch_vjp(kernel, x, d)
    if is_cupy(xp):
        return _cuda_run.cupy_run(kernel[3], kernel[2], x, d)
    return _vjp(kernel, x, d)


# a kernel's index in its C table, the size from which it runs threaded, its
# arguments (for the C extension packed as doubles, for CUDA the numbers) and
# the extension's function for the direction and dtype (the CUDA function's
# name)
Kernel = tuple[int, int, Any, Any]


def _value(kernel: Kernel, x: Array) -> Array:
    index, threaded, arguments, function = kernel
    source = _contiguous(x)
    out = np.empty(source.shape, dtype=source.dtype)
    if source.size < threaded:
        function(index, source, out, 0, source.size, arguments)
        return out

    def run(start: int, stop: int) -> None:
        function(index, source, out, start, stop, arguments)

    _run_kernel(source.size, threaded, run)
    return out


def _vjp(kernel: Kernel, x: Array, d: Array) -> Array:
    index, threaded, arguments, function = kernel
    source, gradient = _contiguous(x), _contiguous(d)
    out = np.empty(source.shape, dtype=source.dtype)

    def run(start: int, stop: int) -> None:
        function(index, source, gradient, out, start, stop, arguments)

    _run_kernel(source.size, threaded, run)
    return out


def _kernel_for(
    xp: Namespace, name: str, direction: str, x: Array, params: dict[str, Any]
) -> Kernel | None:
    """The kernel for a NumPy array, a CuPy array or a PyTorch CPU or CUDA
    tensor: float32, float64 (only the kernels proven there), or the values
    of float16 and bfloat16 (the float32 table, rounded once to the half
    type); None where no kernel serves."""
    if not _enabled:
        return None
    if is_cupy(xp) or (is_torch(xp) and x.is_cuda):
        return _cuda_kernel_for(xp, name, direction, x, params)
    cpu = _kernels.cpu()
    if cpu is None:
        return None
    if is_numpy(xp):
        kind = _NUMPY_KINDS.get(x.dtype)
    elif is_torch(xp) and _torch_kernel_serves(x):
        kind = _torch_kinds().get(x.dtype)
    else:
        return None
    if kind is None or (kind in _HALF and direction != "value"):
        return None
    found = find_kernel(name, direction, params, kind == "64")
    if found is None:
        return None
    index, kernel, arguments = found
    threaded = ARITHMETIC_THREADED if kernel.arithmetic_only else KERNEL_THREADED
    packed = np.array(arguments, dtype=np.float64).tobytes()
    return index, threaded, packed, getattr(cpu, direction + kind)


def _cuda_kernel_for(
    xp: Namespace, name: str, direction: str, x: Array, params: dict[str, Any]
) -> Kernel | None:
    """The CUDA kernel for a CuPy array or a CUDA tensor: a Kernel whose
    function is the CUDA function's name (its index and threshold unused)."""
    if is_torch(xp) and not _torch_kernel_serves(x):
        return None
    if not _cuda_run.usable_on(x):
        return None
    dtype = str(x.dtype).removeprefix("torch.")
    if dtype not in _CUDA_DTYPES or (dtype in _CUDA_HALF and direction != "value"):
        return None
    found = find_kernel(name, direction, params, dtype == "float64")
    if found is None:
        return None
    _, kernel, arguments = found
    return -1, 0, arguments, cuda_name(kernel, dtype)


_CUDA_DTYPES = ("float32", "float64", "float16", "bfloat16")
_CUDA_HALF = ("float16", "bfloat16")


# the extension's function for each dtype: value, value64, value16, ...
_NUMPY_KINDS = {
    np.dtype(np.float32): "",
    np.dtype(np.float64): "64",
    np.dtype(np.float16): "16",
}
_HALF = ("16", "bf16")


@lru_cache(maxsize=1)
def _torch_kinds() -> dict[Any, str]:
    import torch

    return {
        torch.float32: "",
        torch.float64: "64",
        torch.float16: "16",
        torch.bfloat16: "bf16",
    }


def compiled_rows(
    xp: Namespace,
    function: str,
    x: Array,
    mask: Array | None,
    axis: int,
    keepdims: bool = False,
) -> Array | None:
    """The softmax family's ``function`` along ``axis`` of a float32 or
    float64 NumPy array or PyTorch CPU tensor (no autograd), or along the
    last axis of a CuPy array or CUDA tensor, by its row kernel; None where
    none serves (another dtype: the caller's path runs). ``logsumexp``
    reduces the axis (kept with ``keepdims``). On the CPU the axis is moved
    last into one contiguous buffer, so a result never depends on the
    memory layout of ``x``."""
    if not _enabled or x.ndim == 0:
        return None
    if is_cupy(xp) or (is_torch(xp) and x.is_cuda):
        if axis != x.ndim - 1 or function == "logsumexp":
            return None
        return _cuda_rows(xp, function, x, mask)
    cpu = _kernels.cpu()
    if cpu is None:
        return None
    if is_torch(xp):
        import torch

        if not _torch_kernel_serves(x) or _torch_recorded(x):
            return None
        with threads(torch.get_num_threads()):
            out = compiled_rows(
                _namespace("numpy"),
                function,
                _as_numpy(x),
                None if mask is None else _as_numpy(mask),
                axis,
                keepdims,
            )
        return None if out is None else torch.from_numpy(out)
    if not is_numpy(xp) or x.dtype not in _ROW_DTYPES:
        return None
    float64 = x.dtype == np.float64
    index = find_row(function, mask is not None, float64)
    if index is None:
        return None
    source = _contiguous(np.moveaxis(x, axis, -1))
    where = None
    if mask is not None:
        where = _contiguous(np.moveaxis(np.broadcast_to(mask, x.shape), axis, -1))
    n = source.shape[-1]
    rows = source.size // n if n else 0
    reduces = function == "logsumexp"
    out = np.empty((*source.shape[:-1], 1 if reduces else n), dtype=x.dtype)
    kernel = cpu.rows64 if float64 else cpu.rows

    def run(start: int, stop: int) -> None:
        kernel(index, source, where, out, n, start, stop)

    _over_rows(source.size, rows, n, run)
    if reduces and not keepdims:
        return out[..., 0]
    return np.moveaxis(out, -1, axis)


_ROW_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _over_rows(size: int, rows: int, n: int, run: Callable[[int, int], None]) -> None:
    """``run(start, stop)`` over ``rows`` rows of ``n`` (``size`` elements):
    on this thread below :data:`KERNEL_THREADED`, else blocks of rows over
    the pool."""
    if size < KERNEL_THREADED or _threads() == 1 or rows < 2:
        run(0, rows)
    else:
        _in_parallel(rows, max(1, KERNEL_THREADED // 2 // max(n, 1)), run)


def _cuda_rows(
    xp: Namespace, function: str, x: Array, mask: Array | None
) -> Array | None:
    float64 = str(x.dtype) in _FLOAT64
    index = find_row(function, mask is not None, float64)
    if index is None or str(x.dtype) not in (*_FLOAT32, *_FLOAT64):
        return None
    if mask is not None and array_device(mask) != array_device(x):
        return None
    if not _cuda_run.usable_on(x):
        return None
    name = cuda_row_name(function, mask is not None, float64)
    if is_cupy(xp):
        return _cuda_run.cupy_rows(name, x, mask)
    if not _torch_kernel_serves(x) or _torch_recorded(x):
        return None
    return _cuda_run.torch_rows(name, x, mask)


_FLOAT64 = ("float64", "torch.float64")
_FLOAT32 = ("float32", "torch.float32")


def _torch_recorded(x: Array) -> bool:
    """Whether autograd (or forward-mode AD) records an operation on ``x``."""
    import torch

    return (torch.is_grad_enabled() and x.requires_grad) or _is_dual(x)


@lru_cache(maxsize=2)
def _namespace(library: str) -> Namespace:
    """The namespace of ``numpy`` or ``torch`` arrays."""
    if library == "numpy":
        return namespace_of_array(np.empty(0))
    import torch

    return namespace_of_array(torch.empty(0))


def numpy_namespace() -> Namespace:
    """The namespace of NumPy arrays."""
    return _namespace("numpy")


def rows(
    xp: Namespace, function: str, x: Array, mask: Array | None, axis: int
) -> Array:
    """The softmax family's ``function`` along ``axis``: the row kernels
    where they serve, else the math (float32 through float64 where
    :func:`widens`), chunked where the backend is; Dask and Cubed map each
    chunk through the NumPy path when the axis lies in one chunk."""
    if _enabled and chunked.numpy_chunks(xp, x, mask) and x.numblocks[axis] == 1:
        arrays = (x,) if mask is None else (x, mask)
        mapped = _mapped(xp, chunked.rows_block, arrays, function=function, axis=axis)
        if mapped is not None:
            return mapped
    if (
        _enabled
        and is_torch(xp)
        and x.is_cpu
        and torch_autograd_records(x)
        and _torch_kernel_serves(x)
        and function in _ROW_VJP_FUNCTIONS
        # the backward from y alone: a mask zeroes masked entries' output
        # (softmax) but not log_softmax's gradient, which then needs x
        and (mask is None or function == "softmax")
    ):
        # autograd: the row kernels forward and backward (the composed
        # derivative depended on the memory layout, down to the sign of zero)
        return _rows_function().apply(x, mask, function, axis)
    result = compiled_rows(xp, function, x, mask, axis)
    if result is not None:
        return result
    return _composed_rows(xp, function, x, mask, axis)


def _composed_rows(
    xp: Namespace, function: str, x: Array, mask: Array | None, axis: int
) -> Array:
    math = getattr(softmax_math, f"{function}_math")
    if widens(xp, x):
        math = softmax_math.WIDENED[math]
    return evaluate_rows(xp, math, x, mask, axis)


def torch_autograd_records(x: Array) -> bool:
    """Reverse-mode autograd records on ``x`` (not forward-mode AD)."""
    import torch

    return torch.is_grad_enabled() and x.requires_grad and not _is_dual(x)


@lru_cache(maxsize=1)
def _rows_function() -> Any:
    import torch

    class RowsFunction(torch.autograd.Function):
        """The softmax family on a CPU tensor under autograd: the row
        kernels forward and backward; a double backward differentiates the
        composed math."""

        @staticmethod
        def forward(x: Any, mask: Any, function: str, axis: int) -> Any:
            xp = _namespace("torch")
            y = compiled_rows(xp, function, x.detach(), mask, axis)
            return _composed_rows(xp, function, x, mask, axis) if y is None else y

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
            x, mask, function, axis = inputs
            ctx.save_for_backward(x, output)
            ctx.mask, ctx.function, ctx.axis = mask, function, axis

        @staticmethod
        def backward(ctx: Any, d: Any) -> tuple[Any, None, None, None]:
            x, y = ctx.saved_tensors
            xp = _namespace("torch")
            vjp = definition(ctx.function).vjp
            if torch.is_grad_enabled():  # create_graph: differentiable
                y = _composed_rows(xp, ctx.function, x, ctx.mask, ctx.axis)
                return vjp(xp, x, y, d, axis=ctx.axis), None, None, None
            d = d.to(y.dtype)
            result = compiled_rows_vjp(xp, ctx.function, y, d, ctx.axis)
            if result is None:
                result = vjp(xp, x, y, d, axis=ctx.axis)
            return result, None, None, None

    return RowsFunction


def rows_vjp(
    xp: Namespace,
    function: str,
    generic: Math,
    x: Array,
    y: Array,
    d: Array,
    axis: int,
) -> Array:
    """The backward pass of the softmax family's ``function`` (and glu's)
    along ``axis``, from the output ``y`` and the gradient ``d``: the row
    kernels where they serve, else ``generic(xp, x, y, d, axis=axis)``;
    Dask and Cubed map chunks through this route when the axis lies in one."""
    if function not in _ROW_VJP_FUNCTIONS:
        return generic(xp, x, y, d, axis=axis)
    if _enabled and chunked.numpy_chunks(xp, y, d) and y.numblocks[axis] == 1:
        block = chunked.rows_vjp_block
        mapped = _mapped(xp, block, (y, d), function=function, vjp=generic, axis=axis)
        if mapped is not None:
            return mapped
    result = compiled_rows_vjp(xp, function, y, d, axis)
    if result is not None:
        return result
    return generic(xp, x, y, d, axis=axis)


_ROW_VJP_FUNCTIONS = ("softmax", "log_softmax", "softmin")


def compiled_rows_vjp(
    xp: Namespace, function: str, y: Array, d: Array, axis: int
) -> Array | None:
    """The backward pass of the softmax family along ``axis`` of float32 or
    float64 NumPy arrays or PyTorch CPU tensors (no autograd) by its row
    kernel, the axis moved last into contiguous buffers; None where none
    serves."""
    if not _enabled or y.ndim == 0 or d.dtype != y.dtype or d.shape != y.shape:
        return None
    cpu = _kernels.cpu()
    if cpu is None:
        return None
    if is_torch(xp):
        import torch

        served = all(_torch_kernel_serves(a) and a.is_cpu for a in (y, d))
        if not served or _torch_recorded(y) or _torch_recorded(d):
            return None
        with threads(torch.get_num_threads()):
            numpy = _namespace("numpy")
            out = compiled_rows_vjp(numpy, function, _as_numpy(y), _as_numpy(d), axis)
        return None if out is None else torch.from_numpy(out)
    if not is_numpy(xp) or y.dtype not in _ROW_DTYPES:
        return None
    float64 = y.dtype == np.float64
    index = find_row_vjp(function, float64)
    if index is None:
        return None
    output, gradient = (_contiguous(np.moveaxis(a, axis, -1)) for a in (y, d))
    out = np.empty(output.shape, dtype=y.dtype)
    n = output.shape[-1]
    rows = output.size // n if n else 0
    kernel = cpu.rows_vjp64 if float64 else cpu.rows_vjp

    def run(start: int, stop: int) -> None:
        kernel(index, output, gradient, out, n, start, stop)

    _over_rows(output.size, rows, n, run)
    return np.moveaxis(out, -1, axis)


def logsumexp_rows(xp: Namespace, x: Array, axis: int, keepdims: bool) -> Array:
    """logsumexp along ``axis`` (chunked as :func:`rows`)."""
    if _enabled and chunked.numpy_chunks(xp, x) and x.numblocks[axis] == 1:
        return chunked.map_chunks(
            xp,
            chunked.reduce_block,
            (x,),
            x.dtype,
            reduced=axis,
            keepdims=keepdims,
            axis=axis,
            keep=keepdims,
        )
    result = compiled_rows(xp, "logsumexp", x, None, axis, keepdims)
    if result is not None:
        return result
    kept = softmax_math.logsumexp_kept if keepdims else softmax_math.logsumexp_dropped
    return evaluate_rows(xp, kept, x, None, axis)


def _contiguous(x: Array) -> Array:
    """``x``, copied only where it is a strided view or misaligned (the
    kernels read whole float32 or float64 elements; ``ascontiguousarray``
    would make a 0-d array 1-d)."""
    if x.flags.c_contiguous and x.flags.aligned:
        return x
    return np.array(x, order="C", copy=True)


def _run_kernel(size: int, threaded: int, run: Callable[[int, int], None]) -> None:
    if size < threaded or _threads() == 1:
        run(0, size)
    else:
        _in_parallel(size, threaded // 2, run)


# --- torch CPU float32: the compiled kernels, zero-copy ----------------------


def _torch_kernel_serves(x: Array) -> bool:
    """A floating CPU or CUDA tensor outside torch.compile and torch.func's
    transforms (those trace or wrap the tensor: the composed math runs)."""
    import torch

    if type(x) not in (torch.Tensor, torch.nn.Parameter):
        return False  # a subclass keeps its own __torch_function__ behaviour
    on_device = x.is_cpu or x.is_cuda
    return x.dtype in _torch_kinds() and on_device and not _torch_traced(x)


def _takes_xacts_derivative(x: Array) -> bool:
    """A floating CPU or CUDA tensor whose derivative autograd, forward-mode
    AD or a torch.func transform will take, outside torch.compile, tracing
    and dispatch modes (there the composed math runs)."""
    import torch

    if type(x) not in (torch.Tensor, torch.nn.Parameter):
        return False
    if x.dtype not in _torch_kinds() or not (x.is_cpu or x.is_cuda):
        return False
    if torch.compiler.is_compiling() or torch.jit.is_tracing():  # type: ignore[attr-defined, no-untyped-call]
        return False
    if torch.utils._python_dispatch._get_current_dispatch_mode() is not None:
        return False
    functorch = torch._C._functorch
    if functorch.is_legacy_batchedtensor(x):  # is_grads_batched: composed math
        return False
    wrapped = functorch.is_functorch_wrapped_tensor(x) or (
        functorch.peek_interpreter_stack() is not None
    )
    return wrapped or _torch_recorded(x)


def _torch_traced(x: Array) -> bool:
    """Traced (torch.compile, torch.jit.trace, make_fx and other dispatch
    modes, where a NumPy round trip would be recorded as a constant) or
    wrapped by a torch.func transform."""
    import torch

    if torch.compiler.is_compiling() or torch.jit.is_tracing():  # type: ignore[attr-defined, no-untyped-call]
        return True
    if torch.utils._python_dispatch._get_current_dispatch_mode() is not None:
        return True
    functorch = torch._C._functorch
    return (
        functorch.is_functorch_wrapped_tensor(x)
        or functorch.is_legacy_batchedtensor(x)  # is_grads_batched, jacobian
        or functorch.peek_interpreter_stack() is not None
    )


def _as_numpy(t: Any) -> Any:
    return t.detach().contiguous().numpy()  # a view, or a copy of a strided one


def _torch_value(
    kernel: Kernel, name: str, math: Math, x: Array, params: dict[str, Any]
) -> Array | None:
    import torch

    recorded = _torch_recorded(x)
    if x.dtype in (torch.float16, torch.bfloat16):
        if recorded:
            return None  # autograd: the float32 path, rounded back
        return _torch_run(kernel, x)
    if recorded:
        return _kernel_function().apply(x, kernel, name, math, params)
    if not x.requires_grad and x.is_cpu:  # the next call may take the short lane
        _LANE[(name, type(x), x.dtype, *_typed(params))] = kernel
        LANE_TYPES.add(type(x))
    return _torch_run(kernel, x)


def _torch_run(kernel: Kernel, *tensors: Array) -> Array:
    """A kernel over CPU tensors (zero-copy NumPy views of their memory; a
    half type as its 16-bit patterns) or CUDA tensors."""
    import torch

    x = tensors[0]
    if x.is_cuda:
        return _cuda_run.torch_run(kernel[3], kernel[2], *tensors)
    if x.dtype in (torch.float16, torch.bfloat16):
        # the 16-bit patterns (a bfloat16 tensor has no NumPy view)
        source = x.detach().contiguous()
        out = torch.empty_like(source)
        with threads(torch.get_num_threads()):
            bits = _value(kernel, source.view(torch.int16).numpy())
        out.view(torch.int16).copy_(torch.from_numpy(bits))
        return out
    with threads(torch.get_num_threads()):  # PyTorch's setting for tensors
        if len(tensors) == 2:
            d = _as_numpy(tensors[1])
            return torch.from_numpy(_vjp(kernel, _as_numpy(x), d))
        return torch.from_numpy(_value(kernel, _as_numpy(x)))


def _is_dual(x: Array) -> bool:
    """A tensor with a forward-mode tangent (``torch.autograd.forward_ad``)."""
    from torch.autograd import forward_ad

    return forward_ad._current_level >= 0 and (
        forward_ad.unpack_dual(x).tangent is not None  # type: ignore[no-untyped-call]
    )


def _torch_vjp(kernel: Kernel, x: Array, d: Array) -> Array:
    return _torch_run(kernel, x, d)


@lru_cache(maxsize=1)
def _kernel_function() -> Any:
    import torch

    class KernelFunction(torch.autograd.Function):
        """An activation whose forward and backward are xact's kernels (or,
        where none serves, its math and its analytic vector-Jacobian
        product), so that autograd gives xact's analytic derivative (within
        1 ULP of float32 through the kernels, 8 ULP in float64), not the
        derivative of a composition of torch operations."""

        @staticmethod
        def forward(
            x: Any,
            kernel: Kernel | None,
            name: str,
            math: Math,
            params: dict[str, Any],
        ) -> Any:
            xp = _namespace("torch")
            if kernel is None:  # a plain tensor here (under torch.func)
                kernel = _kernel_for(xp, name, "value", x, params)
            if kernel is None:  # the math, with autograd off (as here)
                y = evaluate(xp, values_for(xp, name, math, x), (x,), params)
                return x.view_as(x) if y is x else y  # identity: a new tensor
            return _torch_run(kernel, x)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
            x, _, name, math, params = inputs
            ctx.save_for_backward(x)
            ctx.save_for_forward(x)
            ctx.name, ctx.math, ctx.params = name, math, params

        @staticmethod
        def backward(ctx: Any, d: Any) -> tuple[Any, None, None, None, None]:
            (x,) = ctx.saved_tensors
            # create_graph: the composed derivative, which autograd can
            # differentiate again
            composed = torch.is_grad_enabled()
            return _slope_times(ctx, x, d, composed), None, None, None, None

        @staticmethod
        def jvp(ctx: Any, t: Any, *_: Any) -> Any:
            (x,) = ctx.saved_tensors
            return _slope_times(ctx, x, t, composed=False)  # elementwise

        @staticmethod
        def vmap(
            info: Any,
            in_dims: tuple[Any, ...],
            x: Any,
            kernel: Kernel | None,
            name: str,
            math: Math,
            params: dict[str, Any],
        ) -> tuple[Any, Any]:
            # elementwise: the batch dimension is one more dimension of x
            return KernelFunction.apply(x, kernel, name, math, params), in_dims[0]  # type: ignore[no-untyped-call]

    def _slope_times(ctx: Any, x: Any, d: Any, composed: bool) -> Any:
        xp = _namespace("torch")
        kernel = _kernel_for(xp, ctx.name, "vjp", x, ctx.params)
        if kernel is not None and not composed and _torch_kernel_serves(d):
            return _torch_vjp(kernel, x, d)
        # xact's analytic derivative in torch operations (float32 through
        # float64 where the device has it), which autograd can differentiate;
        # the elementwise derivatives are computed from x alone
        if finfo_of(xp, x.dtype).bits == 32 and has_float64(xp, x):
            vjp = _widened(ctx.name)
        else:
            vjp = backward_for(xp, ctx.name, definition(ctx.name).vjp, x, ctx.params)
        return vjp(xp, x, None, d, **ctx.params)

    return KernelFunction


# --- float32 through float64 -------------------------------------------------


def widens(xp: Namespace, x: Array) -> bool:
    """Whether a float32 ``x`` is computed through float64: on a backend with
    a fast path whose device has float64."""
    if not (_enabled and (is_numpy(xp) or is_torch(xp) or is_jax(xp) or is_cupy(xp))):
        return False
    return finfo_of(xp, x.dtype).bits == 32 and has_float64(xp, x)


def values_for(xp: Namespace, name: str, math: Math, x: Array) -> Math:
    """The math to use for the values of ``x``: the widened float64 formula
    where :func:`widens` (and the function has one), else ``math`` itself."""
    return _widened_value(name) if name in WIDENED_ON_ARRAYS and widens(xp, x) else math


@lru_cache(maxsize=64)
def _widened_value(name: str) -> Math:
    value = WIDE_VALUES[name]

    def math(xp: Namespace, x: Array, **params: Any) -> Array:
        wide = value(xp, xp.astype(x, xp.float64), **params)
        return narrowed(xp, wide, x.dtype)  # one rounding

    math.__name__ = f"{name}_widened"
    return math


def backward_for(
    xp: Namespace, name: str, vjp: Math, x: Array, params: dict[str, Any]
) -> Math:
    """The vector-Jacobian product to use for ``x``: the widened float64
    derivative for float32 where the device has float64, the same plain
    formula for float64 where it is accurate there too
    (:func:`~xact._math.derivatives_wide.plain_in_float64`), else ``vjp``."""
    if not _enabled or name not in WIDE_SLOPES:
        return vjp
    bits = finfo_of(xp, x.dtype).bits
    if bits == 32 and has_float64(xp, x):
        return _widened(name)
    # not on JAX: XLA's float64 exp flushes its smallest normal results to 0
    # (tanh'(-354.4) gave 0 for 5.6e-308), where the exact pairs do not
    if bits == 64 and not is_jax(xp) and plain_in_float64(name, params):
        return _plain(name)
    return vjp


@lru_cache(maxsize=64)
def _widened(name: str) -> Math:
    wide_vjp_of = wide_vjp(name)  # d times the slope, or the kinks' piecewise

    def vjp(xp: Namespace, x: Array, y: Array, d: Array, **params: Any) -> Array:
        as64 = (xp.astype(a, xp.float64) for a in (x, d))
        return narrowed(xp, wide_vjp_of(xp, *as64, **params), x.dtype)  # one rounding

    vjp.__name__ = f"{name}_widened_vjp"
    return vjp


@lru_cache(maxsize=64)
def _plain(name: str) -> Math:
    slope = WIDE_SLOPES[name]

    def vjp(xp: Namespace, x: Array, y: Array, d: Array, **params: Any) -> Array:
        return d * slope(xp, x, **params)

    vjp.__name__ = f"{name}_plain_vjp"
    return vjp


# --- jax: compiled -----------------------------------------------------------


def _is_tracer(x: Array) -> bool:
    import jax

    return isinstance(x, jax.core.Tracer)


@lru_cache(maxsize=256)
def _compiled(
    math: Math, xp: Namespace, params: tuple[tuple[str, Any], ...]
) -> Callable[..., Array]:
    import jax

    return jax.jit(partial(math, xp, **dict(params)))


# registered before any torch.compile can trace (now, or after import torch)
torch_ops.register_after_import()
