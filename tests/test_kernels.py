"""xact's compiled CPU kernels (xact._run.kernels): generated from the wide
formulas, built by pip install, within 1 ULP of mpmath in float32, the same
bits for an element wherever it stands, and optional.

These tests call the public functions and layers on float32 NumPy arrays,
which is where the kernels serve, and hold them to mpmath; the rest of the
suite runs them too (the ``numpy`` backend) against its own bounds.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest

import xact
from conftest import ELEMENTWISE_CASES as CASES
from oracle import exact, half_ulp_errors, ulp_errors
from xact._registry import ACTIVATIONS
from xact._run import fast as _fast
from xact._run import kernels as _kernels
from xact._run.kernels import table
from xact.layers import LAYERS

LAYER_OF = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}
LAYER_DEFAULTS = {e.name: e.defaults for e in ACTIVATIONS}
KERNEL_ULP_BOUND = 1.0
SOURCE = Path(_kernels.__file__).with_name("kernels.h")
SPECIAL = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=np.float32)


def value(case, x):
    return getattr(xact, case.name)(x, **case.kwargs)


def vjp(case, x, d=None):
    layer = LAYER_OF[case.name](**case.kwargs)
    layer(x)
    return layer.backward(np.ones_like(x) if d is None else d)


def test_the_generated_source_is_current():
    assert SOURCE.read_text() == table.c_source(), (
        "src/xact/_run/kernels/kernels.h differs from the formulas: "
        "run python tools/gen_kernels.py"
    )


def test_the_extension_is_built_here():
    # CI installs with the README's command: a build that silently failed
    # would leave every test below on the generic path
    if os.environ.get("XACT_NO_KERNELS") == "1":
        pytest.skip("XACT_NO_KERNELS=1: installed without the kernels on purpose")
    assert _kernels.cpu() is not None, _kernels.cpu_status()
    assert "compiled" in _kernels.cpu_status()


@pytest.mark.parametrize("direction", table.DIRECTIONS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_function_and_setting_has_a_kernel(case, direction):
    assert table.find(case.name, direction, case.kwargs) is not None


@pytest.fixture
def kernels_on():
    if _kernels.cpu() is None:
        pytest.fail(f"the compiled kernels are missing: {_kernels.cpu_status()}")
    previous = _fast.use_fast_paths(True)
    yield
    _fast.use_fast_paths(previous)


def check_against_mpmath(result, reference, label):
    errors = ulp_errors(result, reference, np.float32)
    assert np.nanmax(errors) <= KERNEL_ULP_BOUND, f"{label}: {np.nanmax(errors)} ULP"
    # where the exact value is not a normal float32: zero is zero, a
    # subnormal is rounded once (no flush to zero), beyond the range is ±inf
    hi = reference.hi
    with np.errstate(over="ignore"):
        rounded = hi.astype(np.float32)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    subnormal = ~reference.normal & ~reference.zero & ~reference.huge
    assert np.all(result[reference.zero] == 0), label
    assert np.all(np.abs(result[subnormal] - rounded[subnormal]) <= tiny), label
    assert np.array_equal(result[reference.huge], rounded[reference.huge]), label


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_values_within_1_ulp_of_mpmath(kernels_on, case):
    reference = exact("value", case, np.float32)
    result = value(case, reference.xs)
    assert result.dtype == np.float32
    check_against_mpmath(result, reference, f"{case.id} value")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_derivatives_within_1_ulp_of_mpmath(kernels_on, case):
    reference = exact("derivative", case, np.float32)
    result = vjp(case, reference.xs)
    assert result.dtype == np.float32
    check_against_mpmath(result, reference, f"{case.id} derivative")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_infinities_nan_and_zeros_as_on_the_generic_path(kernels_on, case):
    d = np.array([1.0, 1.0, 1.0, 2.0, -2.0], dtype=np.float32)
    ours = value(case, SPECIAL), vjp(case, SPECIAL, d)
    with _fast.generic_path():
        generic = value(case, SPECIAL), vjp(case, SPECIAL, d)
    for kernel, reference in zip(ours, generic, strict=True):
        # the limits at ±inf and NaN (±0 is a point of the mpmath tests,
        # where the generic path may be an ULP off), and the signs at ±0
        np.testing.assert_array_equal(kernel[:3], reference[:3], err_msg=case.id)
        np.testing.assert_array_equal(np.signbit(kernel[3:]), np.signbit(reference[3:]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_an_element_has_the_same_bits_at_every_size_and_offset(kernels_on, case, dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(1000) * 8).astype(dtype)
    d = rng.standard_normal(1000).astype(dtype)
    whole = value(case, x), vjp(case, x, d)
    for start, stop in [(0, 1), (1, 2), (3, 70), (63, 64), (64, 130), (5, 1000)]:
        part = value(case, x[start:stop]), vjp(case, x[start:stop], d[start:stop])
        for ours, reference in zip(part, whole, strict=True):
            np.testing.assert_array_equal(ours, reference[start:stop])
    # a strided view is copied, and gives the same bits again
    strided = value(case, x[::3]), vjp(case, x[::3], d[::3])
    for ours, reference in zip(strided, whole, strict=True):
        np.testing.assert_array_equal(ours, reference[::3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_shares_give_the_bits_of_one_thread(kernels_on, monkeypatch, dtype):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(3 * _fast.KERNEL_THREADED + 17) * 8).astype(dtype)
    d = rng.standard_normal(x.shape).astype(dtype)
    silu = next(c for c in CASES if c.name == "silu")
    threaded = xact.gelu(x), xact.mish(x), vjp(silu, x, d)
    monkeypatch.setenv("XACT_NUM_THREADS", "1")
    single = xact.gelu(x), xact.mish(x), vjp(silu, x, d)
    for ours, reference in zip(threaded, single, strict=True):
        np.testing.assert_array_equal(ours, reference)


def test_shapes_and_read_only_input(kernels_on):
    x = np.linspace(-4, 4, 24, dtype=np.float32).reshape(2, 3, 4)
    x.flags.writeable = False
    y = xact.silu(x)
    assert y.shape == (2, 3, 4)
    assert y.flags.writeable
    assert xact.silu(np.float32(1.5).reshape(())).shape == ()
    assert xact.silu(np.empty((0, 3), np.float32)).shape == (0, 3)
    np.testing.assert_array_equal(xact.silu(x[:, ::2]), y[:, ::2])


def test_without_the_extension_the_generic_path_runs(monkeypatch):
    # what a machine without a C compiler at install time runs
    x = exact("value", CASES[0], np.float32).xs
    monkeypatch.setattr(_kernels, "_cpu", None)
    monkeypatch.setattr(_kernels, "_missing", "no module named xact._run.kernels._cpu")
    assert _kernels.cpu_status().startswith("not built")
    for case in CASES[:8]:
        reference = exact("value", case, np.float32)
        errors = ulp_errors(value(case, reference.xs), reference, np.float32)
        assert np.nanmax(errors) <= 4.0, case.id
    assert xact.gelu(x).dtype == np.float32


# --- PyTorch CPU tensors: the same kernels, under autograd ------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="needs PyTorch")  # the torch extra


def torch_value_and_grad(torch, case, xs, dtype=None):
    x = torch.tensor(xs, dtype=dtype or torch.float32, requires_grad=True)
    y = getattr(xact, case.name)(x, **case.kwargs)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach().numpy(), g.numpy()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_autograd_through_xact_is_within_1_ulp(kernels_on, torch, case):
    # autograd used to differentiate the composition of torch operations
    # (tanh' at 15.94 was 1.7e7 ULP off); now it runs xact's derivative
    values = exact("value", case, np.float32)
    slopes = exact("derivative", case, np.float32)
    y, g = torch_value_and_grad(torch, case, values.xs)
    check_against_mpmath(y, values, f"{case.id} value on torch")
    check_against_mpmath(g, slopes, f"{case.id} autograd on torch")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_float64_autograd_through_xact_is_within_4_and_8_ulp(
    kernels_on, torch, case
):
    # float64 autograd differentiated the composition (tanh' 9e15 ULP off at
    # -103.3, silu' 402 ULP); now the float64 kernels, or where none serves
    # (another parameter) the math and xact's analytic backward
    values = exact("value", case, np.float64)
    slopes = exact("derivative", case, np.float64)
    y, g = torch_value_and_grad(torch, case, values.xs, torch.float64)
    assert y.dtype == np.float64
    assert np.nanmax(ulp_errors(y, values, np.float64)) <= 4.0, case.id
    assert np.nanmax(ulp_errors(g, slopes, np.float64)) <= 8.0, case.id


DEFAULT_CASES = [c for c in CASES if c.kwargs == dict(LAYER_DEFAULTS[c.name])]


# torch loads its forward-AD decompositions through torch.jit.script
@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", DEFAULT_CASES, ids=[c.id for c in DEFAULT_CASES])
def test_torch_func_transforms_take_xacts_derivative(kernels_on, torch, case, dtype):
    # grad, vmap of grad and jacfwd differentiated the composition of torch
    # operations; now xact's derivative: 1 ULP in float32, 8 in float64
    np_dtype = np.dtype(dtype).type
    slopes = exact("derivative", case, np_dtype)
    x = torch.tensor(slopes.xs, dtype=getattr(torch, dtype))
    f = getattr(xact, case.name)

    def total(t):
        return f(t, **case.kwargs).sum()

    grad = torch.func.grad(total)(x)
    batched = torch.func.vmap(torch.func.grad(lambda t: f(t, **case.kwargs)))(x)
    bound = 1.0 if dtype == "float32" else 8.0
    for label, g in (("grad", grad), ("vmap of grad", batched)):
        g = g.numpy()
        assert g.dtype == np_dtype, label
        if dtype == "float32":
            check_against_mpmath(g, slopes, f"{case.id} torch.func {label}")
        else:
            errors = ulp_errors(g, slopes, np.float64)
            assert np.nanmax(errors) <= bound, f"{case.id} {label}"
    # forward mode, on points off the kinks
    smooth = torch.linspace(-3.9, 3.9, 16, dtype=getattr(torch, dtype))
    forward = torch.func.jacfwd(lambda t: f(t, **case.kwargs))(smooth).diagonal()
    reverse = torch.func.grad(lambda t: f(t, **case.kwargs).sum())(smooth)
    np.testing.assert_array_equal(forward.numpy(), reverse.numpy())


TRANSFORMED = ["gelu", "silu", "elu", "softplus", "tanh", "hard_swish"]


# torch loads its decompositions (forward AD, compile) through torch.jit.script
@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.parametrize("name", TRANSFORMED)
def test_torch_transforms_agree_with_float64(kernels_on, torch, name):
    # grad, vmap, jacfwd and forward AD run the kernels (or, under
    # torch.func, the composed math); a double backward differentiates the
    # composed derivative. The reference: the same in float64, on the
    # generic path, at points off every kink.
    f = getattr(xact, name)

    def computed(x):
        t = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t).sum(), t, create_graph=True)
        (gg,) = torch.autograd.grad(g.sum(), t)
        with torch.autograd.forward_ad.dual_level():
            dual = torch.autograd.forward_ad.make_dual(x, torch.ones_like(x))
            tangent = torch.autograd.forward_ad.unpack_dual(f(dual)).tangent
        return [
            g.detach(),
            gg,
            torch.func.grad(lambda t: f(t).sum())(x),
            torch.func.vmap(f)(x.reshape(1, -1))[0],
            torch.func.jacfwd(f)(x).diagonal(),
            tangent,
        ]

    x = torch.linspace(-3.9, 3.9, 16)
    ours = computed(x)
    with _fast.generic_path():
        reference = computed(x.double())
    labels = ["grad", "double backward", "func.grad", "vmap", "jacfwd", "forward AD"]
    for label, a, b in zip(labels, ours, reference, strict=True):
        assert a is not None, label
        assert a.dtype == torch.float32, label
        np.testing.assert_allclose(
            a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=label
        )


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.parametrize(
    "compiler",
    [
        "eager",  # Dynamo traces xact's composed math
        pytest.param("inductor", marks=pytest.mark.exhaustive),  # C++: 30 s cold
    ],
)
def test_torch_compile_runs_xact(kernels_on, torch, compiler):
    x = torch.linspace(-4.0, 4.0, 33)
    compiled = torch.compile(lambda t: xact.gelu(t) * 2.0, backend=compiler)
    np.testing.assert_allclose(
        compiled(x).numpy(), (xact.gelu(x) * 2.0).numpy(), rtol=2e-6, atol=1e-7
    )


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.parametrize("name", xact.names())
def test_torch_compile_traces_every_function_in_one_graph(kernels_on, torch, name):
    # fullgraph: a graph break is an error (array-api-compat's scalar
    # promotion asked torch.result_type, which Dynamo cannot trace)
    f = getattr(xact, name)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: f(t).sum(), fullgraph=True, backend="eager")

    def value_and_grad(call):
        t = torch.linspace(-4.0, 4.0, 34, requires_grad=True)
        y = call(t)
        (g,) = torch.autograd.grad(y, t)
        return y.detach().numpy(), g.numpy()

    # the elementwise functions are one registered operator in the graph
    # (xact::value, its derivative xact::vjp): the same bits as eager; the
    # softmax family is traced as composed math (eager: the row kernels)
    for a, b in zip(
        value_and_grad(compiled), value_and_grad(lambda t: f(t).sum()), strict=True
    ):
        if name in ROW_FUNCTIONS or name == "glu":
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["gelu", "silu", "tanh", "mish", "softplus"])
def test_torch_compile_takes_xacts_derivative(kernels_on, torch, name, dtype):
    # torch.compile differentiated the traced composition (silu' 402 ULP off
    # in float64); the registered operator's derivative is xact's: 1 ULP in
    # float32, 8 in float64, against mpmath, double backward included
    case = next(c for c in DEFAULT_CASES if c.name == name)
    np_dtype = np.dtype(dtype).type
    slopes = exact("derivative", case, np_dtype)
    f = getattr(xact, name)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: f(t).sum(), fullgraph=True, backend="eager")
    x = torch.tensor(slopes.xs, dtype=getattr(torch, dtype), requires_grad=True)
    (g,) = torch.autograd.grad(compiled(x), x)
    if dtype == "float32":
        check_against_mpmath(g.numpy(), slopes, f"{name} under torch.compile")
    else:
        assert np.nanmax(ulp_errors(g.numpy(), slopes, np.float64)) <= 8.0, name
    smooth = torch.linspace(-3.9, 3.9, 16, dtype=getattr(torch, dtype))
    smooth.requires_grad_(True)
    (first,) = torch.autograd.grad(compiled(smooth), smooth, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), smooth)
    (eager_first,) = torch.autograd.grad(f(smooth).sum(), smooth, create_graph=True)
    (eager_second,) = torch.autograd.grad(eager_first.sum(), smooth)
    np.testing.assert_allclose(
        second.numpy(), eager_second.numpy(), rtol=1e-5, atol=1e-6
    )


def test_the_kernels_take_torchs_thread_count_for_tensors(
    kernels_on, torch, monkeypatch
):
    # a tensor's kernels use torch.get_num_threads(), not xact's pool size
    seen = []
    original = _fast._in_parallel

    def counting(size, chunk, run):
        seen.append(_fast._threads())
        original(size, chunk, run)

    monkeypatch.setattr(_fast, "_in_parallel", counting)
    monkeypatch.setenv("XACT_NUM_THREADS", "2")
    x = torch.linspace(-3.0, 3.0, 3 * _fast.KERNEL_THREADED)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = xact.gelu(x)
        torch.set_num_threads(2)
        two = xact.gelu(x)
    finally:
        torch.set_num_threads(previous)
    assert seen == [2]  # one thread ran it alone: no pool
    torch.testing.assert_close(one, two, rtol=0, atol=0)
    xact.gelu(x.numpy())
    assert seen == [2, 2]  # a NumPy array: XACT_NUM_THREADS


def test_torch_tensors_without_grad_are_zero_copy_inputs(kernels_on, torch):
    x = torch.linspace(-3.0, 3.0, 1000)
    y = xact.mish(x)
    assert type(y) is torch.Tensor
    assert y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), xact.mish(x.numpy()))
    strided = x.reshape(10, 100)[:, ::3]
    np.testing.assert_array_equal(
        xact.mish(strided).numpy(), y.reshape(10, 100)[:, ::3].numpy()
    )


def test_a_repeated_call_takes_the_short_lane_with_the_same_bits(kernels_on):
    x = np.linspace(-5.0, 5.0, 64, dtype=np.float32)
    first = xact.leaky_relu(x, negative_slope=0.25)  # checks, fills the lane
    lane = _fast.lane("leaky_relu", x, {"negative_slope": 0.25})
    assert lane is not None
    np.testing.assert_array_equal(lane, first)
    np.testing.assert_array_equal(xact.leaky_relu(x, negative_slope=0.25), first)
    # another type or sign of an equal parameter is another key
    assert _fast.lane("leaky_relu", x, {"negative_slope": 1}) is None
    assert _fast.lane("leaky_relu", x, {"negative_slope": True}) is None
    xact.leaky_relu(x, negative_slope=0.0)
    assert _fast.lane("leaky_relu", x, {"negative_slope": -0.0}) is None
    with _fast.generic_path():  # the lane is closed with the fast paths
        assert _fast.lane("leaky_relu", x, {"negative_slope": 0.25}) is None
    with pytest.raises(ValueError, match="negative_slope"):  # still checked
        xact.leaky_relu(x, negative_slope=float("nan"))


# torch loads its forward-AD decompositions through torch.jit.script
@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
def test_a_repeated_call_on_a_tensor_takes_the_short_lane_with_the_same_bits(
    kernels_on, torch
):
    x = torch.linspace(-5.0, 5.0, 64)
    first = xact.silu(x)  # resolves, checks, fills the lane
    lane = _fast.lane("silu", x, {})
    assert type(lane) is torch.Tensor
    torch.testing.assert_close(lane, first, rtol=0, atol=0)
    # autograd, a transform or a trace: the general path, not the lane
    assert _fast.lane("silu", x.clone().requires_grad_(True), {}) is None
    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.make_dual(x, torch.ones_like(x))
        assert _fast.lane("silu", dual, {}) is None
    seen = []

    def probe(t):
        seen.append(_fast.lane("silu", t, {}))
        return t

    torch.func.vmap(probe)(x[None])
    assert seen == [None]
    tangent = torch.ones_like(x)
    (g,) = torch.autograd.grad(xact.silu(x.requires_grad_(True)), x, tangent)
    torch.testing.assert_close(
        g, torch.func.jvp(xact.silu, (x.detach(),), (tangent,))[1]
    )


@pytest.mark.exhaustive  # a wheel build: seconds
def test_a_machine_without_a_c_compiler_still_builds_xact(tmp_path):
    import subprocess
    import sys
    import zipfile

    root = Path(xact.__file__).resolve().parents[2]
    env = {**os.environ, "CC": "/bin/false"}
    build = ["wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    subprocess.run(
        [sys.executable, "-m", "pip", *build, "-w", str(tmp_path), str(root)],
        check=True,
        env=env,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "xact/_run/kernels/kernels.h" in names
    assert not any(name.endswith(".so") for name in names)


# --- the softmax family: row kernels ------------------------------------------

ROW_FUNCTIONS = ["softmax", "log_softmax", "softmin"]


def float32_ulps(result, reference64):
    """|result - reference| in float32 ULPs of the reference (float64)."""
    exact32 = reference64.astype(np.float32)
    spacing = np.spacing(np.abs(exact32)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return np.abs(result.astype(np.float64) - reference64) / spacing


ROWS32 = [(r.function, r.masked) for r in table.rows(float64=False)]
ROWS64 = [(r.function, r.masked) for r in table.rows(float64=True)]


def _row_call(name, x, **kwargs):
    if name == "logsumexp":
        return xact.logsumexp(x, keepdims=True)  # one value a row
    return getattr(xact, name)(x, **kwargs)


# softmin takes no mask, logsumexp neither
@pytest.mark.parametrize(("name", "masked"), ROWS32)
def test_rows_within_1_ulp_of_float64(kernels_on, name, masked):
    rng = np.random.default_rng(11)
    for length in (1, 2, 7, 8, 63, 64, 65, 130, 1000):
        x = (rng.standard_normal((37, length)) * 6).astype(np.float32)
        kwargs = {}
        if masked:
            kwargs["where"] = rng.uniform(size=x.shape) < 0.7
        ours = _row_call(name, x, **kwargs)
        assert ours.dtype == np.float32
        with _fast.generic_path():
            reference = _row_call(name, x.astype(np.float64), **kwargs)
        finite = np.isfinite(reference) & (reference != 0)
        errors = float32_ulps(ours[finite], reference[finite])
        assert errors.max(initial=0) <= KERNEL_ULP_BOUND, (name, length)
        np.testing.assert_array_equal(ours[~finite], reference[~finite])


def _exact_rows(name, x, where):
    """The softmax family (or logsumexp) of float64 rows, by mpmath."""
    out = np.empty(x.shape[:-1] + ((1,) if name == "logsumexp" else x.shape[-1:]))
    with mpmath.workdps(50):
        for r in range(x.shape[0]):
            keep = np.ones(x.shape[1], bool) if where is None else where[r]
            sign = -1 if name == "softmin" else 1
            terms = [mpmath.exp(sign * mpmath.mpf(v)) for v in x[r]]
            total = mpmath.fsum(t for t, k in zip(terms, keep, strict=True) if k)
            if name == "logsumexp":
                out[r, 0] = float(mpmath.log(total))
            elif name == "log_softmax":
                out[r] = [
                    float(mpmath.log(t / total)) if k and total else -np.inf
                    for t, k in zip(terms, keep, strict=True)
                ]
            else:
                out[r] = [
                    float(t / total) if k and total else 0.0
                    for t, k in zip(terms, keep, strict=True)
                ]
    return out


@pytest.mark.parametrize(("name", "masked"), ROWS64)
def test_float64_rows_within_8_ulp_of_mpmath(kernels_on, name, masked):
    # the float64 row kernels run the generic path's exact math, compiled
    rng = np.random.default_rng(21)
    for length in (1, 3, 8, 65, 300):
        x = rng.uniform(-20.0, 20.0, size=(9, length))
        where = rng.uniform(size=x.shape) < 0.7 if masked else None
        ours = _row_call(name, x, **({} if where is None else {"where": where}))
        assert ours.dtype == np.float64
        reference = _exact_rows(name, x, where)
        finite = np.isfinite(reference) & (reference != 0)
        spacing = np.spacing(np.abs(reference[finite]))
        errors = np.abs(ours[finite] - reference[finite]) / spacing
        assert errors.max(initial=0) <= 8.0, (name, length, errors.max())
        np.testing.assert_array_equal(ours[~finite], reference[~finite])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [*ROW_FUNCTIONS, "logsumexp"])
def test_rows_have_the_same_bits_in_every_layout_and_thread_count(
    kernels_on, monkeypatch, name, dtype
):
    # the axis goes last into one contiguous buffer: a Fortran-ordered or
    # transposed array, or another axis, gives the contiguous copy's bits
    # (NumPy's own sums differed in 368 of 1,088 elements of softmax(axis=0))
    rng = np.random.default_rng(23)
    x = (rng.standard_normal((17, 64)) * 7).astype(dtype)
    for axis in (0, 1):
        contiguous = getattr(xact, name)(np.ascontiguousarray(x), axis=axis)
        fortran = getattr(xact, name)(np.asfortranarray(x), axis=axis)
        moved = getattr(xact, name)(np.ascontiguousarray(x.T), axis=1 - axis)
        np.testing.assert_array_equal(fortran, contiguous)
        np.testing.assert_array_equal(
            moved.T if name != "logsumexp" else moved, contiguous
        )
    big = (rng.standard_normal((3 * _fast.KERNEL_THREADED // 100, 100)) * 5).astype(
        dtype
    )
    threaded = getattr(xact, name)(big)
    monkeypatch.setenv("XACT_NUM_THREADS", "1")
    np.testing.assert_array_equal(getattr(xact, name)(big), threaded)


@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_rows_with_infinities_nan_and_nothing_left(kernels_on, name):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [1.0, inf, 2.0, inf],
            [-inf, -inf, -inf, -inf],
            [1.0, nan, 2.0, 3.0],
            [3e38, -3e38, 0.0, 1.0],
        ],
        dtype=np.float32,
    )
    ours = getattr(xact, name)(x)
    with _fast.generic_path(), np.errstate(over="ignore"):
        # float64 rounded once: -6e38 is -inf in float32
        generic = getattr(xact, name)(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(ours, generic, rtol=2e-7, atol=0)
    if name != "softmin":
        nothing = np.zeros(x.shape, dtype=bool)
        nothing[0] = True
        ours = getattr(xact, name)(x, where=nothing)
        with _fast.generic_path():
            generic = getattr(xact, name)(x, where=nothing)
        np.testing.assert_array_equal(ours, generic)


def test_a_row_has_the_same_bits_alone_and_in_a_batch(kernels_on):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((3 * _fast.KERNEL_THREADED // 100, 100)) * 5).astype(
        np.float32
    )
    batch = xact.softmax(x), xact.log_softmax(x)
    for row in (0, 1, x.shape[0] // 2, x.shape[0] - 1):
        alone = xact.softmax(x[row : row + 1]), xact.log_softmax(x[row])
        np.testing.assert_array_equal(alone[0][0], batch[0][row])
        np.testing.assert_array_equal(alone[1], batch[1][row])
    with _fast.generic_path():  # another axis takes the array path
        other = xact.softmax(x.T, axis=0)
    np.testing.assert_allclose(xact.softmax(x.T, axis=0), other, rtol=1e-6)


def _row_backward(name, x, d, axis=-1):
    layer = LAYER_OF[name](axis=axis)
    layer(x)
    return layer.backward(d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_row_backward_kernels_against_mpmath(kernels_on, name, dtype):
    # the backward pass from the output and the gradient, in double: within
    # a few ULP of the largest term of the row's vector-Jacobian product
    # (d - sum(d y) cancels by design, so the bound is on the row's scale)
    rng = np.random.default_rng(29)
    x = (rng.uniform(-8.0, 8.0, size=(7, 50))).astype(dtype)
    d = rng.standard_normal(x.shape).astype(dtype)
    ours = _row_backward(name, x, d)
    assert ours.dtype == dtype
    y = getattr(xact, name)(x)  # the layer's own output, as it uses
    with mpmath.workdps(50):
        exact = np.empty(x.shape)
        for r in range(x.shape[0]):
            ys = [mpmath.mpf(float(v)) for v in y[r]]
            ds = [mpmath.mpf(float(v)) for v in d[r]]
            if name == "log_softmax":
                total = mpmath.fsum(ds)
                exact[r] = [
                    float(g - mpmath.exp(v) * total)
                    for v, g in zip(ys, ds, strict=True)
                ]
            else:
                dot = mpmath.fsum(v * g for v, g in zip(ys, ds, strict=True))
                sign = -1 if name == "softmin" else 1
                exact[r] = [
                    float(sign * v * (g - dot)) for v, g in zip(ys, ds, strict=True)
                ]
    largest = np.max(np.abs(d), axis=-1, keepdims=True)
    if name == "log_softmax":  # d - e^y sum(d): terms up to n max|d|
        scale = largest * x.shape[-1]
    else:  # y (d - sum(d y)): terms up to max|y| max|d|
        scale = largest * np.max(np.abs(y), axis=-1, keepdims=True)
    ulp = np.finfo(dtype).eps * scale
    assert np.all(np.abs(ours - exact) <= 2 * ulp), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_row_backward_has_the_same_bits_in_every_layout_and_thread_count(
    kernels_on, monkeypatch, name, dtype
):
    rng = np.random.default_rng(31)
    x = (rng.standard_normal((17, 64)) * 5).astype(dtype)
    d = rng.standard_normal(x.shape).astype(dtype)
    for axis in (0, 1):
        contiguous = _row_backward(name, np.ascontiguousarray(x), d, axis)
        fortran = _row_backward(name, np.asfortranarray(x), np.asfortranarray(d), axis)
        np.testing.assert_array_equal(fortran, contiguous)
    big = (rng.standard_normal((3 * _fast.KERNEL_THREADED // 100, 100))).astype(dtype)
    gradient = np.ones_like(big)
    threaded = _row_backward(name, big, gradient)
    monkeypatch.setenv("XACT_NUM_THREADS", "1")
    np.testing.assert_array_equal(_row_backward(name, big, gradient), threaded)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_torch_autograd_through_rows_is_layout_independent(
    kernels_on, torch, name, dtype
):
    # autograd differentiated the composed math, whose sums depend on the
    # memory layout (down to the sign of zero); now the row kernels, both ways
    rng = np.random.default_rng(37)
    host = (rng.standard_normal((17, 64)) * 5).astype(dtype)
    upstream = torch.from_numpy(rng.standard_normal(host.shape).astype(dtype))
    f = getattr(xact, name)
    for axis in (0, 1):
        results = []
        for t in (torch.from_numpy(host.copy()), torch.from_numpy(host.T.copy()).T):
            t.requires_grad_(True)
            y = f(t, axis=axis)
            (g,) = torch.autograd.grad(y, t, upstream)
            results.append((y.detach().numpy(), g.numpy()))
        for a, b in zip(*results, strict=True):
            np.testing.assert_array_equal(a, b)
        layer = LAYER_OF[name](axis=axis)
        layer(host)
        np.testing.assert_array_equal(results[0][1], layer.backward(upstream.numpy()))


def test_masked_log_softmax_autograd_gives_masked_entries_no_part(kernels_on, torch):
    # the backward from y alone summed the gradient over masked entries too
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    where = torch.tensor([[True, True, False, True]] * 3)
    g = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    (ours,) = torch.autograd.grad(xact.log_softmax(x, where=where), x, g)
    masked = x.masked_fill(~where, -float("inf"))
    (reference,) = torch.autograd.grad(torch.log_softmax(masked, dim=-1), x, g)
    torch.testing.assert_close(ours, reference)


def test_row_backward_keeps_an_infinite_gradient_infinite(kernels_on):
    # a compensated sum of an infinite term: its correction is NaN, the sum not
    for dtype in (np.float32, np.float64):
        layer = xact.LogSoftmax()
        layer(np.array([[1.0, 2.0, 3.0]], dtype=dtype))
        ours = layer.backward(np.array([[np.inf, 1.0, 2.0]], dtype=dtype))
        # (NumPy warns of inf - inf there: the input is not finite)
        with _fast.generic_path(), np.errstate(invalid="ignore"):
            reference = layer.backward(np.array([[np.inf, 1.0, 2.0]], dtype=dtype))
        np.testing.assert_array_equal(ours, reference)


def test_the_compile_operators_pass_torchs_opcheck(kernels_on, torch):
    # schema, fake tensors (contiguous, whatever the input's strides), autograd
    x = torch.randn(8, 32, dtype=torch.float64).t()
    d = torch.randn(32, 8, dtype=torch.float64)
    for args in ((x, "gelu", [], "none"), (x, "softplus", [2.0], "")):
        torch.library.opcheck(torch.ops.xact.value.default, args)
    torch.library.opcheck(torch.ops.xact.vjp.default, (x, d, "silu", [], ""))


def test_legacy_batched_gradients_take_the_composed_math(kernels_on, torch):
    # is_grads_batched and jacobian(vectorize=True) batch with tensors NumPy
    # cannot see: the composed math runs there, as before
    x = torch.randn(3, 2, dtype=torch.float64)
    for f in (lambda t: xact.softmax(t, axis=0), xact.tanh):
        jacobian = torch.autograd.functional.jacobian(f, x, vectorize=True)
        reference = torch.autograd.functional.jacobian(f, x)
        torch.testing.assert_close(jacobian, reference)


def test_the_operators_register_after_an_availability_check(tmp_path):
    # importlib.util.find_spec("torch") before import torch used to take the
    # finder away: the operators were never registered
    import subprocess
    import sys

    pytest.importorskip("torch", reason="needs PyTorch")
    script = (
        "import importlib.util, sys, xact\n"
        "importlib.util.find_spec('torch')\n"
        "import torch\n"
        "from xact._run import torch_ops\n"
        "assert torch_ops.ready()\n"
        "assert not any(type(f).__name__ == '_AfterTorch' for f in sys.meta_path)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)


@pytest.mark.exhaustive  # an sdist, a wheel and a virtual environment: a minute
def test_the_wheel_passes_xact_check_in_a_fresh_environment(tmp_path):
    import subprocess
    import sys
    import tarfile

    root = Path(xact.__file__).resolve().parents[2]
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(root)],
        check=True,
        capture_output=True,
    )
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(name.endswith("src/xact/_run/kernels/kernels.h") for name in names)
    assert any(name.endswith("setup.py") for name in names)
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    check = subprocess.run(
        [str(venv / "bin" / "xact"), "check", "--backend", "numpy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all checks passed" in check.stdout
    info = subprocess.run(
        [str(venv / "bin" / "xact"), "info"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "CPU kernels (NumPy, torch CPU): compiled" in info.stdout


# --- float64: the kernels proven there ---------------------------------------

FLOAT64_CASES = [
    pytest.param(case, direction, id=f"{case.id}-{direction}")
    for case in CASES
    for direction in table.DIRECTIONS
    if table.find(case.name, direction, case.kwargs, float64=True) is not None
]


def test_the_float64_table_serves_every_function_at_its_defaults():
    # the kinks and plain derivatives by the wide formulas, the rest by the
    # exact math recorded (the generic path's own definition, compiled)
    served = {(p.values[0].name, p.values[1]) for p in FLOAT64_CASES}
    for entry in ACTIVATIONS:
        if entry.along_axis:
            continue
        for direction in table.DIRECTIONS:
            assert (entry.name, direction) in served
            found = table.find(entry.name, direction, entry.defaults, float64=True)
            assert found is not None, (entry.name, direction)
            # softplus' and celu' at a power of two: the wide formula
            wide = entry.name in table.FLOAT64[direction]
            exact = entry.name in table.EXACT64[direction] and not wide
            assert found[1].exact == exact, (entry.name, direction)


def test_the_float64_table_serves_every_parameter_value():
    # the per-call step turns any value into the kernel's constants
    for name, params in (
        ("celu", {"alpha": 0.7}),
        ("softplus", {"beta": 0.3}),
        ("softplus", {"beta": -2.5}),
        ("squareplus", {"b": 3.0}),
        ("squareplus", {"b": 0.0}),
    ):
        for direction in table.DIRECTIONS:
            found = table.find(name, direction, params, float64=True)
            assert found is not None, (name, params, direction)
            _, kernel, arguments = found
            assert len(arguments) == len(kernel.parameters) <= table.MAX_ARGUMENTS


@pytest.mark.parametrize(("case", "direction"), FLOAT64_CASES)
def test_float64_kernels_within_4_and_8_ulp_of_mpmath(kernels_on, case, direction):
    kind = "value" if direction == "value" else "derivative"
    reference = exact(kind, case, np.float64)
    x = reference.xs
    result = value(case, x) if direction == "value" else vjp(case, x)
    assert result.dtype == np.float64
    bound = 4.0 if direction == "value" else 8.0
    errors = ulp_errors(result, reference, np.float64)
    assert np.nanmax(errors) <= bound, f"{case.id} {kind}: {np.nanmax(errors)} ULP"
    special = SPECIAL.astype(np.float64)
    d = np.array([1.0, 1.0, 1.0, 2.0, -2.0])
    ours = value(case, special) if direction == "value" else vjp(case, special, d)
    with _fast.generic_path():
        generic = (
            value(case, special) if direction == "value" else vjp(case, special, d)
        )
    np.testing.assert_array_equal(ours[:3], generic[:3], err_msg=case.id)


def _fused_inputs():
    """Every decade of both signs, random points where the pairs matter, the
    parameters' kinks and the special values."""
    rng = np.random.default_rng(11)
    decades = np.geomspace(1e-308, 1e308, 4000)
    return np.concatenate(
        [
            decades,
            -decades,
            rng.standard_normal(8000) * 10,
            rng.uniform(-800, 800, 8000),
            SPECIAL.astype(np.float64),
        ]
    )


