"""Speed of xact against each library's own kernels, as ratios in one run.

    python benchmarks/bench_activations.py [--size N] [--backend torch ...]

Prints, per backend and function, the median time of xact's call and of the
native kernel on the same float32 array, and their ratio (xact / native).
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import xact
from xact.bench import torch_functions


def _native_torch() -> tuple[Any, dict[str, Callable[[Any], Any]]]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return (lambda a: torch.asarray(a, device=device)), torch_functions()


def _native_numpy() -> tuple[Any, dict[str, Callable[[Any], Any]]]:
    table: dict[str, Callable[[Any], Any]] = {
        "relu": lambda x: np.maximum(x, 0),
        "tanh": np.tanh,
    }
    try:
        from scipy import special

        table |= {
            "sigmoid": special.expit,
            "softmax": lambda x: special.softmax(x, axis=-1),
            "log_softmax": lambda x: special.log_softmax(x, axis=-1),
            "gelu": lambda x: x * special.ndtr(x),
        }
    except ImportError:
        pass
    return np.asarray, table


def _native_cupy() -> tuple[Any, dict[str, Callable[[Any], Any]]]:
    import cupy
    from cupyx.scipy import special

    table = {
        "relu": lambda x: cupy.maximum(x, 0),
        "tanh": cupy.tanh,
        "sigmoid": special.expit,
        "softmax": lambda x: special.softmax(x, axis=-1),
        "log_softmax": lambda x: special.log_softmax(x, axis=-1),
        "gelu": lambda x: x * special.ndtr(x),
    }
    return cupy.asarray, table


NATIVE = {"numpy": _native_numpy, "torch": _native_torch, "cupy": _native_cupy}


def _sync(result: Any) -> None:
    module = type(result).__module__
    if module.startswith("torch") and result.is_cuda:
        import torch

        torch.cuda.synchronize()
    elif module.startswith("cupy"):
        import cupy

        cupy.cuda.Device().synchronize()


def _median_time(function: Callable[[Any], Any], x: Any, repeats: int) -> float:
    _sync(function(x))  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _sync(function(x))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--backend", action="append", choices=sorted(NATIVE))
    args = parser.parse_args()
    backends = args.backend or [
        name for name in NATIVE if xact.backends.probe(name).usable
    ]
    host = np.random.default_rng(0).standard_normal((args.size // 100, 100)) * 5
    host = host.astype(np.float32)
    print(f"{'backend':8} {'function':12} {'xact ms':>9} {'native ms':>9} {'ratio':>6}")
    for backend in backends:
        convert, table = NATIVE[backend]()
        x = convert(host)
        for name, native in table.items():
            ours = _median_time(getattr(xact, name), x, args.repeats)
            theirs = _median_time(native, x, args.repeats)
            print(
                f"{backend:8} {name:12} {ours * 1e3:9.3f} {theirs * 1e3:9.3f} "
                f"{ours / theirs:6.2f}"
            )


if __name__ == "__main__":
    main()
