"""Speed of xact against native kernels, as ratios measured in one run.

``xact bench`` prints, per function, the time of xact's forward and backward
passes, the time of the native kernel doing the same (PyTorch's
``torch.nn.functional`` and autograd for NumPy, PyTorch and CuPy arrays — a
CuPy array is handed to PyTorch on its GPU through DLPack, without a copy —
``jax.nn`` under ``jax.jit`` for JAX), their ratios, xact's throughput in
GB/s (bytes read and written over time) and, on NumPy, its peak memory as a
multiple of the input (tracemalloc, output included). Each time is the
minimum of ``repeats`` runs (the machine may be shared: the minimum is the
least disturbed). A benchmark, never a test: nothing asserts a time.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np

from . import __version__
from ._namespace import as_namespace, namespace_of_array
from ._public import public_names
from ._registry import entry
from .layers import LAYERS

__all__ = [
    "DEFAULT_FUNCTIONS",
    "Row",
    "header",
    "jax_functions",
    "run",
    "torch_functions",
]

DEFAULT_FUNCTIONS = (
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "sigmoid",
    "log_sigmoid",
    "hard_sigmoid",
    "hard_swish",
    "tanh",
    "softsign",
    "tanh_shrink",
    "softmax",
    "log_softmax",
)


@dataclass
class Row:
    """One function's measurements (seconds; None where not measured)."""

    function: str
    forward: float
    native_forward: float | None
    backward: float
    native_backward: float | None
    gb_per_s: float
    peak_memory: float | None  # multiple of the input's size (NumPy only)
    # the forward pass's GB/s as a percentage of the device's memory
    # bandwidth (CUDA devices only)
    percent_of_peak: float | None = None

    @property
    def forward_ratio(self) -> float | None:
        return (
            None if self.native_forward is None else self.forward / self.native_forward
        )

    @property
    def backward_ratio(self) -> float | None:
        if self.native_backward is None:
            return None
        return self.backward / self.native_backward

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "forward_ratio": self.forward_ratio,
            "backward_ratio": self.backward_ratio,
        }


def torch_functions() -> dict[str, Callable[[Any], Any]]:
    import torch
    import torch.nn.functional as F

    return {
        "relu": F.relu,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "selu": F.selu,
        "celu": F.celu,
        "gelu": F.gelu,
        "silu": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,
        "sigmoid": torch.sigmoid,
        "log_sigmoid": F.logsigmoid,
        "hard_sigmoid": F.hardsigmoid,
        "hard_swish": F.hardswish,
        "tanh": torch.tanh,
        "softsign": F.softsign,
        "tanh_shrink": F.tanhshrink,
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    }


def jax_functions() -> dict[str, Callable[[Any], Any]]:
    import jax
    import jax.numpy as jnp

    nn = jax.nn
    table = {
        "relu": nn.relu,
        "leaky_relu": nn.leaky_relu,
        "elu": nn.elu,
        "selu": nn.selu,
        "celu": nn.celu,
        "gelu": lambda x: nn.gelu(x, approximate=False),
        "silu": nn.silu,
        "mish": lambda x: x * jnp.tanh(nn.softplus(x)),
        "softplus": nn.softplus,
        "sigmoid": nn.sigmoid,
        "log_sigmoid": nn.log_sigmoid,
        "hard_sigmoid": nn.hard_sigmoid,
        "hard_swish": nn.hard_swish,
        "tanh": jnp.tanh,
        "softsign": nn.soft_sign,
        "tanh_shrink": lambda x: x - jnp.tanh(x),
        "softmax": nn.softmax,
        "log_softmax": nn.log_softmax,
    }
    return {name: jax.jit(f) for name, f in table.items()}


def _block(result: Any) -> Any:
    """Wait for asynchronous work (JAX, CUDA) before the clock stops."""
    if hasattr(result, "block_until_ready"):
        result.block_until_ready()
    module = type(result).__module__
    if module.startswith("torch") and result.is_cuda:
        import torch

        torch.cuda.synchronize()
    elif module.startswith("cupy"):
        import cupy

        cupy.cuda.Device().synchronize()
    return result


def _best(function: Callable[[], Any], repeats: int) -> float:
    _block(function())  # warm up: compilation, caches, thread pools
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _block(function())
        best = min(best, time.perf_counter() - start)
    return best


def _native(backend: str, x: Any) -> tuple[dict[str, Callable[[Any], Any]], Any]:
    """The native table and the input as the native library sees it."""
    if backend == "jax":
        return jax_functions(), x
    try:
        import torch
        import torch.utils.dlpack
    except ImportError:
        return {}, None
    if backend == "torch":
        return torch_functions(), x
    if backend == "cupy":  # the same GPU buffer, as a CUDA tensor
        return torch_functions(), torch.utils.dlpack.from_dlpack(x)
    return torch_functions(), torch.from_numpy(x)


