"""The DESIGN.md contract, on every backend: dtype, device, no mutation,
coercion, errors, limits, NaN, laziness (jax.jit and Dask) and the registry."""

from __future__ import annotations

import math

import array_api_compat
import mpmath
import numpy as np
import pytest
from array_api_extra.testing import lazy_xp_function

import xact
from conftest import PUBLIC_FUNCTIONS, Backend, dtype_or_skip, to_numpy
from oracle import VALUES
from xact._registry import ACTIVATIONS, ALIASES
from xact._registry import entry as entry_of

# these checks also run with the fast paths off (the numpy:generic,
# torch:generic and jax:generic backends, and "generic" where no backend)
ON_THE_GENERIC_PATH_TOO = True

lazy_xp_modules = [xact]
for _name in PUBLIC_FUNCTIONS:
    lazy_xp_function(getattr(xact, _name))

ALL = [entry.name for entry in ACTIVATIONS] + ["logsumexp"]
ELEMENTWISE = [entry.name for entry in ACTIVATIONS if not entry.along_axis]
SAMPLE = [[-3.0, -0.5, 0.0, 0.25, 2.0, 7.0], [1.0, -1.0, 0.5, -2.0, 3.0, -4.0]]


def call(name, x, **kwargs):
    """Call the public function (patched for jax.jit / Dask by the fixture)."""
    return getattr(xact, name)(x, **kwargs)


@pytest.mark.parametrize("name", ALL)
def test_dtype_and_device_are_kept(xp, library, asarray, float_dtypes, name):
    for dtype in float_dtypes:
        x = asarray(SAMPLE, dtype)
        y = call(name, x)
        assert y.dtype == dtype, (name, dtype)
        assert array_api_compat.device(y) == array_api_compat.device(x)
        assert type(y) is type(x) or library.library == "jax"


HALF_BITS = {"float16": (11, -14), "bfloat16": (8, -126)}  # precision, emin


def _half_points() -> np.ndarray:
    values = np.concatenate(
        [np.linspace(-8.0, 8.0, 161), [-30.0, -12.0, 12.0, 30.0, 0.37, -0.37, 0.01]]
    )
    return values.reshape(-1, 6)


def _exact_half_reference(name: str, x: np.ndarray) -> np.ndarray:
    """mpmath values of `name` (defaults) at `x`, rows along the last axis."""
    with mpmath.workdps(40):
        rows = [[mpmath.mpf(float(v)) for v in row] for row in x]
        if name in VALUES:
            defaults = dict(entry_of(name).defaults)
            return np.array(
                [[float(VALUES[name](v, **defaults)) for v in row] for row in rows]
            )
        result = []
        for row in rows:
            if name in ("softmax", "log_softmax", "logsumexp"):
                total = mpmath.fsum(mpmath.exp(v) for v in row)
                out = {
                    "softmax": [mpmath.exp(v) / total for v in row],
                    "log_softmax": [v - mpmath.log(total) for v in row],
                    "logsumexp": [mpmath.log(total)],
                }[name]
            elif name == "softmin":
                total = mpmath.fsum(mpmath.exp(-v) for v in row)
                out = [mpmath.exp(-v) / total for v in row]
            else:  # glu
                half = len(row) // 2
                out = [
                    a / (1 + mpmath.exp(-b))
                    for a, b in zip(row[:half], row[half:], strict=True)
                ]
            result.append([float(v) for v in out])
        return np.array(result)


@pytest.mark.parametrize("name", ALL)
def test_half_precision_is_correctly_rounded(xp, library, asarray, float_dtypes, name):
    """float16/bfloat16: computed in float32 and rounded once, so within 1 ULP
    of the half type of the exact value (mpmath), wherever that is normal."""
    halves = [d for d in float_dtypes if d not in (xp.float32, xp.float64)]
    if not halves:
        pytest.skip(f"{library.value}: the library has no half-precision dtype")
    for dtype in halves:
        dtype_name = next(n for n in HALF_BITS if getattr(xp, n, None) == dtype)
        bits, emin = HALF_BITS[dtype_name]
        x = asarray(_half_points(), dtype)
        points = to_numpy(xp.astype(x, xp.float32)).astype(np.float64)
        y = call(name, x)
        assert y.dtype == dtype
        got = (
            to_numpy(xp.astype(y, xp.float32))
            .astype(np.float64)
            .reshape(len(points), -1)
        )
        exact = _exact_half_reference(name, points)
        normal = np.abs(exact) >= 2.0**emin
        with np.errstate(divide="ignore"):
            exponent = np.maximum(np.floor(np.log2(np.abs(exact))), emin)
        errors = np.abs(got - exact) / 2.0 ** (exponent - bits + 1)
        worst = np.max(np.where(normal & np.isfinite(exact), errors, 0.0))
        assert worst <= 1.0, (name, dtype_name, worst)


