"""xact's CUDA kernels (xact._run.kernels.cuda, run by xact._run.cuda).

Two halves:
- NVRTC: every kernel compiles, with the options xact sets (no flush to
  zero), for sm_80 and sm_90, cached on disk; ``xact kernels``. These need
  CuPy and NVRTC (the ``cuda13`` extra), not a GPU: CI runs this module in a
  venv with them (``XACT_REQUIRE_NVRTC=1``, where a missing NVRTC fails).
- A device: CuPy arrays and CUDA tensors against mpmath (the same points
  and bounds as the CPU kernels), shapes, streams, autograd, graph capture.
  These take the ``cupy`` and ``torch:cuda`` backends, which are left out
  with one line each where there is no device.

The kernels' math is kernels.h, which the CPU kernels compile too: their
tests (test_kernels.py) hold it to mpmath on every CPU run.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import xact
from conftest import ELEMENTWISE_CASES as CASES
from conftest import Backend
from oracle import exact, half_ulp_errors, ulp_errors
from xact import cli
from xact._registry import ACTIVATIONS
from xact._run import fast as _fast
from xact._run.kernels import cuda as _cuda
from xact._run.kernels import table

try:
    from cupy_backends.cuda.libs import nvrtc
except ImportError:
    if os.environ.get("XACT_REQUIRE_NVRTC") == "1":
        raise
    nvrtc = None

needs_nvrtc = pytest.mark.skipif(
    nvrtc is None, reason="needs CuPy and NVRTC (pip install -e '.[cuda13]')"
)


# --- NVRTC: no GPU needed ---------------------------------------------------


@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_kernel_compiles(arch):
    # compile_cubin asks NVRTC for each kernel's name: one missing from the
    # source is a compile error
    image = _cuda.compile_cubin(arch)
    assert image[:4] == b"\x7fELF"
    names = [k.name for k in _cuda.kernel_names()]
    assert len(names) == len(set(names))
    families = {(k.kind, k.dtype) for k in _cuda.kernel_names()}
    assert families == {
        ("value", "float32"),
        ("vjp", "float32"),
        ("value", "float64"),
        ("vjp", "float64"),
        ("value", "float16"),
        ("value", "bfloat16"),
        ("rows", "float32"),
        ("rows", "float64"),
    }
    rows = {k.function for k in _cuda.kernel_names() if k.kind == "rows"}
    assert rows == {"softmax", "log_softmax", "softmin", "logsumexp"}


def _ftz_instructions(options):
    program = nvrtc.createProgram(_cuda.source(), "xact.cu", [], [])
    try:
        nvrtc.compileProgram(program, [*options, "-arch=compute_90"])
        ptx = nvrtc.getPTX(program)
    finally:
        nvrtc.destroyProgram(program)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    return set(re.findall(r"\b[a-z0-9]+(?:\.[a-z0-9]+)*\.ftz(?:\.[a-z0-9]+)*", ptx))


@needs_nvrtc
def test_no_flush_to_zero_in_xacts_own_code():
    # CuPy appends -ftz=true, under which even float64 -> float32 flushes
    # (sigmoid(-100) = 3.7e-44 would come back 0). With xact's options only
    # libdevice's own approximations, refined after, carry .ftz (hypot's
    # reciprocal square root seed among them).
    libdevice_seeds = {
        "ex2.approx.ftz.f32",
        "rcp.approx.ftz.f64",
        "rsqrt.approx.ftz.f64",
    }
    assert _ftz_instructions(_cuda.OPTIONS) <= libdevice_seeds
    flushed = _ftz_instructions([*_cuda.OPTIONS, "-ftz=true"])
    assert "cvt.rn.ftz.f32.f64" in flushed  # the check can see a flush


@needs_nvrtc
def test_images_are_cached_per_source_options_and_architecture(tmp_path, monkeypatch):
    monkeypatch.setenv("XACT_CACHE_DIR", str(tmp_path))
    path = _cuda.cached_cubin("sm_80")
    assert path.parent == tmp_path
    assert path.read_bytes()[:4] == b"\x7fELF"
    assert _cuda.cubin_path("sm_90") != path

    def refuse(arch):
        raise AssertionError("compiled again")

    monkeypatch.setattr(_cuda, "compile_cubin", refuse)
    assert _cuda.cached_cubin("sm_80") == path  # from the cache
    monkeypatch.setattr(_cuda, "OPTIONS", (*_cuda.OPTIONS, "-DXACT_OTHER"))
    assert _cuda.cubin_path("sm_80") != path  # other options, another image


@needs_nvrtc
def test_xact_kernels_prints_a_line_per_kernel(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XACT_CACHE_DIR", str(tmp_path))
    assert cli.main(["kernels", "--arch", "sm_90"]) == 0
    lines = capsys.readouterr().out.splitlines()
    kernels = list(_cuda.kernel_names())
    assert len(lines) == len(kernels) + 1
    for line, kernel in zip(lines, kernels, strict=False):
        assert line.split() == [
            "sm_90",
            kernel.name,
            kernel.function,
            kernel.kind,
            kernel.dtype,
        ]
    every_function = {e.name for e in ACTIVATIONS if not e.along_axis}
    assert {k.function for k in kernels if k.kind == "vjp"} == every_function


@needs_nvrtc
def test_xact_kernels_fails_with_nvrtcs_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XACT_CACHE_DIR", str(tmp_path))
    broken = _cuda.source() + "\nthis is not CUDA;\n"
    monkeypatch.setattr(_cuda, "source", lambda: broken)
    assert cli.main(["kernels", "--arch", "sm_80"]) == 1
    assert "NVRTC could not compile" in capsys.readouterr().err


def test_xact_kernels_refuses_a_bad_architecture(capsys):
    assert cli.main(["kernels", "--arch", "sm_90,volta"]) == 2
    assert "'volta'" in capsys.readouterr().err


def test_xact_kernels_without_nvrtc_says_what_to_install(monkeypatch, capsys):
    def missing():
        raise ImportError("no module named cupy_backends")

    monkeypatch.setattr(_cuda, "_nvrtc", missing)
    assert cli.main(["kernels", "--arch", "sm_80"]) == 1
    assert "cuda13" in capsys.readouterr().err


# --- on a device: CuPy arrays and PyTorch CUDA tensors ----------------------

DEVICE_BACKENDS = [
    pytest.param(Backend.CUPY, id="cupy"),
    pytest.param(Backend.TORCH_CUDA, id="torch:cuda"),
]
on_a_device = pytest.mark.parametrize("library", DEVICE_BACKENDS, indirect=True)


def to_device(library, host):
    if library == Backend.CUPY:
        import cupy

        return cupy.asarray(host)
    import torch

    return torch.asarray(host, device="cuda")


def to_host(array):
    if hasattr(array, "get"):
        return array.get()
    return array.detach().cpu().numpy()


def check_against_mpmath(result, reference, label):
    errors = ulp_errors(result, reference, np.float32)
    assert np.nanmax(errors) <= 1.0, f"{label}: {np.nanmax(errors)} ULP"
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    with np.errstate(over="ignore"):
        rounded = reference.hi.astype(np.float32)
    subnormal = ~reference.normal & ~reference.zero & ~reference.huge
    # no flush to zero: a subnormal result is rounded once
    assert np.all(np.abs(result[subnormal] - rounded[subnormal]) <= tiny), label


@pytest.fixture
def kernels_on():
    previous = _fast.use_fast_paths(True)
    yield
    _fast.use_fast_paths(previous)


@on_a_device
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_device_values_and_derivatives_within_1_ulp(kernels_on, library, case):
    values = exact("value", case, np.float32)
    slopes = exact("derivative", case, np.float32)
    f = getattr(xact, case.name)
    x = to_device(library, values.xs)
    check_against_mpmath(to_host(f(x, **case.kwargs)), values, f"{case.id} value")
    layer = xact.layers.LAYERS[_layer_name(case.name)](**case.kwargs)
    layer(x)
    dx = layer.backward(to_device(library, np.ones_like(values.xs)))
    check_against_mpmath(to_host(dx), slopes, f"{case.id} derivative")


def _layer_name(function):
    return next(e.layer for e in ACTIVATIONS if e.name == function)


@on_a_device
def test_device_shapes_strides_and_empty(kernels_on, library):
    host = np.linspace(-4, 4, 24, dtype=np.float32).reshape(2, 3, 4)
    x = to_device(library, host)
    y = xact.silu(x)
    assert tuple(y.shape) == (2, 3, 4)
    np.testing.assert_array_equal(to_host(xact.silu(x[:, ::2])), to_host(y)[:, ::2])
    assert tuple(xact.silu(to_device(library, np.float32(1.5))).shape) == ()
    assert tuple(xact.silu(to_device(library, np.empty((0, 3), np.float32))).shape) == (
        0,
        3,
    )
    np.testing.assert_array_equal(to_host(y), xact.silu(host))  # the CPU's bits


@on_a_device
@pytest.mark.parametrize("name", ["gelu", "silu", "tanh", "softplus", "hard_swish"])
def test_device_half_values_are_rounded_once(kernels_on, library, name):
    # every finite float16 number (as on the CPU, test_kernels.py): the
    # float64 result rounded once to the nearest float16
    host = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    host = host[np.isfinite(host)]
    with _fast.generic_path(), np.errstate(over="ignore"):
        reference = getattr(xact, name)(host.astype(np.float64))
    ours = to_host(getattr(xact, name)(to_device(library, host)))
    assert ours.dtype == np.float16
    errors = half_ulp_errors(ours.astype(np.float64), reference, 11, -14)
    assert errors[np.abs(reference) < 65504].max(initial=0) <= 0.5 + 1e-9, name


@pytest.mark.parametrize("library", DEVICE_BACKENDS[1:], indirect=True)
def test_device_bfloat16_values_are_rounded_once(kernels_on, library):
    import torch

    xs = (np.random.default_rng(13).standard_normal(3000) * 6).astype(np.float32)
    x = torch.from_numpy(xs).to(torch.bfloat16)
    for name in ("gelu", "silu", "tanh", "softplus"):
        ours = getattr(xact, name)(x.cuda())
        assert ours.dtype == torch.bfloat16
        assert ours.is_cuda
        with _fast.generic_path():
            reference = getattr(xact, name)(x.double()).numpy()
        got = ours.cpu().float().double().numpy()
        errors = half_ulp_errors(got, reference, 8, -126)
        assert errors.max() <= 0.5 + 1e-9, name


FLOAT64_CASES = [
    pytest.param(case, direction, id=f"{case.id}-{direction}")
    for case in CASES
    for direction in ("value", "vjp")
    if table.find(case.name, direction, case.kwargs, float64=True) is not None
]


@on_a_device
@pytest.mark.parametrize(("case", "direction"), FLOAT64_CASES)
def test_device_float64_kernels_within_4_and_8_ulp(
    kernels_on, library, case, direction
):
    # the float64 table was proven against glibc's functions: CUDA's libdevice
    # is another implementation, held to the same bounds
    kind = "value" if direction == "value" else "derivative"
    reference = exact(kind, case, np.float64)
    x = to_device(library, reference.xs)
    if direction == "value":
        result = getattr(xact, case.name)(x, **case.kwargs)
    else:
        layer = xact.layers.LAYERS[_layer_name(case.name)](**case.kwargs)
        layer(x)
        result = layer.backward(to_device(library, np.ones_like(reference.xs)))
    result = to_host(result)
    assert result.dtype == np.float64
    errors = ulp_errors(result, reference, np.float64)
    bound = 4.0 if direction == "value" else 8.0
    assert np.nanmax(errors) <= bound, f"{case.id} {kind}: {np.nanmax(errors)} ULP"


@on_a_device
@pytest.mark.parametrize("function", ["softmax", "log_softmax", "softmin"])
def test_device_softmax_family_rows_agree_with_the_cpu(kernels_on, library, function):
    # a block a row, reduced across the block in float64: another order of
    # summation than the CPU's, so within an ULP rather than the same bits
    rng = np.random.default_rng(3)
    host = (rng.standard_normal((257, 1031)) * 30).astype(np.float32)
    host[0, :5] = [np.inf, -np.inf, 0.0, -0.0, 80.0]
    host[1] = -np.inf
    mask = rng.random((1, 1031)) < 0.7
    f = getattr(xact, function)
    for where in (None, mask):
        kwargs = {} if where is None else {"where": to_device(library, where)}
        ours = to_host(f(to_device(library, host), **kwargs))
        cpu = f(host, **({} if where is None else {"where": where}))
        both_nan = np.isnan(ours) & np.isnan(cpu)
        spacing = np.spacing(np.abs(cpu).astype(np.float32))
        close = (np.abs(ours - cpu) <= spacing) | (ours == cpu) | both_nan
        assert close.all(), (function, where is not None, np.argwhere(~close)[:4])