@pytest.mark.parametrize(("case", "direction"), FLOAT64_CASES)
def test_fused_float64_kernels_give_dekkers_bits(kernels_on, case, direction):
    # TwoProduct by a fused multiply-add (x86-64-v3 and v4) and by Dekker's
    # split: the same error wherever Dekker's is exact, which the formulas
    # keep to, so the same bits on every machine that has either
    cpu = _kernels.cpu()
    if not cpu.fused_product():
        pytest.skip("this build or CPU has no fused float64 tables")
    x = _fused_inputs()
    d = np.random.default_rng(12).standard_normal(x.size)
    fused = value(case, x) if direction == "value" else vjp(case, x, d)
    cpu.fused_product(False)
    try:
        dekker = value(case, x) if direction == "value" else vjp(case, x, d)
    finally:
        cpu.fused_product(True)
    np.testing.assert_array_equal(fused, dekker, err_msg=case.id)


def test_the_extension_refuses_ranges_outside_its_buffers(kernels_on):
    cpu = _kernels.cpu()
    x, out = np.zeros(8, np.float32), np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="outside"):
        cpu.rows(0, x, None, out, 2**62, 0, 4)  # stop * n would overflow
    with pytest.raises(ValueError, match="outside"):
        cpu.value(0, x, out, 0, 9, b"")
    with pytest.raises(ValueError, match="outside"):
        cpu.value64(0, x, out, 0, 5, b"")  # 8 float32 are 4 float64
    with pytest.raises(IndexError):
        cpu.value(len(cpu.VALUES), x, out, 0, 8, b"")
    too_many = np.zeros(table.MAX_ARGUMENTS + 1).tobytes()
    with pytest.raises(ValueError, match="at most"):
        cpu.value(0, x, out, 0, 8, too_many)
    with pytest.raises(ValueError, match="at most"):
        cpu.vjp(0, x, x, out, 0, 8, b"\0" * 12)  # not whole doubles


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
def test_torch_tracing_and_forward_ad_keep_the_composed_math(kernels_on, torch):
    # a NumPy round trip would be traced as a constant; a dual tensor would
    # lose its tangent. (The filter is set here, not by a mark, which would
    # import torch where it is not installed.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # numel() < chunk
        traced = torch.jit.trace(xact.relu, torch.tensor([-1.0, 2.0]))
    np.testing.assert_array_equal(traced(torch.tensor([5.0, -3.0])).numpy(), [5, 0])
    with torch.autograd.forward_ad.dual_level():
        x = torch.randn(2, 4)
        dual = torch.autograd.forward_ad.make_dual(x, torch.ones(2, 4))
        for f in (xact.softmax, xact.log_softmax, xact.sigmoid):
            tangent = torch.autograd.forward_ad.unpack_dual(f(dual)).tangent
            assert tangent is not None, f.__name__


