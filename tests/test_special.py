"""erfc: the standard-only implementation against mpmath on every backend,
and each backend's native kernel against it."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from conftest import to_numpy
from oracle import ulp_errors
from xact._math import special as _special

WITHOUT_NATIVE_ERFC = ("array_api_strict", "cubed")

# erfc's accuracy tests, like the activations', run whole on every backend:
# every dtype and every branch (a sample on Cubed and Dask let a mutant of
# the subnormal branch's threshold through)
NOT_SAMPLED = True


def _grid(dtype):
    z = np.concatenate(
        [np.linspace(-6, 28, 1361), [0.0, 1e-300, 1e-30, 1e-8, 0.3, 26.5]]
    )
    return z.astype(dtype)


def _exact(z):
    with mpmath.workdps(40):
        return tuple(+mpmath.erfc(mpmath.mpf(float(v))) for v in z)


@pytest.mark.parametrize(("dtype", "bound"), [("float64", 4.0), ("float32", 5.0)])
def test_generic_erfc_against_mpmath(xp, asarray, dtype, bound):
    z = _grid(getattr(np, dtype))
    x = asarray(z, getattr(xp, dtype))
    result = to_numpy(_special.erfc_pair_generic(xp, x, xp.zeros_like(x)))
    errors = ulp_errors(result, _exact(z), getattr(np, dtype))
    assert np.nanmax(errors) <= bound


def test_generic_erfc_carries_the_low_part(xp, asarray):
    # erfc(hi + lo) with lo a quarter ULP of hi: the pair, not erfc(hi).
    hi = np.asarray([3.0, 10.0, 25.0])
    lo = np.spacing(hi) / 4
    result = to_numpy(_special.erfc_pair_generic(xp, asarray(hi), asarray(lo)))
    with mpmath.workdps(50):
        exact = [
            mpmath.erfc(mpmath.mpf(float(h)) + mpmath.mpf(float(l)))
            for h, l in zip(hi, lo, strict=True)
        ]
    errors = ulp_errors(result, tuple(exact), np.float64)
    assert np.nanmax(errors) <= 4.0


def test_native_erfc_matches_generic(xp, library, asarray):
    kernel = _special.native_erfc(xp)
    if kernel is None:
        # array-api-strict has no erfc of its own and Cubed runs the generic
        # path unchanged: xact's generic erfc is used, and
        # test_generic_erfc_against_mpmath covers it there.
        assert library.library in WITHOUT_NATIVE_ERFC
        return
    z = _grid(np.float64)
    z = z[z < 20]  # where native float64 kernels are still within ~100 ULP
    x = asarray(z)
    native = to_numpy(kernel(x))
    generic = to_numpy(_special.erfc_pair_generic(xp, x, xp.zeros_like(x)))
    np.testing.assert_allclose(native, generic, rtol=1e-13, atol=0)


def test_accurate_tanh_matches_generic_tanh(xp, asarray):
    z = np.linspace(-30, 30, 2001)
    x = asarray(z)
    ours = to_numpy(_special.tanh(xp, x))
    with mpmath.workdps(40):
        exact = tuple(mpmath.tanh(mpmath.mpf(float(v))) for v in z)
    assert np.nanmax(ulp_errors(ours, exact, np.float64)) <= 2.5


def test_native_relu_matches_generic(xp, asarray):
    x = asarray([-math.inf, -2.0, -0.0, 0.0, 1e-300, 3.0, math.inf, math.nan])
    native = to_numpy(_special.relu(xp, x))
    generic = to_numpy(_special.relu_generic(xp, x))
    np.testing.assert_array_equal(native, generic)
    assert native.dtype == generic.dtype


@pytest.mark.parametrize(("dtype", "bound"), [("float64", 4.0), ("float32", 4.0)])
def test_erfc_pair_every_branch_against_mpmath(xp, library, asarray, dtype, bound):
    """erfc_pair as gelu calls it, on each backend's own branch (torch's
    native float32 kernel with the logarithmic-derivative correction, the
    generic series elsewhere), with a low part of a quarter ULP."""
    np_dtype = getattr(np, dtype)
    hi = _grid(np_dtype)
    hi = hi[np.abs(hi) < 9.0]  # where erfc is a normal float32
    lo = (np.spacing(hi) / 4).astype(np_dtype)
    x_hi, x_lo = asarray(hi, getattr(xp, dtype)), asarray(lo, getattr(xp, dtype))
    result = to_numpy(_special.erfc_pair(xp, x_hi, x_lo, xp.ones_like(x_hi)))
    with mpmath.workdps(50):
        exact = [
            mpmath.erfc(mpmath.mpf(float(h)) + mpmath.mpf(float(v)))
            for h, v in zip(hi, lo, strict=True)
        ]
    errors = ulp_errors(result, tuple(exact), np_dtype)
    assert np.nanmax(errors) <= bound, (library.value, float(np.nanmax(errors)))


def test_native_erfc_is_found_where_the_backend_has_one(xp, library):
    """The dispatch table: SciPy's erfc for NumPy and Dask, PyTorch's and JAX's
    own; only array-api-strict (no erfc) and Cubed (the generic path
    unchanged) have none (a kernel lost to an import error would otherwise
    fall back to the generic one unnoticed)."""
    kernel = _special.native_erfc(xp)
    assert (kernel is None) == (library.library in WITHOUT_NATIVE_ERFC)
