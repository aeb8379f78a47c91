"""Exact reference values (mpmath) and ULP measurement for the accuracy tests.

Every reference is the mathematical definition from DESIGN.md evaluated in
high precision by mpmath (rewritten, where a difference would cancel in
mpmath's working precision, by an exact identity such as
``1 + tanh y = 2 / (1 + e^(-2y))``); nothing here calls xact. Parameters are
exact: a Python float ``0.1`` is the binary number it denotes.

The points of a case are a fixed grid over the whole finite range (zeros,
subnormals, decades, kinks, overflow edges, the largest floats) and, between
them, seeded log-uniform random points, so a failure reproduces.

Exact values ship with the tests (``tests/exact/``, one file per case,
written by ``tools/gen_exact.py``); ``test_exact_data.py`` recomputes a random
sample of them, so the files cannot go stale unnoticed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

mpf = mpmath.mpf

# SELU's constants are the float64 numbers the contract names; GELU's cubic
# coefficient is the decimal 0.044715 itself (to 60 digits).
SELU_ALPHA = mpf(1.6732632423543772)
SELU_SCALE = mpf(1.0507009873554805)
with mpmath.workdps(60):
    GELU_TANH_CUBIC = mpf("0.044715")

PRECISION_BITS = {np.float32: 24, np.float64: 53}
WORKING_DIGITS = 60

# --- the definitions, with exact parameters ---------------------------------


def _sigmoid(x: mpf) -> mpf:
    return 1 / (1 + mpmath.exp(-x))


def _softplus(x: mpf) -> mpf:
    return mpmath.log1p(mpmath.exp(x)) if x <= 0 else x + mpmath.log1p(mpmath.exp(-x))


def _relu6(x: mpf) -> mpf:
    return min(max(x, mpf(0)), mpf(6))


def _gelu(x: mpf) -> mpf:
    # Beyond |x| = 1e4 the erfc term is below exp(-5e7) relative: gelu is x or
    # 0 to every precision a float has (and mpmath.erfc overflows there).
    if abs(x) > 10**4:
        return x if x > 0 else mpf(0)
    return x / 2 * mpmath.erfc(-x / mpmath.sqrt(2))


def _gelu_tanh_inner(x: mpf) -> tuple[mpf, mpf]:
    """u = sqrt(2/pi) (x + k x^3) and du/dx."""
    c = mpmath.sqrt(2 / mpmath.pi)
    return c * (x + GELU_TANH_CUBIC * x**3), c * (1 + 3 * GELU_TANH_CUBIC * x**2)


def _gelu_tanh(x: mpf) -> mpf:
    u, _ = _gelu_tanh_inner(x)
    return x / (1 + mpmath.exp(-2 * u))  # x/2 (1 + tanh u)


def _tanh_shrink(x: mpf) -> mpf:
    # x - tanh x ~ x^3/3 near 0: enough digits to keep 60 past the cancellation
    extra = int(-2 * mpmath.log10(abs(x))) if 0 < abs(x) < 1 else 0
    with mpmath.workdps(WORKING_DIGITS + extra):
        return +(x - mpmath.tanh(x))


def _squareplus(x: mpf, b: mpf) -> mpf:
    root = mpmath.sqrt(x * x + b)
    if x >= 0:
        return (x + root) / 2
    if b == 0:
        return mpf(0)
    return b / (2 * (root - x))  # = (x + root)/2 without cancellation


def _soft_shrink(x: mpf, lambd: mpf) -> mpf:
    return x - lambd * mpmath.sign(x) if abs(x) > lambd else mpf(0)


def _hard_swish(x: mpf) -> mpf:
    return x * _relu6(x + 3) / 6


Reference = Callable[..., mpf]

VALUES: dict[str, Reference] = {
    "relu": lambda x: max(x, mpf(0)),
    "relu6": _relu6,
    "leaky_relu": lambda x, negative_slope: x if x >= 0 else negative_slope * x,
    "elu": lambda x, alpha: x if x > 0 else alpha * mpmath.expm1(x),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mpmath.expm1(x)),
    "celu": lambda x, alpha: (
        max(mpf(0), x) + min(mpf(0), alpha * mpmath.expm1(x / alpha))
    ),
    "gelu": lambda x, approximate: _gelu(x) if approximate == "none" else _gelu_tanh(x),
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * mpmath.tanh(_softplus(x)),
    "softplus": lambda x, beta: _softplus(beta * x) / beta,
    "softsign": lambda x: x / (1 + abs(x)),
    "sigmoid": _sigmoid,
    "log_sigmoid": lambda x: -_softplus(-x),
    "hard_sigmoid": lambda x: _relu6(x + 3) / 6,
    "hard_swish": _hard_swish,
    "hard_tanh": lambda x, min_val, max_val: min(max(x, min_val), max_val),
    "tanh": mpmath.tanh,
    "tanh_shrink": _tanh_shrink,
    "hard_shrink": lambda x, lambd: x if abs(x) > lambd else mpf(0),
    "soft_shrink": _soft_shrink,
    "squareplus": _squareplus,
    "identity": lambda x: x,
}


# --- the derivatives (PyTorch's conventions at the kinks) --------------------


def _gelu_derivative(x: mpf) -> mpf:
    if abs(x) > 10**4:
        return mpf(1) if x > 0 else mpf(0)
    cdf = mpmath.erfc(-x / mpmath.sqrt(2)) / 2
    pdf = mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)
    return cdf + x * pdf


def _gelu_tanh_derivative(x: mpf) -> mpf:
    # (1 + tanh u)/2 + x/2 sech^2(u) u'; 1 + tanh u = 2/(1 + e^-2u),
    # sech^2 u = 4 e^(-2|u|) / (1 + e^(-2|u|))^2
    u, du = _gelu_tanh_inner(x)
    e = mpmath.exp(-2 * abs(u))
    return 1 / (1 + mpmath.exp(-2 * u)) + x / 2 * (4 * e / (1 + e) ** 2) * du


def _silu_derivative(x: mpf) -> mpf:
    # s (1 + x (1 - s)), 1 - s = 1/(1 + e^x)
    return _sigmoid(x) * (1 + x / (1 + mpmath.exp(x)))


def _mish_derivative(x: mpf) -> mpf:
    sp = _softplus(x)
    return mpmath.tanh(sp) + x * mpmath.sech(sp) ** 2 * _sigmoid(x)


def _sigmoid_derivative(x: mpf) -> mpf:
    e = mpmath.exp(-abs(x))
    return e / (1 + e) ** 2


def _tanh_derivative(x: mpf) -> mpf:
    return mpmath.sech(x) ** 2


def _squareplus_derivative(x: mpf, b: mpf) -> mpf:
    if b == 0:
        return mpf(1) if x > 0 else mpf(0)
    root = mpmath.sqrt(x * x + b)
    if x >= 0:
        return (1 + x / root) / 2
    return b / (2 * root * (root - x))  # (1 + x/r)/2 without cancellation


def _hard_swish_derivative(x: mpf) -> mpf:
    if x <= -3:
        return mpf(0)
    if x >= 3:
        return mpf(1)
    return (2 * x + 3) / 6


def _step(condition: bool) -> mpf:
    return mpf(1) if condition else mpf(0)


DERIVATIVES: dict[str, Reference] = {
    "relu": lambda x: _step(x > 0),
    "relu6": lambda x: _step(0 < x < 6),
    "leaky_relu": lambda x, negative_slope: mpf(1) if x > 0 else negative_slope,
    "elu": lambda x, alpha: mpf(1) if x > 0 else alpha * mpmath.exp(x),
    "selu": lambda x: SELU_SCALE * (1 if x > 0 else SELU_ALPHA * mpmath.exp(x)),
    "celu": lambda x, alpha: mpf(1) if x > 0 else mpmath.exp(x / alpha),
    "gelu": lambda x, approximate: (
        _gelu_derivative(x) if approximate == "none" else _gelu_tanh_derivative(x)
    ),
    "silu": _silu_derivative,
    "mish": _mish_derivative,
    "softplus": lambda x, beta: _sigmoid(beta * x),
    "softsign": lambda x: 1 / (1 + abs(x)) ** 2,
    "sigmoid": _sigmoid_derivative,
    "log_sigmoid": lambda x: 1 / (1 + mpmath.exp(x)),
    "hard_sigmoid": lambda x: _step(-3 < x < 3) / 6,
    "hard_swish": _hard_swish_derivative,
    "hard_tanh": lambda x, min_val, max_val: _step(min_val < x < max_val),
    "tanh": _tanh_derivative,
    "tanh_shrink": lambda x: mpmath.tanh(x) ** 2,
    "hard_shrink": lambda x, lambd: _step(abs(x) > lambd),
    "soft_shrink": lambda x, lambd: _step(abs(x) > lambd),
    "squareplus": _squareplus_derivative,
    "identity": lambda x: mpf(1),
}

# --- the cases: every function at its defaults and off them -----------------

PARAMETER_GRID: dict[str, list[dict[str, Any]]] = {
    "leaky_relu": [{"negative_slope": v} for v in (0.0, 0.2, 1 / 3, 3.7, -0.5, 1e20)],
    "elu": [{"alpha": v} for v in (0.1, 1 / 3, 2.0, 3.7)],
    "celu": [{"alpha": v} for v in (0.1, 1 / 3, 3.7, 1e-20, 1e20)],
    "gelu": [{"approximate": "tanh"}],
    "softplus": [{"beta": v} for v in (0.1, 1 / 3, 2.0, 3.7, -2.5, 1e-3, 1e3, 1e-36)],
    "hard_tanh": [
        {"min_val": lo, "max_val": hi}
        for lo, hi in ((-2.0, 0.5), (-0.1, 0.1), (0.3, 3.7))
    ],
    "hard_shrink": [{"lambd": v} for v in (0.0, 0.1, 1.0, 3.7)],
    "soft_shrink": [{"lambd": v} for v in (0.0, 0.1, 1.0, 3.7)],
    "squareplus": [{"b": v} for v in (0.0, 0.1, 1 / 3, 1.0, 100.0)],
}


@dataclass(frozen=True)
class Case:
    """One function with one setting of its parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def id(self) -> str:
        options = "-".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}[{options}]" if options else self.name


