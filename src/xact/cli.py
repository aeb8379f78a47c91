"""The ``xact`` command: ``info``, ``check``, ``spiral`` and ``bench``.

xact info [--wide]                    versions, backends, devices
xact check [--backend NAME] [--wide]  every activation, Dense and loss against NumPy
xact spiral [--backend NAME] [--epochs N] [--plot FILE.png]
xact bench [--backend NAME] [--size N] [--dtype D] [--json FILE]

``check``, ``spiral`` and ``bench`` take ``--threads N``, ``check`` and
``spiral`` ``--device D``. What ``info`` and ``check`` print fits in 100
columns (``--wide``: everything, however long). Never a traceback for a
user's mistake or an interruption: a bad command line is one line on stderr
and exit code 2, found before any work starts; Ctrl-C is ``xact:
interrupted`` and exit code 130; a closed pipe (``xact check | head``) ends
quietly with exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, backends, losses
from ._namespace import array_device, as_namespace, to_host
from ._public import public_names
from ._registry import ACTIVATIONS
from ._run.cuda import status as cuda_status
from ._run.fast import fast_paths_enabled
from ._run.kernels import cpu_status
from .dense import Dense
from .layers import LAYERS

__all__ = ["main"]

WIDTH = 100  # columns of what info and check print without --wide


class UsageError(Exception):
    """A bad command line: one line on stderr, exit code 2."""


class RunError(Exception):
    """A command that could not finish (a file that cannot be written after
    all): one line on stderr, exit code 1."""


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


def _short(device: str) -> str:
    """``array_api_strict.Device('device1')`` -> ``device1``; others as they are."""
    found = re.fullmatch(r".*Device\('(.*)'\)", device)
    return found.group(1) if found else device


def _device(name: str, requested: str | None) -> Any:
    """The device to compute on for backend `name`: `requested` (one that
    ``backends.probe(name).devices`` lists, or its short form), else the
    backend's default."""
    if requested is None:
        return _default_device(name)
    listed = backends.probe(name).devices
    match = next((d for d in listed if requested in (d, _short(d))), None)
    if match is None:
        raise UsageError(
            f"backend {name} has no device {requested!r}; "
            f"it has {', '.join(_short(d) for d in listed) or 'none'}"
        )
    if name == "torch":
        import torch

        return torch.device(match)
    if name == "cupy":
        import cupy

        return cupy.cuda.Device(int(match.partition(":")[2]))
    if name == "jax":
        import jax

        return next(d for d in jax.devices() if str(d) == match)
    if name == "array_api_strict":
        import array_api_strict

        info = array_api_strict.__array_namespace_info__()
        return next(d for d in info.devices() if str(d) == match)
    return None  # NumPy, Dask, Cubed: "cpu", their only device and the default


def _check_devices(names: Sequence[str], requested: str | None) -> None:
    for name in names:
        _device(name, requested)


def _threads(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(f"--threads must be a positive integer, got {value!r}")
    return count


# the libraries that read these do so when they load: torch (OpenMP, MKL)
# when it is imported by the command, xact's NumPy pool when it is first used
_THREAD_VARIABLES = (
    "XACT_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


@contextmanager
def _limit_threads(count: int | None) -> Iterator[None]:
    """At most `count` CPU threads per library while a command runs (None:
    each library's default); what ``--threads`` says. Restored afterwards,
    for a caller of :func:`main` in its own process (a torch imported by the
    command keeps `count`)."""
    if count is None:
        yield
        return
    saved = {variable: os.environ.get(variable) for variable in _THREAD_VARIABLES}
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, str(count)))
    if torch is not None:
        torch.set_num_threads(count)
    try:
        with ExitStack() as stack:
            try:  # BLAS and OpenMP libraries already loaded (NumPy's OpenBLAS)
                threadpoolctl = importlib.import_module("threadpoolctl")
            except ImportError:
                pass
            else:
                stack.enter_context(threadpoolctl.threadpool_limits(count))
            yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)


def _image_types() -> dict[str, str]:
    """The file types matplotlib can save: extension -> description."""
    from matplotlib.backend_bases import FigureCanvasBase

    types: dict[str, str] = FigureCanvasBase.get_supported_filetypes()
    return types