# --- half precision: computed in float64, rounded once ------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_float16_values_are_the_exact_value_rounded_once(kernels_on, case):
    # every finite float16 number: the kernel's result is the float64
    # result of the generic path (within 1e-14 of exact) rounded once
    bits = np.arange(1 << 16, dtype=np.uint16)
    x = bits.view(np.float16)
    x = x[np.isfinite(x)]
    ours = value(case, x)
    assert ours.dtype == np.float16
    with _fast.generic_path(), np.errstate(over="ignore"):
        reference = value(case, x.astype(np.float64))
    with np.errstate(over="ignore"):
        expected = reference.astype(np.float16)  # NumPy rounds float64 once
    same = (ours == expected) | (np.isnan(ours) & np.isnan(expected))
    # a float64 result within 1e-14 of a float16 tie may round either way
    assert np.mean(same) > 0.9999, case.id
    errors = half_ulp_errors(ours.astype(np.float64), reference, 11, -14)
    assert errors[np.abs(reference) < 65504].max(initial=0) <= 0.5 + 1e-9, case.id


def test_bfloat16_values_are_rounded_once(kernels_on, torch):
    rng = np.random.default_rng(13)
    xs = (rng.standard_normal(3000) * 6).astype(np.float32)
    x = torch.from_numpy(xs).to(torch.bfloat16)
    for name in ("gelu", "silu", "tanh", "softplus"):
        ours = getattr(xact, name)(x)
        assert ours.dtype == torch.bfloat16
        with _fast.generic_path():
            reference = getattr(xact, name)(x.double()).numpy()
        got = ours.float().double().numpy()
        errors = half_ulp_errors(got, reference, 8, -126)
        assert errors.max() <= 0.5 + 1e-9, name  # the nearest bfloat16