def cases(defaults: Mapping[str, Mapping[str, Any]]) -> list[Case]:
    """Every function at its defaults, then each non-default setting.

    ``defaults`` maps each elementwise function to its default keyword
    options (the registry's table); a function with no oracle is a KeyError,
    so registering an activation without one fails the tests.
    """
    result = []
    for name, options in defaults.items():
        if name not in VALUES or name not in DERIVATIVES:
            raise KeyError(f"{name} is registered but has no oracle in tests/oracle.py")
        result.append(Case(name, tuple(sorted(options.items()))))
        for setting in PARAMETER_GRID.get(name, []):
            merged = {**options, **setting}
            result.append(Case(name, tuple(sorted(merged.items()))))
    return result


# --- points ----------------------------------------------------------------

KINKS = (0.5, 1.0, 3.0, 6.0, 0.044715)
RANDOM_PER_SIGN = 3000
RANDOM_SEED = 20261129


def grid(dtype: type, extra_kinks: tuple[float, ...] = ()) -> np.ndarray:
    """Inputs spanning the whole finite range of `dtype`: zeros, tiny and
    subnormal numbers, decades 1e-30 ... 1e30 and beyond, values near the
    maximum, the kinks (0, ±0.5, ±1, ±3, 6 and a case's own parameters) with
    their neighbours, the overflow edges near ±88 and ±710, and a dense sweep
    of [-40, 40]."""
    info = np.finfo(dtype)
    top = int(np.log10(float(info.max)))
    decades = _half_decades(30)
    wide = _half_decades(top)
    edges = [88.0, 88.7, 89.0, 103.0, 104.0, 709.0, 709.8, 710.0, 745.0, 746.0]
    big = [float(info.max), float(info.max) / 2, float(info.max) * 0.99]
    tiny = [float(info.smallest_normal) * k for k in (1, 2, 10)] + [
        float(info.smallest_subnormal)
    ]
    kinks = [abs(k) for k in (*KINKS, *extra_kinks) if abs(k) <= float(info.max)]
    positive = np.concatenate([decades, wide, edges, kinks, big, tiny])
    values = np.concatenate([positive, -positive, [0.0], np.linspace(-40, 40, 801)])
    with np.errstate(over="ignore"):
        values = values.astype(dtype)
        kink_values = np.asarray([*kinks, *(-k for k in kinks), 0.0]).astype(dtype)
    neighbours = np.concatenate(
        [
            np.nextafter(kink_values, dtype(np.inf)),
            np.nextafter(kink_values, dtype(-np.inf)),
        ]
    )
    values = np.concatenate([values, neighbours]).astype(dtype)
    return sorted_unique(values[np.isfinite(values)])