@pytest.mark.parametrize("name", ALL)
def test_input_is_not_modified(xp, asarray, name):
    x = asarray(SAMPLE)
    before = to_numpy(x).copy()
    call(name, x)
    np.testing.assert_array_equal(to_numpy(x), before)


@pytest.mark.parametrize("name", ALL)
def test_integer_and_boolean_input_becomes_default_float(xp, library, asarray, name):
    info = xp.__array_namespace_info__()
    expected = info.default_dtypes(device=array_api_compat.device(asarray([0.0])))
    for values, dtype in (
        ([[1, -2], [3, 0]], xp.int32),
        ([[True, False]] * 2, xp.bool),
    ):
        x = xp.asarray(
            values, dtype=dtype, device=array_api_compat.device(asarray([0.0]))
        )
        y = call(name, x)
        assert y.dtype == expected["real floating"]
        reference = call(name, xp.astype(x, expected["real floating"]))
        np.testing.assert_array_equal(to_numpy(y), to_numpy(reference))


@pytest.mark.parametrize("name", ALL)
def test_empty_input(xp, asarray, name):
    for shape in [(0,), (0, 4), (3, 0)]:
        x = xp.zeros(
            shape, dtype=xp.float64, device=array_api_compat.device(asarray([0.0]))
        )
        if name == "glu" and shape[-1] % 2:
            continue
        y = call(name, x)
        if name == "logsumexp":
            assert tuple(y.shape) == shape[:-1]
            assert np.all(to_numpy(y) == -np.inf)
        else:
            expected = (*shape[:-1], shape[-1] // 2) if name == "glu" else shape
            assert tuple(y.shape) == expected


@pytest.mark.parametrize("name", ALL)
def test_zero_dimensional_input(xp, asarray, name):
    x = asarray(0.5)
    if name == "glu":
        with pytest.raises(ValueError, match=r"xact\.glu"):
            call(name, x)
        return
    y = call(name, x)
    assert tuple(y.shape) == ()
    if name in ("softmax", "softmin"):
        assert float(to_numpy(y)) == 1.0
    if name == "log_softmax":
        assert float(to_numpy(y)) == 0.0
    if name == "logsumexp":
        assert float(to_numpy(y)) == 0.5


@pytest.mark.parametrize("name", ALL)
def test_python_sequences_become_numpy(name):
    y = call(name, [[0.5, -1.0], [2.0, 3.0]])
    assert isinstance(y, np.ndarray)
    assert y.dtype == np.float64
    expected = call(name, np.asarray([[0.5, -1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(y, expected)
    if name not in ("glu", "logsumexp", "softmax", "log_softmax", "softmin"):
        assert isinstance(call(name, 0.5), np.ndarray)


@pytest.mark.parametrize("name", ALL)
def test_complex_input_is_a_type_error(xp, library, name):
    if library == Backend.NUMPY_READONLY:
        x = np.asarray([1 + 1j])
    else:
        x = xp.asarray([1 + 1j], dtype=xp.complex128)
    with pytest.raises(TypeError, match=rf"xact\.{name}: .*complex"):
        call(name, x)


@pytest.mark.parametrize("name", ALL)
def test_non_array_is_a_type_error(name):
    with pytest.raises(TypeError, match=rf"xact\.{name}: "):
        call(name, {"not": "an array"})
    with pytest.raises(TypeError, match=rf"xact\.{name}: "):
        call(name, "text")


def test_mixed_libraries_are_a_type_error(xp, library, asarray):
    from xact._namespace import resolve

    x = asarray([1.0, 2.0])
    if library.library == "numpy":
        import array_api_strict as other

        mask = other.asarray([True, False])
    else:
        mask = np.asarray([True, False])
    with pytest.raises(TypeError, match=r"xact\.softmax: .*same library"):
        xact.softmax(x, where=mask)
    if library.library == "numpy":
        return
    with pytest.raises(TypeError, match=r"xact\.f: arrays from different libraries"):
        resolve("f", x, np.asarray([1.0]))


LIMITS = {
    "relu": (math.inf, 0.0),
    "relu6": (6.0, 0.0),
    "leaky_relu": (math.inf, -math.inf),
    "elu": (math.inf, -1.0),
    "selu": (math.inf, -1.0507009873554805 * 1.6732632423543772),
    "celu": (math.inf, -1.0),
    "gelu": (math.inf, 0.0),
    "silu": (math.inf, 0.0),
    "mish": (math.inf, 0.0),
    "softplus": (math.inf, 0.0),
    "softsign": (1.0, -1.0),
    "sigmoid": (1.0, 0.0),
    "log_sigmoid": (0.0, -math.inf),
    "hard_sigmoid": (1.0, 0.0),
    "hard_swish": (math.inf, 0.0),
    "hard_tanh": (1.0, -1.0),
    "tanh": (1.0, -1.0),
    "tanh_shrink": (math.inf, -math.inf),
    "hard_shrink": (math.inf, -math.inf),
    "soft_shrink": (math.inf, -math.inf),
    "squareplus": (math.inf, 0.0),
    "identity": (math.inf, -math.inf),
}


def test_limits_table_covers_every_elementwise_function():
    assert set(LIMITS) == set(ELEMENTWISE)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_infinities_give_the_limit_and_nan_propagates(xp, asarray, name, dtype):
    x = asarray([math.inf, -math.inf, math.nan], getattr(xp, dtype))
    y = to_numpy(call(name, x))
    at_plus, at_minus = LIMITS[name]
    np.testing.assert_allclose(y[:2], [at_plus, at_minus], rtol=1e-6)
    assert math.isnan(y[2])
    if name == "gelu":
        z = to_numpy(xact.gelu(x, approximate="tanh"))
        np.testing.assert_allclose(z[:2], [at_plus, at_minus])
        assert math.isnan(z[2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_documented_kink_values(xp, library, asarray, name, dtype):
    # Values at the kinks follow from the definitions (DESIGN.md table), in
    # float32 too: a compiler's rewrite (XLA's x / 6 -> x * fl(1/6), fused
    # with an add) must not move a kink.
    x = asarray([0.0, -3.0, 3.0, 6.0, 0.5, -0.5], dtype_or_skip(xp, library, dtype))
    y = to_numpy(call(name, x)).astype(np.float64)
    tolerance = 2.0**-23 if dtype == "float32" else 4 * 2.0**-52
    expected = {
        "relu": [0, 0, 3, 6, 0.5, 0],
        "relu6": [0, 0, 3, 6, 0.5, 0],
        "hard_sigmoid": [0.5, 0, 1, 1, 3.5 / 6, 2.5 / 6],
        "hard_swish": [0, 0, 3, 6, 0.5 * 3.5 / 6, -0.5 * 2.5 / 6],
        "hard_tanh": [0, -1, 1, 1, 0.5, -0.5],
        "hard_shrink": [0, -3, 3, 6, 0, 0],
        "soft_shrink": [0, -2.5, 2.5, 5.5, 0, 0],
        "leaky_relu": [0, -0.03, 3, 6, 0.5, -0.005],
        "identity": [0, -3, 3, 6, 0.5, -0.5],
    }
    assert set(expected) <= set(ELEMENTWISE)
    if name in expected:  # the definitions, by hand
        by_hand = np.asarray(expected[name], dtype=np.float64)
        np.testing.assert_allclose(y, by_hand, rtol=tolerance, atol=0, err_msg=name)
        # values that are whole or half numbers come out exactly
        simple = by_hand * 2 == np.round(by_hand * 2)
        np.testing.assert_array_equal(y[simple], by_hand[simple], err_msg=name)
    # every elementwise function against mpmath at its kinks
    defaults = dict(entry_of(name).defaults)
    with mpmath.workdps(40):
        exact = [
            float(VALUES[name](mpmath.mpf(v), **defaults))
            for v in (0.0, -3.0, 3.0, 6.0, 0.5, -0.5)
        ]
    np.testing.assert_allclose(y, exact, rtol=tolerance, atol=0, err_msg=name)


@pytest.mark.parametrize(
    "name",
    [
        "leaky_relu",
        "elu",
        "celu",
        "softplus",
        "hard_tanh",
        "hard_shrink",
        "soft_shrink",
        "squareplus",
        "gelu",
    ],
)
def test_bad_parameters_are_named(name):
    bad = {
        "leaky_relu": {"negative_slope": "0.1"},
        "elu": {"alpha": float("nan")},
        "celu": {"alpha": 0.0},
        "softplus": {"beta": 0},
        "hard_tanh": {"min_val": 2.0, "max_val": 1.0},
        "hard_shrink": {"lambd": -1.0},
        "soft_shrink": {"lambd": -1.0},
        "squareplus": {"b": -4.0},
        "gelu": {"approximate": "erf"},
    }[name]
    with pytest.raises((TypeError, ValueError), match=rf"xact\.{name}: "):
        call(name, np.asarray([1.0]), **bad)


@pytest.mark.parametrize(
    ("name", "kwargs", "x", "expected"),
    [
        ("leaky_relu", {"negative_slope": 0.2}, [-2.0, 3.0], [-0.4, 3.0]),
        ("elu", {"alpha": 2.0}, [-1.0, 1.0], [2 * (math.exp(-1) - 1), 1.0]),
        ("celu", {"alpha": 2.0}, [-1.0, 1.0], [2 * (math.exp(-0.5) - 1), 1.0]),
        (
            "softplus",
            {"beta": 2.0},
            [1.0, -30.0],
            [math.log1p(math.exp(2)) / 2, math.log1p(math.exp(-60)) / 2],
        ),
        ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}, [-3.0, 1.0], [-2.0, 0.5]),
        ("hard_shrink", {"lambd": 1.0}, [-1.0, 1.5], [0.0, 1.5]),
        ("soft_shrink", {"lambd": 1.0}, [-1.0, 1.5], [0.0, 0.5]),
        ("squareplus", {"b": 0.0}, [-1.0, 2.0], [0.0, 2.0]),
    ],
)
def test_parameters(xp, asarray, name, kwargs, x, expected):
    y = to_numpy(call(name, asarray(x), **kwargs))
    np.testing.assert_allclose(y, expected, rtol=4e-16, atol=1e-300)


def test_softplus_beta_is_exact_for_large_negative_arguments():
    # log(1 + e^(bx))/b with bx carried as a pair: e^(-2 * 300.1) / 2
    import mpmath

    y = xact.softplus(np.asarray([-300.1]), beta=2.0)
    with mpmath.workdps(40):
        x = mpmath.mpf(float(np.float64(-300.1)))
        exact = mpmath.log1p(mpmath.exp(2 * x)) / 2
    assert abs(mpmath.mpf(float(y[0])) / exact - 1) < 4 * 2.0**-53


def test_where_mask(xp, asarray):
    x = asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = xp.asarray(
        [[True, False, True], [False, False, False]], device=array_api_compat.device(x)
    )
    s = to_numpy(xact.softmax(x, where=mask))
    with mpmath.workdps(40):  # the exact values, from mpmath
        total = mpmath.exp(1) + mpmath.exp(3)
        exact = [float(mpmath.exp(1) / total), 0.0, float(mpmath.exp(3) / total)]
        exact_log = [float(k - mpmath.log(total)) for k in (1, 3)]
    np.testing.assert_allclose(s[0], exact, rtol=1e-15)
    np.testing.assert_array_equal(s[1], [0.0, 0.0, 0.0])  # nothing left: zeros
    log = to_numpy(xact.log_softmax(x, where=mask))
    np.testing.assert_allclose(log[0, [0, 2]], exact_log, rtol=1e-15)
    assert log[0, 1] == -np.inf
    assert np.all(log[1] == -np.inf)
    row = to_numpy(
        xact.softmax(
            x, where=xp.asarray([True, True, False], device=array_api_compat.device(x))
        )
    )
    np.testing.assert_allclose(row.sum(axis=-1), [1.0, 1.0])


def test_where_mask_must_broadcast(xp, asarray):
    x = asarray([[1.0, 2.0, 3.0]])
    mask = xp.asarray([True, False], device=array_api_compat.device(x))
    with pytest.raises(ValueError, match=r"xact\.softmax: where of shape"):
        xact.softmax(x, where=mask)


def test_softmax_axis(xp, asarray):
    x = asarray([[1.0, 2.0], [3.0, 5.0]])
    y = to_numpy(xact.softmax(x, axis=0))
    np.testing.assert_allclose(y.sum(axis=0), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"xact\.softmax: axis 2"):
        xact.softmax(x, axis=2)
    with pytest.raises(TypeError, match=r"xact\.softmax: axis"):
        xact.softmax(x, axis=1.0)


def test_logsumexp_keepdims_and_limits(xp, asarray):
    x = asarray([[1000.0, 1000.0], [-math.inf, -math.inf]])
    y = to_numpy(xact.logsumexp(x, keepdims=True))
    assert y.shape == (2, 1)
    np.testing.assert_allclose(y[0, 0], 1000.0 + math.log(2.0), rtol=1e-16)
    assert y[1, 0] == -math.inf


def test_glu_halves(xp, asarray):
    x = asarray([[1.0, 2.0, 0.0, 100.0], [3.0, 4.0, -100.0, 0.0]])
    y = to_numpy(xact.glu(x))
    np.testing.assert_allclose(
        y, [[0.5, 2.0], [3.0 * 3.7200759760208356e-44, 2.0]], rtol=1e-14
    )
    with pytest.raises(
        ValueError, match=r"xact\.glu: the length along axis 0 must be even"
    ):
        xact.glu(asarray([[1.0, 2.0]]), axis=0)


def test_names_and_get():
    assert xact.names() == [entry.name for entry in ACTIVATIONS]
    for name in xact.names():
        assert xact.get(name) is getattr(xact, name)
        assert name in xact.__all__
    for alias, target in ALIASES.items():
        assert xact.get(alias) is getattr(xact, target)
    assert xact.swish is xact.silu
    assert xact.hard_silu is xact.hard_swish
    assert set(xact.names(aliases=True)) == set(xact.names()) | set(ALIASES)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("reLu6x", "relu6"), ("sigmod", "sigmoid"), ("gelu_new", "gelu")],
)
def test_unknown_name_suggests_close_names(typo, suggestion):
    with pytest.raises(
        ValueError, match=rf"xact\.get: unknown activation .*'{suggestion}'"
    ):
        xact.get(typo)


def test_import_xact_imports_no_backend():
    import subprocess
    import sys

    code = (
        "import sys, xact; bad = [m for m in ('torch', 'jax', 'dask', 'cupy', "
        "'array_api_strict', 'scipy') if m in sys.modules]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_functions_trace_under_jax_jit():
    jax = pytest.importorskip("jax", reason="jax.jit needs JAX")
    import jax.numpy as jnp

    x = jnp.asarray(SAMPLE, dtype=jnp.float32)
    for name in ALL:
        eager = np.asarray(getattr(xact, name)(x))
        traced = np.asarray(jax.jit(getattr(xact, name))(x))
        np.testing.assert_allclose(traced, eager, rtol=2e-6, atol=1e-30, err_msg=name)


def test_dask_builds_a_graph_without_computing():
    da = pytest.importorskip("dask.array", reason="needs Dask")
    import dask

    def refuse(*args, **kwargs):
        raise AssertionError("xact computed a Dask graph")

    x = da.from_array(np.asarray(SAMPLE * 4), chunks=(2, 6))
    with dask.config.set(scheduler=refuse):
        results = {name: getattr(xact, name)(x) for name in ALL}
    for name, lazy in results.items():
        assert isinstance(lazy, da.Array), name
        np.testing.assert_allclose(
            lazy.compute(),
            getattr(xact, name)(np.asarray(SAMPLE * 4)),
            rtol=1e-15,
            atol=1e-300,
            err_msg=name,
        )
