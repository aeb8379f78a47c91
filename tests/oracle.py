"""Exact reference values (mpmath) and ULP measurement for the accuracy tests.

Every reference is the mathematical definition from DESIGN.md evaluated in
high precision by mpmath; nothing here calls xact.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import mpmath
import numpy as np

mp = mpmath.mp
mpf = mpmath.mpf

SELU_ALPHA = mpf("1.6732632423543772")
SELU_SCALE = mpf("1.0507009873554805")


def _softplus(x: mpf) -> mpf:
    return mpmath.log1p(mpmath.exp(x)) if x <= 0 else x + mpmath.log1p(mpmath.exp(-x))


def _sigmoid(x: mpf) -> mpf:
    return 1 / (1 + mpmath.exp(-x))


def _gelu_tanh(x: mpf) -> mpf:
    inner = mpmath.sqrt(2 / mpmath.pi) * (x + mpf("0.044715") * x**3)
    return x / 2 * (1 + mpmath.tanh(inner))


def _gelu(x: mpf) -> mpf:
    # Beyond |x| = 1e4 the erfc term is below exp(-5e7) relative: gelu is x or 0
    # to every precision a float has (and mpmath.erfc overflows there).
    if abs(x) > 10**4:
        return x if x > 0 else mpf(0)
    return x / 2 * mpmath.erfc(-x / mpmath.sqrt(2))


def _relu6(x: mpf) -> mpf:
    return min(max(x, mpf(0)), mpf(6))


# name -> exact function of one mpf (the contract's table, default parameters)
REFERENCES: dict[str, Callable[[mpf], mpf]] = {
    "relu": lambda x: max(x, mpf(0)),
    "relu6": _relu6,
    "leaky_relu": lambda x: x if x >= 0 else mpf("0.01") * x,
    "elu": lambda x: x if x > 0 else mpmath.expm1(x),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mpmath.expm1(x)),
    "celu": lambda x: max(mpf(0), x) + min(mpf(0), mpmath.expm1(x)),
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * mpmath.tanh(_softplus(x)),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + abs(x)),
    "sigmoid": _sigmoid,
    "log_sigmoid": lambda x: -_softplus(-x),
    "hard_sigmoid": lambda x: _relu6(x + 3) / 6,
    "hard_swish": lambda x: x * _relu6(x + 3) / 6,
    "hard_tanh": lambda x: min(max(x, mpf(-1)), mpf(1)),
    "tanh": mpmath.tanh,
    "tanh_shrink": lambda x: x - mpmath.tanh(x),
    "hard_shrink": lambda x: x if abs(x) > mpf("0.5") else mpf(0),
    "soft_shrink": lambda x: (
        (x - mpf("0.5") * mpmath.sign(x)) if abs(x) > mpf("0.5") else mpf(0)
    ),
    "squareplus": lambda x: (x + mpmath.sqrt(x * x + 4)) / 2,
    "identity": lambda x: x,
}


def grid(dtype: type) -> np.ndarray:
    """Inputs spanning the whole finite range of `dtype`: zeros, tiny and
    subnormal numbers, decades 1e-30 ... 1e30 and beyond, values near the
    maximum, the kinks (0, ±0.5, ±1, ±3, 6) with their neighbours, the
    overflow edges near ±88 and ±710, and a dense sweep of [-40, 40]."""
    info = np.finfo(dtype)
    top = int(np.log10(float(info.max)))
    decades = np.logspace(-30, 30, 121)
    wide = np.logspace(-top, top, 4 * top + 1)
    edges = [88.0, 88.7, 89.0, 103.0, 104.0, 709.0, 709.8, 710.0, 745.0, 746.0]
    kinks = [0.5, 1.0, 3.0, 6.0, 0.044715]
    big = [float(info.max), float(info.max) / 2, float(info.max) * 0.99]
    tiny = [float(info.smallest_normal) * k for k in (1, 2, 10)] + [
        float(info.smallest_subnormal)
    ]
    positive = np.concatenate([decades, wide, edges, kinks, big, tiny])
    values = np.concatenate([positive, -positive, [0.0], np.linspace(-40, 40, 801)])
    with np.errstate(over="ignore"):
        values = values.astype(dtype)
    kink_values = np.asarray([*kinks, *(-k for k in kinks), 0.0], dtype=dtype)
    neighbours = np.concatenate(
        [
            np.nextafter(kink_values, dtype(np.inf)),
            np.nextafter(kink_values, dtype(-np.inf)),
        ]
    )
    values = np.concatenate([values, neighbours, [-0.0]]).astype(dtype)
    return np.unique(values[np.isfinite(values)])


PRECISION_BITS = {np.float32: 24, np.float64: 53}


@cache
def exact_values(name: str, dtype: type) -> tuple[np.ndarray, tuple[mpf, ...]]:
    """The grid for `dtype` and the exact value of `name` at each point."""
    xs = grid(dtype)
    reference = REFERENCES[name]
    # tanh_shrink, squareplus and the tanh form of gelu cancel (x - tanh x,
    # x + sqrt(x^2 + 4) for x < 0, 1 + tanh y):
    # enough digits that every normal float64 result keeps 60 of them.
    digits = {"tanh_shrink": 700, "gelu_tanh": 400, "squareplus": 700}.get(name, 60)
    with mpmath.workdps(digits):
        exact = tuple(+reference(mpf(float(v))) for v in xs)
    return xs, exact


def ulp_errors(actual: np.ndarray, exact: tuple[mpf, ...], dtype: type) -> np.ndarray:
    """|actual - exact| in units of the last place of `exact` in `dtype`.

    NaN where the exact value is not a normal number of `dtype` (zero,
    subnormal or beyond the maximum); there the tests check other things.
    """
    info = np.finfo(dtype)
    bits = PRECISION_BITS[dtype]
    errors = np.full(len(exact), np.nan)
    for i, (a, e) in enumerate(zip(actual.tolist(), exact, strict=True)):
        magnitude = abs(e)
        if not float(info.smallest_normal) <= magnitude <= float(info.max):
            continue
        exponent = int(mpmath.floor(mpmath.log(magnitude, 2)))
        ulp = mpmath.ldexp(1, exponent - bits + 1)
        errors[i] = float(abs(mpf(a) - e) / ulp) if np.isfinite(a) else np.inf
    return errors