@cache
def _half_decades(top: int) -> np.ndarray:
    """10**-top, 10**-(top - 0.5), ..., 10**top."""
    return _read_only(powers_of_ten(np.arange(-2 * top, 2 * top + 1) / 2))


def _read_only(values: np.ndarray) -> np.ndarray:
    """A cached array that no caller can change for the next one."""
    values.flags.writeable = False
    return values


def powers_of_ten(exponents: np.ndarray) -> np.ndarray:
    """10**e for each float64 e, the same bits on every machine: mpmath's
    arithmetic, not NumPy's ``power``, whose SIMD loops (AVX-512 or not)
    differ in the last bit from one CPU to another."""
    return np.asarray([float(mpmath.power(10, mpf(float(e)))) for e in exponents])


@cache
def random_points(dtype: type, per_sign: int = RANDOM_PER_SIGN) -> np.ndarray:
    """Seeded log-uniform points between the grid's: two thirds with
    |x| in [1e-6, 1e3] (where the functions bend), a third over the whole
    normal range of `dtype`, each with both signs."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(RANDOM_SEED)
    dense = powers_of_ten(rng.uniform(-6.0, 3.0, size=2 * per_sign // 3))
    low, high = (
        float(mpmath.log10(float(bound))) for bound in (info.smallest_normal, info.max)
    )
    spread = powers_of_ten(rng.uniform(low, high, size=per_sign - len(dense)))
    magnitudes = np.concatenate([dense, spread])
    signs = np.where(rng.uniform(size=len(magnitudes)) < 0.5, -1.0, 1.0)
    # each magnitude with both signs, plus an independent sign for variety
    values = np.concatenate([magnitudes, -magnitudes, signs * magnitudes[::-1]])
    with np.errstate(over="ignore"):
        values = values.astype(dtype)
    return _read_only(values[np.isfinite(values)])


def points(dtype: type, extra_kinks: tuple[float, ...] = ()) -> np.ndarray:
    """The grid and the random points, sorted and unique."""
    return sorted_unique(
        np.concatenate([grid(dtype, extra_kinks), random_points(dtype)])
    )


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending, with both zeros (-0.0 first). Not
    ``np.unique``: it keeps whichever zero its sort puts first, and its SIMD
    sort (AVX-512 or not) differs from one CPU to another."""
    nonzero = np.unique(values[values != 0])
    zeros = np.asarray([-0.0, 0.0], dtype=values.dtype)
    at = np.searchsorted(nonzero, 0.0)
    return np.concatenate([nonzero[:at], zeros, nonzero[at:]])