def _native_backward(backend: str, function: Callable[[Any], Any], x: Any) -> Any:
    if backend == "jax":
        import jax

        gradient = jax.jit(jax.grad(lambda v: function(v).sum()))
        return lambda: gradient(x)
    leaf = x.detach().requires_grad_(True)
    output = function(leaf)
    upstream = output.detach() * 0 + 1

    def backward() -> Any:
        import torch

        (grad,) = torch.autograd.grad(output, leaf, upstream, retain_graph=True)
        return grad

    return backward


def run(
    backend: str = "numpy",
    size: int = 10_000_000,
    dtype: str = "float32",
    functions: tuple[str, ...] = DEFAULT_FUNCTIONS,
    repeats: int = 5,
    device: Any = None,
) -> list[Row]:
    """Measure ``functions`` on ``size`` elements of ``dtype`` (a (size/1000,
    1000) array, so the softmax family has rows) on ``backend`` (and
    ``device``: a torch device, a CuPy device, or None for the default)."""
    import xact

    host = np.random.default_rng(0).uniform(-8.0, 8.0, (max(size // 1000, 1), 1000))
    host = host.astype(dtype)
    if backend == "numpy":
        x: Any = host
    elif backend == "cupy":
        import cupy

        with device if device is not None else contextlib.nullcontext():
            x = cupy.asarray(host)
    else:
        module = {"torch": "torch", "jax": "jax.numpy"}[backend]
        xp = as_namespace(importlib.import_module(module))
        x = xp.asarray(host) if device is None else xp.asarray(host, device=device)
    native, native_x = _native(backend, x)
    peak_bandwidth = device_bandwidth(x)
    rows = []
    for name in functions:
        function: Callable[[Any], Any] = getattr(xact, name)
        layer = LAYERS[entry(name).layer]()
        output = layer(x)
        ones = namespace_of_array(output).ones_like(output)
        forward = _best(partial(function, x), repeats)
        backward = _best(partial(layer.backward, ones), repeats)
        native_forward = native_backward = None
        if name in native and native_x is not None:
            kernel = native[name]
            native_forward = _best(partial(kernel, native_x), repeats)
            native_backward = _best(
                _native_backward(backend, kernel, native_x), repeats
            )
        peak = None
        if backend == "numpy":
            tracemalloc.start()
            function(x)
            peak = tracemalloc.get_traced_memory()[1] / host.nbytes
            tracemalloc.stop()
        gb_per_s = 2 * host.nbytes / forward / 1e9
        percent = None if peak_bandwidth is None else 100 * gb_per_s / peak_bandwidth
        rows.append(
            Row(
                name,
                forward,
                native_forward,
                backward,
                native_backward,
                gb_per_s,
                peak,
                percent,
            )
        )
    return rows


def device_bandwidth(x: Any) -> float | None:
    """The peak memory bandwidth (GB/s) of the CUDA device that holds ``x``:
    2 (double data rate) x memory clock x bus width / 8, from the device's
    attributes (CUDA 13 dropped ``cudaDeviceProp.memoryClockRate``); None
    off CUDA or without CuPy."""
    index = cuda_device_index(x)
    if index is None:
        return None
    try:
        import cupy

        attributes = cupy.cuda.Device(index).attributes
    except Exception:  # no CuPy (a torch-only machine), no driver
        return None
    clock_hz = float(attributes["MemoryClockRate"]) * 1e3  # reported in kHz
    return 2 * clock_hz * float(attributes["GlobalMemoryBusWidth"]) / 8 / 1e9


def cuda_device_index(x: Any) -> int | None:
    """The index of the CUDA device holding ``x`` (None: not on one)."""
    module = type(x).__module__
    if module.startswith("cupy"):
        return int(x.device.id)
    if module.startswith("torch") and x.is_cuda:
        import torch

        return (
            x.device.index
            if x.device.index is not None
            else torch.cuda.current_device()
        )
    return None


def header(backend: str, size: int, dtype: str) -> list[str]:
    """What a reader needs to reproduce the numbers."""
    from ._run import fast as _fast

    lines = [
        f"xact {__version__} bench: backend {backend}, {size:,} {dtype} elements",
        f"machine: {platform.machine()} {platform.processor() or ''}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"fast paths: {'on' if _fast.fast_paths_enabled() else 'off'}"
        f" ({', '.join(f'{k}: {v}' for k, v in _fast.FAST_PATHS.items())}), "
        f"xact threads {os.environ.get('XACT_NUM_THREADS') or os.cpu_count()}",
        f"numpy {np.__version__}",
    ]
    for module in ("torch", "jax"):
        try:
            imported = importlib.import_module(module)
        except ImportError:
            continue
        count = imported.get_num_threads() if module == "torch" else 0
        threads = f", {count} thread{'s' * (count != 1)}" if count else ""
        lines.append(f"{module} {imported.__version__}{threads}")
    lines.append(
        "times: the minimum of the repeats; ratio = xact / native "
        "(below 1: xact is faster)"
    )
    return lines


__dir__ = public_names(__all__)
