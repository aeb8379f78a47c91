"""The ``xact`` command: ``info``, ``check``, ``spiral`` and ``bench``.

xact info                       versions, backends, devices
xact check [--backend NAME]     every activation, Dense and loss against NumPy
xact spiral [--backend NAME] [--epochs N] [--plot FILE.png]
xact bench [--backend NAME] [--size N] [--dtype D] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import __version__, backends, losses
from ._namespace import array_device, as_namespace, to_host
from ._registry import ACTIVATIONS
from .dense import Dense
from .layers import LAYERS

__all__ = ["main"]


class UsageError(Exception):
    """A bad command line: one line on stderr, exit code 2."""


def _namespace(name: str) -> Any:
    return as_namespace(backends.select(name, enable_x64=True)[1])


def _default_device(name: str) -> Any:
    if name == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return None


def _usable(names: Sequence[str] | None) -> list[str]:
    """The backends asked for (all usable ones if none), each checked."""
    if not names:
        return [n for n, status in backends.available().items() if status.usable]
    result = []
    for name in names:
        if name not in backends.BACKENDS:
            raise UsageError(
                f"unknown backend {name!r}; choose from {', '.join(backends.BACKENDS)}"
            )
        status = backends.probe(name)
        if not status.usable:
            raise UsageError(f"backend {name} is not usable here: {status.reason}")
        result.append(name)
    return result


# ----------------------------------------------------------------- xact info


def info(args: argparse.Namespace) -> int:
    print(f"xact {__version__} (Python {sys.version.split()[0]})")
    for name, status in backends.available().items():
        version = status.version or "not installed"
        if status.usable:
            print(f"  {name:17} {version:12} usable on {', '.join(status.devices)}")
        else:
            print(f"  {name:17} {version:12} not usable: {status.reason}")
    return 0


# ---------------------------------------------------------------- xact check

Check = Callable[[Any, Any, np.ndarray], tuple[Any, Any]]
# a check gets the namespace, an input array on the backend and the same values
# as a float64 NumPy array; it returns (backend result, NumPy float64 result)


def _upstream(shape: Sequence[int]) -> np.ndarray:
    return np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(tuple(shape))


def _like(xp: Any, values: np.ndarray, x: Any) -> Any:
    """``values`` on x's backend, device and dtype."""
    return xp.astype(xp.asarray(values, device=array_device(x)), x.dtype)


def _activation_checks() -> dict[str, Check]:
    checks: dict[str, Check] = {}
    for entry in ACTIVATIONS:

        def forward(
            xp: Any, x: Any, host: np.ndarray, entry: Any = entry
        ) -> tuple[Any, Any]:
            return entry.function(x), entry.function(host)

        def backward(
            xp: Any, x: Any, host: np.ndarray, entry: Any = entry
        ) -> tuple[Any, Any]:
            layer, reference = LAYERS[entry.layer](), LAYERS[entry.layer]()
            d = _upstream(reference(host).shape)
            layer(x)
            return layer.backward(_like(xp, d, x)), reference.backward(d)

        checks[entry.name] = forward
        checks[f"{entry.name} backward"] = backward
    return checks


def _dense_check(xp: Any, x: Any, host: np.ndarray) -> tuple[Any, Any]:
    ours, reference = Dense(host.shape[1], 3, seed=0), Dense(host.shape[1], 3, seed=0)
    d = _upstream(reference(host).shape)
    reference.backward(d)
    y = ours(x)
    ours.backward(_like(xp, d, x))
    ours_all = xp.concat(
        [xp.reshape(a, (-1,)) for a in (y, ours.dinputs, ours.dweights, ours.dbiases)]
    )
    parts = (reference.output, reference.dinputs, reference.dweights, reference.dbiases)
    return ours_all, np.concatenate([np.ravel(np.asarray(a)) for a in parts])


def _loss_inputs(name: str, host: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) for each loss, made from the check's input."""
    labels = np.arange(host.shape[0]) % host.shape[1]
    if name == "categorical_crossentropy":
        return labels, np.exp(host) / np.exp(host).sum(axis=1, keepdims=True)
    if name == "softmax_cross_entropy":
        return labels, host
    if name == "binary_crossentropy":
        return (host > 0).astype(float), 1 / (1 + np.exp(-host))
    if name == "binary_crossentropy_from_logits":
        return (host > 0).astype(float), host
    return np.cos(host), host


def _loss_check(name: str) -> Check:
    def check(xp: Any, x: Any, host: np.ndarray) -> tuple[Any, Any]:
        target, prediction = _loss_inputs(name, host)
        reference = losses.LOSSES[name]()
        expected = np.concatenate(
            [
                np.reshape(reference(target, prediction), (1,)),
                np.ravel(reference.backward()),
            ]
        )
        ours = losses.LOSSES[name]()
        device_target = xp.asarray(target, device=array_device(x))
        if target.dtype.kind == "f":
            device_target = xp.astype(device_target, x.dtype)
        value = ours(device_target, _like(xp, prediction, x))
        result = xp.concat(
            [xp.reshape(value, (1,)), xp.reshape(ours.backward(), (-1,))]
        )
        return result, expected

    return check