def _case_kinks(case: Case) -> tuple[float, ...]:
    return tuple(
        float(v)
        for k, v in case.params
        if k in ("lambd", "min_val", "max_val") and isinstance(v, float)
    )


# --- exact values ------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """Exact values at `xs`, as float64 pairs ``hi + lo`` with the binary
    exponent of the exact value (for its ULP) and its class."""

    xs: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    exponent: np.ndarray  # floor(log2 |exact|); 0 where exact is 0
    zero: np.ndarray  # exact value is 0
    normal: np.ndarray  # exact value is a normal number of the dtype
    huge: np.ndarray  # exact value is beyond the largest finite number


# Exact values ship as test data: one file per case under tests/exact/,
# written by tools/gen_exact.py. Each dtype's entry holds a digest of its
# points, so a changed grid is a clear failure, not a silent mismatch.
DATA = Path(__file__).resolve().parent / "exact"
KINDS = ("value", "derivative")
DTYPES = (np.float32, np.float64)
REGENERATE = "python tools/gen_exact.py"
# Classes of an exact value, relative to the dtype
NORMAL, ZERO, HUGE, SUBNORMAL = 0, 1, 2, 3


def data_path(case: Case) -> Path:
    """The file of `case`: its id with only file-safe characters."""
    options = ".".join(f"{k}={v}" for k, v in case.params)
    stem = f"{case.name}.{options}" if options else case.name
    return DATA / (re.sub(r"[^A-Za-z0-9_.=+-]", "_", stem) + ".npz")


def digest(xs: np.ndarray) -> str:
    """A fingerprint of the points the values belong to."""
    return hashlib.sha256(np.ascontiguousarray(xs).tobytes()).hexdigest()[:16]


def case_points(case: Case, dtype: type) -> np.ndarray:
    return points(dtype, _case_kinks(case))


def compute(kind: str, case: Case, xs: np.ndarray, dtype: type) -> dict[str, Any]:
    """Exact values of `case` (``kind`` "value" or "derivative") at `xs`, in
    the stored form: ``hi`` (float64), ``lo`` (the rest, in units of the last
    place of ``hi``, float32) and ``cls`` (NORMAL, ZERO, HUGE, SUBNORMAL)."""
    reference = (VALUES if kind == "value" else DERIVATIVES)[case.name]
    exact_params = {
        k: mpf(float(v)) if isinstance(v, float) else v for k, v in case.params
    }
    with mpmath.workdps(WORKING_DIGITS):
        values = [+reference(mpf(float(v)), **exact_params) for v in xs]
    return _stored(values, dtype)


def _stored(values: list[Any], dtype: type) -> dict[str, Any]:
    info = np.finfo(dtype)
    smallest, largest = mpf(float(info.smallest_normal)), mpf(float(info.max))
    with mpmath.workdps(WORKING_DIGITS):
        hi = np.array([float(v) for v in values])
        finite = np.isfinite(hi)
        rest = [
            float(v - mpf(h)) if ok else 0.0
            for v, h, ok in zip(values, hi, finite, strict=True)
        ]
        magnitude = [abs(v) for v in values]
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.where(finite, np.asarray(rest) / np.spacing(np.abs(hi)), 0.0)
    # a rest too small for float32 keeps its sign (it decides the exponent of
    # an exact value just below a power of two)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    lo = np.where(lo == 0, 0.0, np.sign(lo) * np.maximum(np.abs(lo), tiny))
    cls = np.full(len(values), SUBNORMAL, dtype=np.uint8)
    cls[[smallest <= m <= largest for m in magnitude]] = NORMAL
    cls[[m == 0 for m in magnitude]] = ZERO
    cls[[m > largest for m in magnitude]] = HUGE
    return {"hi": hi, "lo": lo.astype(np.float32), "cls": cls}


def save_case(case: Case, entries: dict[str, np.ndarray]) -> Path:
    """Write `case`'s file atomically (a temporary file, then a rename)."""
    path = data_path(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, case=np.asarray(case.id), **entries)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def case_entries(case: Case) -> dict[str, np.ndarray]:
    """Everything stored for `case`, computed now from mpmath."""
    entries: dict[str, np.ndarray] = {}
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        xs = case_points(case, dtype)
        entries[f"{name}_digest"] = np.asarray(digest(xs))
        for kind in KINDS:
            for part, array in compute(kind, case, xs, dtype).items():
                entries[f"{name}_{kind}_{part}"] = array
    return entries


