"""Measure the worst ULP error of every activation against mpmath.

    python tools/accuracy_table.py                     # NumPy, values and derivatives
    python tools/accuracy_table.py --backend jax:x32   # JAX with float64 off
    python tools/accuracy_table.py --backend array_api_strict:no_float64

Uses the test suite's oracle (tests/oracle.py: the grid and the seeded random
points, exact values from tests/exact/) and prints one
Markdown row per function and parameter setting: the worst error of the
function and of its layer's backward, in float32 and float64 ("—" where the
device has no float64). This is the table the README and closing notes quote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import xact
from oracle import cases, exact, ulp_errors
from xact._namespace import to_host
from xact._registry import ACTIVATIONS
from xact.layers import LAYERS


def _namespace(backend: str) -> tuple[object, object, bool]:
    """(xp, device, has_float64) for a backend name of the test matrix."""
    import array_api_compat

    library, _, variant = backend.partition(":")
    if library == "jax":
        import jax

        jax.config.update("jax_enable_x64", variant != "x32")
        import jax.numpy as jnp

        return jnp, None, variant != "x32"
    if library == "array_api_strict":
        import array_api_strict as strict

        device = strict.Device(variant) if variant else None
        return strict, device, variant != "no_float64"
    if library == "torch":
        import torch

        return array_api_compat.array_namespace(torch.empty(0)), None, True
    return array_api_compat.array_namespace(np.empty(0)), None, True


def worst(backend: str) -> list[tuple[str, dict[str, str]]]:
    xp, device, has_float64 = _namespace(backend)
    layer_of = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}
    rows = []
    for case in cases({e.name: e.defaults for e in ACTIVATIONS if not e.along_axis}):
        cells = {}
        for dtype in ("float32", "float64"):
            if dtype == "float64" and not has_float64:
                cells[f"value {dtype}"] = cells[f"backward {dtype}"] = "—"
                continue
            np_dtype = getattr(np, dtype)
            for kind in ("value", "derivative"):
                reference = exact(kind, case, np_dtype)
                x = xp.asarray(reference.xs, dtype=getattr(xp, dtype), device=device)
                if kind == "value":
                    result = getattr(xact, case.name)(x, **case.kwargs)
                else:
                    layer = layer_of[case.name](**case.kwargs)
                    layer(x)
                    result = layer.backward(xp.ones_like(x))
                errors = ulp_errors(to_host(result), reference, np_dtype)
                if backend.startswith("jax"):  # XLA flushes subnormals
                    tiny = float(np.finfo(np_dtype).smallest_normal)
                    flushed = (np.abs(reference.xs) < tiny) & (reference.xs != 0)
                    errors[flushed | (np.abs(reference.hi) < 2 * tiny)] = np.nan
                label = "value" if kind == "value" else "backward"
                cells[f"{label} {dtype}"] = f"{np.nanmax(errors):.2f}"
        rows.append((case.id, cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args()
    columns = ["value float32", "value float64", "backward float32", "backward float64"]
    print(f"worst ULP against mpmath on {args.backend}\n")
    print("| function | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, cells in worst(args.backend):
        print(f"| {name} | " + " | ".join(cells[c] for c in columns) + " |")


if __name__ == "__main__":
    main()