def _all_checks() -> dict[str, Check]:
    checks = _activation_checks()
    checks["Dense forward/backward"] = _dense_check
    for name in losses.LOSSES:
        checks[f"loss {name}"] = _loss_check(name)
    return checks


def _relative_error(ours: Any, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference| over the finite entries;
    non-finite entries must agree exactly (inf, -inf, NaN)."""
    ours_host = to_host(ours).astype(np.float64)
    finite = np.isfinite(reference)
    agree = (ours_host == reference) | (np.isnan(ours_host) & np.isnan(reference))
    if not np.all(agree[~finite]):
        return float("inf")
    if not np.any(finite):
        return 0.0
    scale = np.max(np.abs(reference[finite])) or 1.0
    return float(np.max(np.abs(ours_host[finite] - reference[finite])) / scale)


def check(args: argparse.Namespace) -> int:
    names = _usable(args.backend)
    rng = np.random.default_rng(0)
    host = rng.uniform(-6.0, 6.0, size=(16, 6))
    checks = _all_checks()
    # float64 against NumPy float64: a few ULP; float32: rounding of float32
    tolerance = {"float64": 1e-12, "float32": 1e-5}
    results: dict[str, dict[str, str]] = {check_name: {} for check_name in checks}
    failures = 0
    columns = []
    for name in names:
        xp = _namespace(name)
        device = _default_device(name)
        for dtype_name in ("float32", "float64"):
            column = f"{name} {dtype_name}"
            columns.append(column)
            dtype = getattr(xp, dtype_name)
            x = xp.astype(xp.asarray(host, device=device), dtype)
            rounded = to_host(x).astype(np.float64)  # the same values, in float64
            for check_name, run in checks.items():
                try:
                    ours, reference = run(xp, x, rounded)
                    error = _relative_error(
                        ours, np.asarray(reference, dtype=np.float64)
                    )
                    cell = (
                        "ok" if error <= tolerance[dtype_name] else f"FAIL {error:.1e}"
                    )
                    if error > 0 and cell == "ok":
                        cell = f"ok {error:.0e}"
                except Exception as exception:  # report it, keep checking
                    cell = f"ERROR {type(exception).__name__}: {exception}"[:40]
                failures += not cell.startswith("ok")
                results[check_name][column] = cell
    _print_table(results, columns)
    verdict = "all checks passed" if not failures else f"{failures} check(s) failed"
    print(
        f"\n{verdict} (max error relative to the largest value, against NumPy "
        f"float64; tolerance {tolerance['float64']:.0e} float64, "
        f"{tolerance['float32']:.0e} float32)"
    )
    return 1 if failures else 0


def _print_table(results: dict[str, dict[str, str]], columns: list[str]) -> None:
    width = max(len(name) for name in results) + 2
    widths = [max(len(c), 10) + 2 for c in columns]
    print(
        "check".ljust(width)
        + "".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    )
    for name, row in results.items():
        print(
            name.ljust(width)
            + "".join(
                row.get(c, "").ljust(w) for c, w in zip(columns, widths, strict=True)
            )
        )


# --------------------------------------------------------------- xact spiral


def spiral(args: argparse.Namespace) -> int:
    from . import datasets, optim
    from .layers import ReLU, Softmax
    from .model import Sequential

    if args.backend:
        _usable([args.backend])
    name, _ = backends.select(args.backend, enable_x64=True)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(
                "--plot needs matplotlib: pip install 'xact-activations[plot]'"
            ) from None
    xp = _namespace(name)
    device = _default_device(name)
    X, y = datasets.spiral(100, 3, seed=0, xp=xp, device=device)
    X_train, y_train = X, y
    lazy_library = {"dask": "Dask", "cubed": "Cubed"}.get(name)
    if lazy_library:  # fit is eager: train on the NumPy data, predict lazily
        X_train, y_train = datasets.spiral(100, 3, seed=0)
        print(
            f"{name}: fit is eager, so the model trains on NumPy "
            f"and predicts on {lazy_library}"
        )
    model = Sequential([Dense(2, 64, seed=1), ReLU(), Dense(64, 3, seed=2), Softmax()])
    print(
        f"training Dense(2, 64) -> ReLU -> Dense(64, 3) -> Softmax on spiral(100, 3), "
        f"backend {name}, {args.epochs} epochs"
    )
    start = time.perf_counter()
    history = model.fit(
        X_train,
        y_train,
        loss="categorical_crossentropy",
        optimizer=optim.Adam(0.02, decay=1e-4),
        epochs=args.epochs,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    if lazy_library:
        from .metrics import accuracy

        model.to(xp=xp)  # parameters as lazy arrays
        lazy = accuracy(y, model.predict(X))  # a graph until computed
        print(
            f"accuracy of the lazy prediction on {lazy_library} "
            f"{float(lazy.compute()):.3f}"
        )
    print(
        f"final accuracy {history['accuracy'][-1]:.3f}, "
        f"loss {history['loss'][-1]:.4f}, {seconds:.2f} s on {name}"
    )
    if args.plot:
        from .plotting import plot_decision_regions

        plot_decision_regions(
            model,
            X,
            y,
            args.plot,
            xp=xp,
            device=device,
            title=f"xact spiral on {name}: accuracy {history['accuracy'][-1]:.3f}",
        )
        print(f"saved {args.plot}")
    return 0


# --------------------------------------------------------------------- bench


def bench(args: argparse.Namespace) -> int:
    from . import bench as measure
    from ._registry import names

    if args.backend not in ("numpy", "torch", "jax", "cupy"):
        raise UsageError(f"unknown backend {args.backend!r}; numpy, torch, jax or cupy")
    _usable([args.backend])
    functions = measure.DEFAULT_FUNCTIONS
    if args.functions:
        functions = tuple(f.strip() for f in args.functions.split(",") if f.strip())
        unknown = [f for f in functions if f not in names()]
        if unknown:
            raise UsageError(f"unknown function(s) {', '.join(unknown)}")
    rows = measure.run(args.backend, args.size, args.dtype, functions, args.repeats)
    print("\n".join(measure.header(args.backend, args.size, args.dtype)))

    def ms(value: float | None) -> str:
        return "—" if value is None else f"{value * 1e3:.2f}"

    def ratio(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}x"

    print(
        f"\n{'function':14}{'fwd ms':>9}{'native':>9}{'ratio':>8}"
        f"{'bwd ms':>9}{'native':>9}{'ratio':>8}{'GB/s':>7}{'peak mem':>10}"
    )
    for row in rows:
        peak = "—" if row.peak_memory is None else f"{row.peak_memory:.2f}x"
        print(
            f"{row.function:14}{ms(row.forward):>9}{ms(row.native_forward):>9}"
            f"{ratio(row.forward_ratio):>8}{ms(row.backward):>9}"
            f"{ms(row.native_backward):>9}{ratio(row.backward_ratio):>8}"
            f"{row.gb_per_s:>7.1f}{peak:>10}"
        )
    forward = [r.forward_ratio for r in rows if r.forward_ratio is not None]
    if forward:
        print(f"\nmedian forward ratio {float(np.median(forward)):.2f}x")
    if args.json:
        import json

        document = {
            "header": measure.header(args.backend, args.size, args.dtype),
            "rows": [row.as_dict() for row in rows],
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
    return 0


# ---------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xact", description="Accurate activations on every array library."
    )
    parser.add_argument("--version", action="version", version=f"xact {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "info",
        help="versions, backends and devices",
        description="Show xact's version and each backend: version, "
        "devices, and whether it is usable (and why not).",
    )
    checker = commands.add_parser(
        "check",
        help="check every function on each usable backend",
        description="Run every activation (forward and backward), Dense and the losses "
        "on each usable backend against NumPy float64 and print a table. "
        "Exit code 1 on any failure.",
    )
    checker.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help=f"only this backend (repeatable): {', '.join(backends.BACKENDS)}",
    )
    trainer = commands.add_parser(
        "spiral",
        help="train the spiral classifier",
        description="Train Dense(2, 64) -> ReLU -> Dense(64, 3) -> Softmax on the "
        "spiral data with Adam; CuPy when a CUDA device is usable, else NumPy.",
    )
    trainer.add_argument(
        "--backend", metavar="NAME", help=f"one of {', '.join(backends.BACKENDS)}"
    )
    trainer.add_argument("--epochs", type=int, default=1000)
    trainer.add_argument(
        "--plot",
        metavar="FILE.png",
        help="save the decision regions and the data (needs matplotlib)",
    )
    trainer.add_argument("--quiet", action="store_true", help="no progress bar")
    bencher = commands.add_parser(
        "bench",
        help="time xact against the native kernels",
        description="Time each function's forward and backward pass against the "
        "native kernels (torch.nn.functional for NumPy and PyTorch arrays, jax.nn "
        "under jax.jit for JAX) in one run; print ratios, GB/s and peak memory.",
    )
    bencher.add_argument(
        "--backend", default="numpy", metavar="NAME", help="numpy, torch, jax or cupy"
    )
    bencher.add_argument("--size", type=int, default=10_000_000, help="elements")
    bencher.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    bencher.add_argument("--repeats", type=int, default=5, help="runs per timing")
    bencher.add_argument(
        "--functions", metavar="A,B,...", help="comma-separated (default: 18 common)"
    )
    bencher.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {"info": info, "check": check, "spiral": spiral, "bench": bench}
    try:
        if getattr(args, "epochs", 1) < 1:
            raise UsageError("--epochs must be at least 1")
        if getattr(args, "size", 1) < 1 or getattr(args, "repeats", 1) < 1:
            raise UsageError("--size and --repeats must be at least 1")
        return handlers[args.command](args)
    except UsageError as error:
        print(f"xact {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