class MissingExactValues(LookupError):
    """A case has no stored exact values, or they belong to other points."""


@cache
def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def stored(kind: str, case: Case, dtype: type) -> dict[str, np.ndarray]:
    """The stored ``hi``, ``lo`` and ``cls`` of `case`, checked against the
    points the tests use now."""
    path = data_path(case)
    where = path.relative_to(DATA.parent.parent)
    if not path.exists():
        raise MissingExactValues(
            f"no exact values for {case.id}: {where} is missing; "
            f"run `{REGENERATE} --case {case.name}`"
        )
    data = _load(path)
    name = np.dtype(dtype).name
    if str(data["case"]) != case.id or str(data[f"{name}_digest"]) != digest(
        case_points(case, dtype)
    ):
        raise MissingExactValues(
            f"{where} holds values for other points than {case.id} uses now "
            f"({name}); run `{REGENERATE} --case {case.name}`"
        )
    return {part: data[f"{name}_{kind}_{part}"] for part in ("hi", "lo", "cls")}


@cache
def exact(kind: str, case: Case, dtype: type) -> Exact:
    """Exact values (``kind`` "value" or "derivative") of `case` on its points."""
    return _exact(case_points(case, dtype), **stored(kind, case, dtype))


def _exact(xs: np.ndarray, hi: np.ndarray, lo: np.ndarray, cls: np.ndarray) -> Exact:
    with np.errstate(invalid="ignore", over="ignore"):
        rest = lo.astype(np.float64) * np.spacing(np.abs(hi))
    rest = np.where(np.isfinite(rest), rest, 0.0)
    mantissa, power = np.frexp(hi)
    # floor(log2 |hi + rest|): one less where hi is a power of two rounded up
    below = (np.abs(mantissa) == 0.5) & (rest * np.sign(hi) < 0)
    exponent = np.where(cls == NORMAL, power - 1 - below, 0)
    return Exact(xs, hi, rest, exponent, cls == ZERO, cls == NORMAL, cls == HUGE)


