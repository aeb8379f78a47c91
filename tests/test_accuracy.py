"""Accuracy against exact values (mpmath), on every backend.

The contract: every elementwise function within 4 ULP of the exact value over
the whole finite range of float32 and float64, wherever that value is a
normal number; the softmax family within 8 ULP per element for logits in
[-20, 20] and never less accurate than PyTorch's beyond.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from array_api_extra.testing import lazy_xp_function

import xact
from conftest import PUBLIC_FUNCTIONS, dtype_or_skip, to_numpy
from oracle import Case, cases, describe_worst, exact, ulp_errors
from xact._registry import ACTIVATIONS

# these checks also run with the fast paths off (the numpy:generic,
# torch:generic and jax:generic backends, and "generic" where no backend)
ON_THE_GENERIC_PATH_TOO = True

lazy_xp_modules = [xact]
for _name in PUBLIC_FUNCTIONS:
    lazy_xp_function(getattr(xact, _name))

ELEMENTWISE_ULP_BOUND = 4.0
SOFTMAX_ULP_BOUND = 8.0
DTYPES = ["float32", "float64"]

# every elementwise activation of the registry, at its defaults and off them
CASES = cases({e.name: e.defaults for e in ACTIVATIONS if not e.along_axis})


def jax_flushed(library, reference, dtype):
    """XLA on CPU flushes subnormal inputs and intermediates to zero (a
    property of the backend, documented by XLA): the points to leave out there,
    subnormal inputs and results within a factor 2 of the underflow threshold."""
    if library.library != "jax":
        return np.zeros(len(reference.xs), dtype=bool)
    tiny = float(np.finfo(dtype).smallest_normal)
    flushed = (np.abs(reference.xs) < tiny) & (reference.xs != 0)
    flushed |= np.abs(reference.hi) < 2 * tiny
    return flushed


def check_within(errors, bound, result, reference, label):
    assert np.any(np.isfinite(errors)), f"{label}: no point was checked"
    assert np.nanmax(errors) <= bound, describe_worst(errors, result, reference, label)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_elementwise_within_4_ulp(xp, library, asarray, case: Case, dtype):
    np_dtype = getattr(np, dtype)
    xp_dtype = dtype_or_skip(xp, library, dtype)
    reference = exact("value", case, np_dtype)
    result = to_numpy(
        getattr(xact, case.name)(asarray(reference.xs, xp_dtype), **case.kwargs)
    )
    assert result.dtype == np_dtype
    errors = ulp_errors(result, reference, np_dtype)
    flushed = jax_flushed(library, reference, np_dtype)
    errors[flushed] = np.nan
    check_within(errors, ELEMENTWISE_ULP_BOUND, result, reference, case.id)
    # Where the exact value is 0, the result is 0; where it is beyond the
    # largest float, the result is infinite; elsewhere it is finite.
    assert np.all(result[reference.zero & ~flushed] == 0), case.id
    assert np.all(np.isinf(result[reference.huge])), case.id
    assert np.all(np.isfinite(result[~reference.huge])), case.id


def _softmax_exact(row: np.ndarray, kind: str) -> list[mpmath.mpf]:
    # log_softmax of the dominant logit is -log1p(tiny): keep 100+ digits past
    # the cancellation of x - log(sum) for logits up to ±100.
    with mpmath.workdps(150):
        values = [mpmath.mpf(float(v)) for v in row]
        total = mpmath.fsum(mpmath.exp(v) for v in values)
        if kind == "softmax":
            return [mpmath.exp(v) / total for v in values]
        if kind == "softmin":
            neg_total = mpmath.fsum(mpmath.exp(-v) for v in values)
            return [mpmath.exp(-v) / neg_total for v in values]
        if kind == "log_softmax":
            return [v - mpmath.log(total) for v in values]
        return [mpmath.log(total)]


def _softmax_errors(result: np.ndarray, logits: np.ndarray, kind: str) -> np.ndarray:
    dtype = logits.dtype.type
    result = result.reshape(len(logits), -1)
    errors = [
        ulp_errors(out_row, tuple(_softmax_exact(row, kind)), dtype)
        for out_row, row in zip(result, logits, strict=True)
    ]
    return np.concatenate(errors)


def _logits(dtype: str, low: float, high: float) -> np.ndarray:
    rng = np.random.default_rng(20261129)
    values = rng.uniform(low, high, size=(24, 12))
    values[0] = [high, low, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    values[1, :] = (low + high) / 2  # ties
    return values.astype(dtype)


SOFTMAX_KINDS = ["softmax", "log_softmax", "softmin", "logsumexp"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", SOFTMAX_KINDS)
def test_softmax_family_within_8_ulp(xp, asarray, kind, dtype):
    logits = _logits(dtype, -20.0, 20.0)
    result = to_numpy(getattr(xact, kind)(asarray(logits, getattr(xp, dtype)), axis=-1))
    errors = _softmax_errors(result, logits, kind)
    assert np.nanmax(errors) <= SOFTMAX_ULP_BOUND


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_not_less_accurate_than_torch(xp, asarray, kind, dtype):
    torch = pytest.importorskip("torch", reason="the comparison needs PyTorch")
    logits = _logits(dtype, -100.0, 100.0)
    ours = to_numpy(getattr(xact, kind)(asarray(logits, getattr(xp, dtype)), axis=-1))
    t = torch.from_numpy(logits)
    theirs = {
        "softmax": lambda: torch.softmax(t, dim=-1),
        "log_softmax": lambda: torch.log_softmax(t, dim=-1),
        "logsumexp": lambda: torch.logsumexp(t, dim=-1),
    }[kind]().numpy()
    ours_worst = np.nanmax(_softmax_errors(ours, logits, kind))
    theirs_worst = np.nanmax(_softmax_errors(theirs, logits, kind))
    assert ours_worst <= max(theirs_worst, 1.0)


@pytest.mark.parametrize(
    ("logits", "expected"),
    [
        # SciPy's logsumexp tests: one dominant logit
        ([1000.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),
        ([-1000.0, -1000.0], [0.5, 0.5]),
    ],
)
def test_softmax_extremes(xp, asarray, logits, expected):
    result = to_numpy(xact.softmax(asarray(logits)))
    np.testing.assert_array_equal(result, np.asarray(expected))


def test_log_softmax_keeps_tiny_complement(xp, asarray):
    # log_softmax([0, -40])[0] = -log1p(e^-40) = -4.248e-18: the dominant entry
    # keeps its relative accuracy (log of a rounded sum would give exactly 0).
    result = to_numpy(xact.log_softmax(asarray([0.0, -40.0])))
    with mpmath.workdps(50):
        exact = -mpmath.log1p(mpmath.exp(-40))
    assert abs(mpmath.mpf(float(result[0])) - exact) <= abs(exact) * 4 * 2.0**-52
