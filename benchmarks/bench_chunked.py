"""Dask and Cubed: ``xact.f(array)`` against ``map_blocks`` of xact's NumPy
function written by hand, in one run.

    python benchmarks/bench_chunked.py [--size 10000000] [--chunks 10]

For each engine, dtype and function: the minimum over the repeats of
computing the result (and of the layer's backward, for Dask), and the ratio
``xact.f(array) / map_blocks by hand``. A benchmark, not a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import xact

FUNCTIONS = ("gelu", "silu", "tanh", "softplus", "relu")


def _best(run: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _engines(host: np.ndarray, chunks: int) -> dict[str, Any]:
    engines: dict[str, Any] = {}
    rows = host.shape[0] // chunks
    try:
        import dask
        import dask.array as da

        dask.config.set(scheduler="threads")
        engines["dask"] = (
            da.from_array(host, chunks=(rows, host.shape[1])),
            lambda f, x: x.map_blocks(f, dtype=x.dtype),
            lambda y: y.compute(),
        )
    except ImportError:
        pass
    try:
        import cubed

        spec = cubed.Spec(allowed_mem="2GB")
        engines["cubed"] = (
            cubed.from_array(host, chunks=(rows, host.shape[1]), spec=spec),
            lambda f, x: cubed.map_blocks(f, x, dtype=x.dtype),
            lambda y: y.compute(),
        )
    except ImportError:
        pass
    return engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{args.size:,} elements in {args.chunks} chunks; minimum of {args.repeats}")
    header = f"{'engine':7}{'dtype':9}{'function':10}"
    print(f"{header}{'xact ms':>9}{'by hand':>9}{'ratio':>8}")
    for dtype in (np.float32, np.float64):
        host = (rng.standard_normal((args.size // 1000, 1000)) * 4).astype(dtype)
        for engine, (x, by_hand, compute) in _engines(host, args.chunks).items():
            for name in FUNCTIONS:
                f = getattr(xact, name)

                def ours_once(f: Any = f, x: Any = x, compute: Any = compute) -> Any:
                    return compute(f(x))

                def by_hand_once(
                    f: Any = f,
                    x: Any = x,
                    compute: Any = compute,
                    by_hand: Any = by_hand,
                ) -> Any:
                    return compute(by_hand(f, x))

                ours = _best(ours_once, args.repeats)
                hand = _best(by_hand_once, args.repeats)
                print(
                    f"{engine:7}{np.dtype(dtype).name:9}{name:10}"
                    f"{ours * 1e3:9.1f}{hand * 1e3:9.1f}{ours / hand:7.2f}x"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