def exact_from_mpf(values: Any, dtype: type, xs: Any = None) -> Exact:
    """An :class:`Exact` from mpmath values computed elsewhere."""
    values = list(values)
    points = np.full(len(values), np.nan) if xs is None else np.asarray(xs)
    return _exact(points, **_stored(values, dtype))


def ulp_errors(actual: np.ndarray, reference: Any, dtype: type) -> np.ndarray:
    """|actual - exact| in units of the last place of the exact value in `dtype`.

    `reference` is an :class:`Exact` or a sequence of mpmath values. NaN where
    the exact value is not a normal number of `dtype` (zero, subnormal or
    beyond the maximum); there the tests check other things.
    """
    if not isinstance(reference, Exact):
        reference = exact_from_mpf(reference, dtype)
    bits = PRECISION_BITS[dtype]
    actual = np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs((actual - reference.hi) - reference.lo)
        shift = np.clip(reference.exponent - bits + 1, -20000, 20000).astype(np.int32)
        errors = np.ldexp(difference, -shift)
    errors = np.where(np.isfinite(actual), errors, np.inf)
    return np.where(reference.normal, errors, np.nan)


def describe_worst(
    errors: np.ndarray, actual: np.ndarray, reference: Exact, label: str
) -> str:
    """A failure message naming the worst point."""
    worst = int(np.nanargmax(errors))
    exact_value = reference.hi[worst] + reference.lo[worst]
    return (
        f"{label}({reference.xs[worst]!r}) = {actual[worst]!r}, exact "
        f"{exact_value!r}: {errors[worst]:.2f} ULP "
        f"({int(np.sum(errors > 4))} of {int(np.sum(np.isfinite(errors)))} "
        "points over 4)"
    )


def half_ulp_errors(
    ours: np.ndarray, reference: np.ndarray, precision: int, emin: int
) -> np.ndarray:
    """|ours - reference| in ULPs of a binary format of ``precision``
    significand bits and smallest normal exponent ``emin`` (float16: 11, -14;
    bfloat16: 8, -126) at the float64 ``reference``; 0 where it is not finite."""
    finite = np.isfinite(reference)
    _, exponent = np.frexp(np.where(finite, reference, 1.0))
    ulp = np.ldexp(1.0, np.maximum(exponent - 1, emin) - precision + 1)
    with np.errstate(invalid="ignore"):
        return np.where(finite, np.abs(ours - reference) / ulp, 0.0)
