"""Parameters are exact values, on every backend; inputs of any NumPy dtype
and byte order; 0-d results. Each test here failed before the fix it pins."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import xact
from conftest import to_numpy
from oracle import VALUES
from xact._registry import ACTIVATIONS
from xact.layers import LAYERS

# these checks also run with the fast paths off (the numpy:generic,
# torch:generic and jax:generic backends, and "generic" where no backend)
ON_THE_GENERIC_PATH_TOO = True

LAYER_OF = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}


def ulp_error(actual: float, exact: mpmath.mpf, bits: int) -> float:
    exponent = int(mpmath.floor(mpmath.log(abs(exact), 2)))
    return float(abs(mpmath.mpf(actual) - exact) / mpmath.ldexp(1, exponent - bits + 1))


@pytest.mark.parametrize(
    ("name", "kwargs", "x"),
    [
        # beta was rounded to float32 before entering exp: 19 ULP
        ("softplus", {"beta": 3.7}, [-26.0, -23.069078, -20.5, -18.0]),
        ("softplus", {"beta": 0.1}, [-869.8869]),
        ("softplus", {"beta": -2.5}, [32.4]),
        # a point between the old grid's: 5.6 ULP
        ("gelu", {"approximate": "tanh"}, [-9.36966]),
        # x / alpha underflowed: -0.0 for -2.35e-38
        ("celu", {"alpha": 1e20}, [-2.3509887e-38, -1.0]),
        # lambd rounded to float32 before the comparison: 0 for -0.10000000149
        ("hard_shrink", {"lambd": 0.1}, [-0.1, 0.1]),
        ("soft_shrink", {"lambd": 0.1}, [-0.1, 0.1, 0.2]),
    ],
)
def test_parameters_are_exact_in_float32(xp, asarray, name, kwargs, x):
    values = np.asarray(x, dtype=np.float32)
    result = to_numpy(getattr(xact, name)(asarray(values, xp.float32), **kwargs))
    params = {
        k: mpmath.mpf(v) if isinstance(v, float) else v for k, v in kwargs.items()
    }
    with mpmath.workdps(60):
        for value, got in zip(values.tolist(), result.tolist(), strict=True):
            exact = VALUES[name](mpmath.mpf(value), **params)
            if abs(exact) < 2.0**-126:  # not a normal float32: not measured
                continue
            assert ulp_error(got, exact, 24) <= 4, (name, value, got, exact)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("leaky_relu", {"negative_slope": 1e39}),
        ("elu", {"alpha": 1e39}),
        ("celu", {"alpha": 1e39}),
        ("softplus", {"beta": 1e39}),
        ("softplus", {"beta": 1e-45}),
        ("squareplus", {"b": 1e40}),
        ("hard_tanh", {"min_val": -1e39}),
        ("hard_shrink", {"lambd": 1e39}),
    ],
)
def test_parameter_outside_the_dtype_is_a_value_error(xp, asarray, name, kwargs):
    x = asarray([0.0, -1.0], xp.float32)
    (pname,) = kwargs
    with pytest.raises(ValueError, match=rf"xact\.{name}: {pname}=.* float32"):
        getattr(xact, name)(x, **kwargs)


def test_huge_parameters_in_float64_and_no_overflow_warning(xp, asarray):
    # float64 holds 1e39: the exact results, without a NumPy warning
    x = asarray([0.0, -1.0])
    np.testing.assert_array_equal(
        to_numpy(xact.leaky_relu(x, negative_slope=1e39)), [0.0, -1e39]
    )
    np.testing.assert_array_equal(
        to_numpy(xact.elu(x, alpha=1e39)), [0.0, -1e39 * (1 - math.exp(-1))]
    )
    # celu(-1, alpha=1e39) = 1e39 expm1(-1e-39) = -1 + 5e-40
    np.testing.assert_array_equal(to_numpy(xact.celu(x, alpha=1e39)), [0.0, -1.0])
    # the overflowing quotient x / alpha of the discarded branch: no warning
    assert to_numpy(xact.celu(asarray([-1.7e308]), alpha=0.5)) == -0.5
    y = to_numpy(xact.celu(asarray([-1e37], xp.float32), alpha=0.01))
    np.testing.assert_array_equal(y, np.asarray([-0.01], dtype=np.float32))
    big = to_numpy(
        xact.leaky_relu(asarray([-1e30, 1e30], xp.float32), negative_slope=1e20)
    )
    np.testing.assert_array_equal(big, np.asarray([-np.inf, 1e30], dtype=np.float32))


@pytest.mark.parametrize("name", [n for n in xact.names() if n != "glu"])
def test_big_endian_input_is_computed_as_native(name):
    native = np.array([[-2.5, -0.5, 0.0, 0.75, 3.0, 40.0]])
    for kind in ("f8", "f4"):
        swapped = native.astype(">" + kind)
        expected = getattr(xact, name)(native.astype("<" + kind))
        result = getattr(xact, name)(swapped)
        assert result.dtype == expected.dtype
        np.testing.assert_array_equal(result, expected)
        layer, reference = LAYER_OF[name](), LAYER_OF[name]()
        layer(swapped)
        reference(native.astype("<" + kind))
        np.testing.assert_array_equal(
            layer.backward(np.ones_like(swapped)),
            reference.backward(np.ones_like(native, dtype="<" + kind)),
        )


@pytest.mark.parametrize("name", [*xact.names(), "logsumexp"])
def test_long_double_is_a_type_error(name):
    if np.finfo(np.longdouble).bits <= 64:  # pragma: no cover - e.g. Windows
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(TypeError, match=rf"xact\.{name}: long double"):
        getattr(xact, name)(np.ones((1, 2), dtype=np.longdouble))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "bool"])
@pytest.mark.parametrize("name", [n for n in xact.names() if n != "glu"])
def test_zero_dimensional_numpy_input_gives_a_zero_dimensional_array(name, dtype):
    result = getattr(xact, name)(np.asarray(1, dtype=dtype))
    assert isinstance(result, np.ndarray), type(result)
    assert result.shape == ()
    scalar = getattr(xact, name)(np.dtype(dtype).type(1))
    assert isinstance(scalar, np.ndarray), type(scalar)