def _output_path(option: str, path: str, *, image: bool = False) -> Path:
    """Where `option` writes, checked before any work: not a folder, in a
    folder that exists and takes a new file; an image's extension one that
    matplotlib saves (none: ``.png`` is added)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder")
    if image:
        extension = target.suffix.lower().removeprefix(".")
        if not extension:
            target = target.with_name(target.name + ".png")
        elif extension not in _image_types():
            known = ", ".join(f".{e}" for e in sorted(_image_types()))
            raise UsageError(
                f"{option} {path}: matplotlib cannot save .{extension} files; "
                f"use one of {known}"
            )
    if target.is_dir():  # PATH.png
        raise UsageError(f"{option} {target}: is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: no folder {folder}")
    try:  # the one test that covers permissions, read-only disks and /proc
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(
            f"{option} {path}: cannot write in {folder}: {error.strerror}"
        ) from None
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{option} {path}: the file is read-only")
    return target


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# ----------------------------------------------------------------- xact info


def info(args: argparse.Namespace) -> int:
    statuses = backends.available()
    version_width = max(len(status.version or "-") for status in statuses.values())
    print(f"xact {__version__} (Python {sys.version.split()[0]})")
    for name, status in statuses.items():
        start = f"  {name:17} {status.version or '-':{version_width}}  "
        if status.usable:
            start += "usable on "
            line = start + _devices(status.devices, WIDTH - len(start), args.wide)
        elif status.version is None and status.reason.startswith("not importable"):
            line = start + "not installed"
        else:
            line = start + f"not usable: {status.reason}"
        print(line if args.wide else _clip(line, WIDTH))
    paths = "on" if fast_paths_enabled() else "off (XACT_FAST_PATHS=0)"
    line = f"fast paths {paths}; CPU kernels (NumPy, torch CPU): {cpu_status()}"
    print(line if args.wide else _clip(line, WIDTH))
    line = f"CUDA kernels (CuPy, torch CUDA): {cuda_status()}"
    print(line if args.wide else _clip(line, WIDTH))
    return 0


def _devices(devices: Sequence[str], room: int, wide: bool) -> str:
    """The devices, as many as fit in `room` columns and "+N more" (all of
    them if `wide`)."""
    if wide or not devices:
        return ", ".join(devices)
    for shown in range(len(devices), 0, -1):
        text = ", ".join(devices[:shown])
        if shown < len(devices):
            text += f" +{len(devices) - shown} more (--wide)"
        if len(text) <= room:
            return text
    return _clip(f"{devices[0]} +{len(devices) - 1} more", room)


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
    _check_devices(names, args.device)
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
        device = _device(name, args.device)
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
                    message = " ".join(str(exception).split())  # one line
                    cell = f"ERROR {type(exception).__name__}: {message}"
                failures += not cell.startswith("ok")
                results[check_name][column] = cell
    _print_table(results, columns, wide=args.wide)
    verdict = "all checks passed" if not failures else f"{failures} check(s) failed"
    summary = (
        f"{verdict} (max error relative to the largest value, against NumPy "
        f"float64; tolerance {tolerance['float64']:.0e} float64, "
        f"{tolerance['float32']:.0e} float32)"
    )
    print("\n" + (summary if args.wide else textwrap.fill(summary, WIDTH)))
    return 1 if failures else 0


def _print_table(
    results: dict[str, dict[str, str]], columns: list[str], *, wide: bool
) -> None:
    """One table; without `wide`, as many as it takes to stay within WIDTH
    columns (a backend's columns kept together), with an error cell reading
    ERROR and its message written out beneath."""
    errors = []
    cells = {name: dict(row) for name, row in results.items()}
    if not wide:
        for name, row in cells.items():
            for column, cell in row.items():
                if cell.startswith("ERROR "):
                    errors.append(f"{name}, {column}: {cell.removeprefix('ERROR ')}")
                    row[column] = "ERROR"
    first = max(len(name) for name in cells) + 2
    widths = {  # 12: "FAIL 1.2e-09"
        c: max(len(c), 12, *(len(row.get(c, "")) for row in cells.values())) + 2
        for c in columns
    }
    groups: dict[str, list[str]] = {}  # backend -> its columns
    for column in columns:
        groups.setdefault(column.rsplit(" ", 1)[0], []).append(column)
    tables: list[list[str]] = [[]]
    for group in groups.values():
        width = first + sum(widths[c] for c in [*tables[-1], *group]) - 2
        if tables[-1] and width > WIDTH and not wide:
            tables.append([])
        tables[-1].extend(group)

    def line(label: str, row: dict[str, str], table: list[str]) -> str:
        text = label.ljust(first) + "".join(
            row.get(c, "").ljust(widths[c]) for c in table
        )
        return text.rstrip()

    for number, table in enumerate(tables):
        if number:
            print()
        print(line("check", {c: c for c in table}, table))
        for name, row in cells.items():
            print(line(name, row, table))
    if errors:
        print("\nerrors:")
        for error in errors:
            print(
                textwrap.fill(
                    error, WIDTH, initial_indent="  ", subsequent_indent="    "
                )
            )


# --------------------------------------------------------------- xact spiral


def spiral(args: argparse.Namespace) -> int:
    from . import datasets, optim
    from .layers import ReLU, Softmax
    from .model import Sequential

    if args.backend:
        _usable([args.backend])
    plots: tuple[Path, Path] | None = None
    if args.plot:  # every check before the training, which takes a while
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(
                "--plot needs matplotlib: pip install 'xact-activations[plot]'"
            ) from None
        regions = _output_path("--plot", args.plot, image=True)
        plots = regions, regions.with_name(f"{regions.stem}_curves{regions.suffix}")
    name, _ = backends.select(args.backend, enable_x64=True)
    device = _device(name, args.device)
    xp = _namespace(name)
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
    where = f"backend {name}" + (f" on {args.device}" if args.device else "")
    if args.threads:
        where += f", {args.threads} thread{'s' if args.threads > 1 else ''}"
    print("training Dense(2, 64) -> ReLU -> Dense(64, 3) -> Softmax on spiral(100, 3)")
    print(f"{where}, {args.epochs} epochs")
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
    if plots:
        from matplotlib.figure import Figure

        from .plotting import plot_decision_regions, plot_history

        regions, curves = plots
        title = f"xact spiral on {name}: accuracy {history['accuracy'][-1]:.3f}"
        try:  # figures without pyplot: no GUI, nothing global, nothing left open
            plot_decision_regions(
                model,
                X,
                y,
                str(regions),
                xp=xp,
                device=device,
                title=title,
                figure=Figure(figsize=(6, 6)),
            )
            print(f"saved the decision regions to {regions}")
            plot_history(
                history, str(curves), title=title, figure=Figure(figsize=(10, 3.5))
            )
            print(f"saved the loss and accuracy curves to {curves}")
        except OSError as error:  # checked before training; changed since
            raise RunError(
                f"cannot save {error.filename or 'the figure'}: {error.strerror}"
            ) from None
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
    report = _output_path("--json", args.json) if args.json else None
    device = _device(args.backend, args.device)
    rows = measure.run(
        args.backend, args.size, args.dtype, functions, args.repeats, device
    )
    print("\n".join(measure.header(args.backend, args.size, args.dtype)))
    on_cuda = any(row.percent_of_peak is not None for row in rows)

    def ms(value: float | None) -> str:
        return "—" if value is None else f"{value * 1e3:.2f}"

    def ratio(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}x"

    last = "% of peak" if on_cuda else "peak mem"
    print(
        f"\n{'function':14}{'fwd ms':>9}{'native':>9}{'ratio':>8}"
        f"{'bwd ms':>9}{'native':>9}{'ratio':>8}{'GB/s':>7}{last:>10}"
    )
    for row in rows:
        if on_cuda:
            peak = f"{row.percent_of_peak:.0f}%" if row.percent_of_peak else "—"
        else:
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
    if report:
        import json

        document = {
            "header": measure.header(args.backend, args.size, args.dtype),
            "rows": [row.as_dict() for row in rows],
        }
        try:
            report.write_text(json.dumps(document, indent=2), encoding="utf-8")
        except OSError as error:  # checked before the run; changed since
            raise RunError(f"cannot write {report}: {error.strerror}") from None
    return 0


# ---------------------------------------------------------------------- main


_THREADS_HELP = (
    "CPU threads per library: PyTorch's (torch.set_num_threads), xact's "
    "NumPy pool (XACT_NUM_THREADS), and BLAS and OpenMP through threadpoolctl "
    "when it is installed (else OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and "
    "MKL_NUM_THREADS, which reach only libraries loaded after the start: "
    "NumPy's BLAS is loaded before). JAX keeps its own."
)


def kernels(args: argparse.Namespace) -> int:
    """Compile every CUDA kernel with NVRTC (no GPU needed) for each
    architecture, cache the images, and print one line per kernel."""
    try:
        from ._run.kernels import cuda
    except ImportError as error:  # pragma: no cover - the module is ours
        raise RunError(str(error)) from None
    architectures = args.arch.split(",") if args.arch else _local_architectures()
    for arch in architectures:
        if not re.fullmatch(r"sm_\d+[a-z]?", arch):
            raise UsageError(f"--arch: {arch!r} is not an architecture such as sm_90")
    try:
        for arch in architectures:
            path = cuda.cached_cubin(arch)
            for kernel in cuda.kernel_names():
                print(
                    f"{arch}  {kernel.name:<48} {kernel.function} "
                    f"{kernel.kind} {kernel.dtype}"
                )
            print(f"{arch}: {sum(1 for _ in cuda.kernel_names())} kernels in {path}")
    except ImportError:
        raise RunError(
            "NVRTC not found: install CuPy and NVRTC "
            "(pip install 'xact-activations[cuda13]')"
        ) from None
    except cuda.KernelCompileError as error:
        raise RunError(str(error)) from None
    return 0


def _local_architectures() -> list[str]:
    """The architecture of each local CUDA device, else sm_80 and sm_90."""
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
        found = {f"sm_{cupy.cuda.Device(i).compute_capability}" for i in range(count)}
    except Exception:  # no CuPy, no driver or no device: the defaults
        found = set()
    from ._run.kernels.cuda import DEFAULT_ARCHITECTURES

    return sorted(found) or list(DEFAULT_ARCHITECTURES)


def _add_threads(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--threads",
        metavar="N",
        default=default,
        help=_THREADS_HELP
        + (
            f" Default {default}: these arrays are small, and more threads cost "
            "more than they save (spiral on PyTorch: 0.2 s with 1 thread, 3.4 s "
            "with 2 on 2 cores)."
            if default
            else " Default: each library's own."
        ),
    )


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        metavar="D",
        help="a device the backend lists in `xact info --wide` (cpu, cuda:1, "
        "a JAX device such as cpu:0, array-api-strict's device1); "
        "default: CUDA for PyTorch when there is one, else the backend's default",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xact", description="Accurate activations on every array library."
    )
    parser.add_argument("--version", action="version", version=f"xact {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    informer = commands.add_parser(
        "info",
        help="versions, backends and devices",
        description="Show xact's version and each backend: version, "
        "devices, and whether it is usable (and why not).",
    )
    informer.add_argument(
        "--wide", action="store_true", help="every device, lines of any length"
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
    _add_device(checker)
    _add_threads(checker, "1")
    checker.add_argument(
        "--wide",
        action="store_true",
        help="one table, error messages in it (else tables within 100 columns)",
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
    _add_device(trainer)
    trainer.add_argument("--epochs", type=int, default=1000)
    trainer.add_argument(
        "--plot",
        metavar="FILE.png",
        help="save the decision regions and the data to FILE.png and the loss "
        "and accuracy curves to FILE_curves.png (needs matplotlib; any "
        "extension matplotlib saves; none: .png)",
    )
    _add_threads(trainer, "1")
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
    _add_device(bencher)
    _add_threads(bencher, None)
    compiler = commands.add_parser(
        "kernels",
        help="compile every CUDA kernel (no GPU needed)",
        description="Compile xact's CUDA kernels with NVRTC for each architecture, "
        "cache the images (XACT_CACHE_DIR, else CuPy's cache folder) and print "
        "one line per kernel. Exit code 1 on any failure.",
    )
    compiler.add_argument(
        "--arch",
        metavar="sm_80,sm_90,...",
        help="comma-separated; default: the local devices', else sm_80 and sm_90",
    )
    return parser


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {
        "info": info,
        "check": check,
        "spiral": spiral,
        "bench": bench,
        "kernels": kernels,
    }
    try:
        if getattr(args, "epochs", 1) < 1:
            raise UsageError("--epochs must be at least 1")
        if getattr(args, "size", 1) < 1 or getattr(args, "repeats", 1) < 1:
            raise UsageError("--size and --repeats must be at least 1")
        args.threads = _threads(getattr(args, "threads", None))
        with _limit_threads(args.threads):
            return handlers[args.command](args)
    except UsageError as error:
        print(f"xact {args.command}: {error}", file=sys.stderr)
        return 2
    except RunError as error:
        print(f"xact {args.command}: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default ``sys.argv[1:]``); the exit code."""
    try:
        try:
            return _run(argv)
        finally:  # a closed pipe shows here, caught below, not at exit
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("xact: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended
    except BrokenPipeError:
        # The reader went away (xact check | head -3). Python would flush
        # stdout again at exit and print "Exception ignored ... BrokenPipeError":
        # point stdout at /dev/null so nothing more is written. Exit code 1,
        # not 0: the output was not all delivered, and `set -o pipefail` should
        # know (the recipe of Python's signal documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


__dir__ = public_names(__all__)


if __name__ == "__main__":
    raise SystemExit(main())
