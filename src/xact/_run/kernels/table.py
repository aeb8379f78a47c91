"""The compiled kernels: one per elementwise function, direction, element
table and fixed parameter setting.

Two tables, each recorded into C by :mod:`xact._run.kernels.record`:

- **float32** (and the half types, rounded once from it): the wide formulas
  (:data:`xact._math.elementwise_wide.WIDE_VALUES`, or
  :func:`xact._math.derivatives_wide.wide_vjp` for the backward pass), float64
  arithmetic on float32 inputs;
- **float64**: the generic path's own exact math
  (:mod:`xact._math.elementwise`, :mod:`xact._math.derivatives`: exact pairs,
  erfc, the derivative roots), the one definition, compiled; and, for the
  kinks and the plain derivatives proven in float64, the wide formulas.

A kernel's parameters (``alpha``, ``beta``, ...) are kernel arguments. Those a
float32 formula branches on, and the float64 formulas' choices between two
formulas (softplus at beta = 1, squareplus at b = 0, gelu's ``approximate``),
have a kernel of their own per value (:data:`FIXED`, :data:`FIXED64`). Where
the exact math transforms a parameter in Python (a power of two from
``frexp``, ``sqrt(b)``), the kernel records its two-step form
(:class:`xact._math.catalogue.Prepared`): each call turns the parameters into
constants, which the kernel takes as its arguments, so every value runs
compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..._math import derivatives, softmax
from ..._math.catalogue import DEFINITIONS, definition
from ..._math.derivatives_wide import plain_in_float64, wide_vjp
from ..._math.elementwise_wide import WIDE_VALUES

__all__ = [
    "EXACT64",
    "FIXED",
    "FIXED64",
    "MAX_ARGUMENTS",
    "ROWS",
    "ROW_VJPS",
    "Kernel",
    "Row",
    "c_source",
    "find",
    "find_row",
    "find_row_vjp",
    "kernels",
    "rows",
]

# the parameters a formula branches on: one kernel per setting, tried in
# order (an empty setting takes any value as an argument)
FIXED: Mapping[str, tuple[dict[str, Any], ...]] = {
    "gelu": ({"approximate": "none"}, {"approximate": "tanh"}),
    "leaky_relu": ({"negative_slope": 0.0}, {}),
    "squareplus": ({"b": 0.0}, {}),
}

DIRECTIONS = ("value", "vjp")

# The wide kernels that also serve float64 input: only formulas within 4 ULP
# (values) and 8 ULP (derivatives) in float64 itself, tested so against
# mpmath. The wide formulas are float32 formulas (their clamps sit at
# float32's limits). The values here are exact or one rounding, the same
# bits as the generic float64 path; the derivatives are the kinks' and those
# exact in their exponential's argument
# (xact._math.derivatives_wide.plain_in_float64).
FLOAT64: Mapping[str, frozenset[str]] = {
    "value": frozenset(
        {
            "relu",
            "relu6",
            "leaky_relu",
            "hard_tanh",
            "hard_shrink",
            "soft_shrink",
            "identity",
            # the generic path's operations in the same order, so the same
            # bits (elu, selu, log_sigmoid, tanh and softsign are within 1.7
            # ULP in float64 too, but by other operations: a NumPy array
            # and a Dask array of it would disagree in the last bit)
            "hard_sigmoid",
            "hard_swish",
        }
    ),
    "vjp": frozenset(
        {
            "relu",
            "relu6",
            "leaky_relu",
            "elu",
            "selu",
            "sigmoid",
            "log_sigmoid",
            "hard_sigmoid",
            "hard_swish",
            "hard_tanh",
            "tanh",
            "hard_shrink",
            "soft_shrink",
            "identity",
            # where beta (alpha) is a power of two, as at the defaults
            "softplus",
            "celu",
        }
    ),
}

# the wide float64 derivatives accurate only where the parameter scales x
# exactly (xact._math.derivatives_wide.plain_in_float64)
PLAIN_WHEN_EXACT_SCALE = frozenset({"softplus", "celu"})


# The float64 kernels recorded from the generic path's exact math, for the
# functions and directions the wide table does not serve in float64.
EXACT64: Mapping[str, frozenset[str]] = {
    "value": frozenset(
        {
            "elu",
            "selu",
            "celu",
            "gelu",
            "silu",
            "mish",
            "softplus",
            "softsign",
            "sigmoid",
            "log_sigmoid",
            "tanh",
            "tanh_shrink",
            "squareplus",
        }
    ),
    "vjp": frozenset(
        {
            "gelu",
            "silu",
            "mish",
            "softsign",
            "tanh_shrink",
            "squareplus",
            # where beta (alpha) is no power of two
            "softplus",
            "celu",
        }
    ),
}

# the parameters the exact math chooses a formula by, per direction: a
# float64 kernel per setting, tried in order (an empty setting: the prepared
# form, any value; softplus' at beta = 1 is the wide table's)
_GELU: tuple[dict[str, Any], ...] = ({"approximate": "none"}, {"approximate": "tanh"})
_SQUAREPLUS: tuple[dict[str, Any], ...] = ({"b": 0.0}, {})
FIXED64: Mapping[str, Mapping[str, tuple[dict[str, Any], ...]]] = {
    "value": {
        "gelu": _GELU,
        "softplus": ({"beta": 1.0}, {}),
        "squareplus": _SQUAREPLUS,
    },
    "vjp": {"gelu": _GELU, "squareplus": _SQUAREPLUS},
}

# the most arguments a kernel takes (softplus's twelve constants); the C and
# CUDA interfaces pass this many
MAX_ARGUMENTS = 16


@dataclass(frozen=True)
class Kernel:
    function: str
    direction: str  # "value": y = f(x); "vjp": dx = d * f'(x)
    fixed: tuple[tuple[str, Any], ...]
    parameters: tuple[str, ...]  # passed at run time, in this order
    excluded: tuple[tuple[str, tuple[float, ...]], ...] = ()  # fixed elsewhere
    exact: bool = False  # float64 only, recorded from the exact math
    # the options a per-call step turns into the constants that
    # ``parameters`` name (the definition's Prepared form); () if none
    prepared: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        setting = "".join(f"_{k}_{_slug(v)}" for k, v in self.fixed)
        return (
            f"{self.function}{setting}_{self.direction}{'_exact' if self.exact else ''}"
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("x",) if self.direction == "value" else ("x", "d")

    def formula(self) -> Callable[..., Any]:
        if self.prepared:
            return definition(self.function).prepared[self.direction].math
        if self.exact:
            math = definition(self.function)
            return math.math if self.direction == "value" else _vjp_of(math.vjp)
        if self.direction == "value":
            return WIDE_VALUES[self.function]
        return wide_vjp(self.function)

    def matches(self, params: Mapping[str, Any]) -> bool:
        return all(params[k] == v for k, v in self.fixed)

    def arguments(self, params: Mapping[str, Any]) -> tuple[float, ...]:
        """The run-time arguments for these parameters: the parameters
        themselves, or the constants the per-call step makes of them."""
        if self.prepared:
            step = definition(self.function).prepared[self.direction].constants
            options = {k: params[k] for k in self.prepared}
            return tuple(float(v) for v in step(np, np.float64, **options).values())
        return tuple(float(params[p]) for p in self.parameters)

    def source(self) -> str:
        from .record import c_function

        return c_function(
            self.name,
            self.formula(),
            self.inputs,
            self.parameters,
            dict(self.fixed),
            dict(self.excluded),
        )

    @property
    def float64(self) -> bool:
        """Whether this kernel serves float64 input."""
        return self.exact or self.function in FLOAT64[self.direction]

    @property
    def arithmetic_only(self) -> bool:
        """No call of the C library's math and no division (the kinks): a
        pass over memory, which a second thread does not speed up at 1e6."""
        return _arithmetic_only(self)


def _vjp_of(vjp: Callable[..., Any]) -> Callable[..., Any]:
    """``vjp(xp, x, y, d, **params)`` as a kernel's ``(xp, x, d, **params)``:
    the elementwise derivatives are computed from x, never from y."""

    def kernel_vjp(xp: Any, x: Any, d: Any, **params: Any) -> Any:
        return vjp(xp, x, None, d, **params)

    return kernel_vjp


def _slug(value: Any) -> str:
    return str(value).replace(".0", "").replace("-", "minus_").replace(".", "_")


@cache
def kernels() -> tuple[Kernel, ...]:
    """Every kernel: the values first, then the vector-Jacobian products, in
    the catalogue's order; in each direction the wide kernels, then the
    exact float64 ones."""
    kernels = []
    for direction in DIRECTIONS:
        for exact in (False, True):
            fixed = FIXED64[direction] if exact else FIXED
            for entry in DEFINITIONS:
                if entry.along_axis or (exact and entry.name not in EXACT64[direction]):
                    continue
                kernels += _settings(
                    entry.name, entry.defaults, direction, fixed, exact
                )
    return tuple(kernels)


def _settings(
    name: str,
    defaults: Mapping[str, Any],
    direction: str,
    table: Mapping[str, tuple[dict[str, Any], ...]],
    exact: bool,
) -> list[Kernel]:
    settings = table.get(name, ({},))
    kernels = []
    for setting in settings:
        parameters = tuple(k for k in defaults if k not in setting)
        fixed = tuple(sorted(setting.items()))
        excluded = tuple(
            (p, tuple(s[p] for s in settings if p in s)) for p in parameters
        )
        prepared = definition(name).prepared.get(direction)
        if exact and parameters and prepared is not None:
            # the kernel's arguments: the constants, named as at the defaults
            options = {k: defaults[k] for k in parameters}
            constants = prepared.constants(np, np.float64, **options)
            kernel = Kernel(
                name, direction, fixed, tuple(constants), (), exact, parameters
            )
        else:
            kernel = Kernel(name, direction, fixed, parameters, excluded, exact)
        if len(kernel.parameters) > MAX_ARGUMENTS:
            raise ValueError(f"{kernel.name} takes more than {MAX_ARGUMENTS} arguments")
        kernels.append(kernel)
    return kernels


@cache
def _arithmetic_only(kernel: Kernel) -> bool:
    from .record import MATH_FUNCTIONS

    source = kernel.source()
    # a float64 division takes as long as a pass over memory: hard_sigmoid
    # at 1e6 took 0.52 ms on one thread, 0.35 ms on two
    return " / " not in source and not any(
        f"{name}(" in source for name in MATH_FUNCTIONS
    )


def listed(direction: str, float64: bool) -> tuple[Kernel, ...]:
    """The kernels of a direction, in the order of their C table (float64:
    those that serve float64, in a table of their own)."""
    return tuple(
        k
        for k in kernels()
        if k.direction == direction and (k.float64 if float64 else not k.exact)
    )


@cache
def _by_function(
    function: str, direction: str, float64: bool
) -> tuple[tuple[int, Kernel], ...]:
    return tuple(
        (index, kernel)
        for index, kernel in enumerate(listed(direction, float64))
        if kernel.function == function
    )


def find(
    function: str, direction: str, params: Mapping[str, Any], float64: bool = False
) -> tuple[int, Kernel, tuple[float, ...]] | None:
    """The kernel for these parameters, its index in its C table and its
    run-time arguments; None for a function without one (in float64: one
    not proven there)."""
    for index, kernel in _by_function(function, direction, float64):
        if not kernel.matches(params):
            continue
        plain = not kernel.exact and function in PLAIN_WHEN_EXACT_SCALE
        if float64 and plain and not plain_in_float64(function, dict(params)):
            continue  # a scale that is no power of two: the exact kernel
        return index, kernel, kernel.arguments(params)
    return None


@dataclass(frozen=True)
class Row:
    """A row kernel of the softmax family (or logsumexp, which ``reduces``
    the row to one value): float32 elements through the widened formulas
    (:mod:`xact._math.softmax`'s ``*_widened``), float64 through the exact
    math the generic path runs."""

    function: str
    masked: bool
    float64: bool = False

    @property
    def reduces(self) -> bool:
        return self.function == "logsumexp"

    @property
    def name(self) -> str:
        mask = "_masked" if self.masked else ""
        return f"{self.function}{mask}_row{'64' if self.float64 else ''}"

    def formula(self) -> Callable[..., Any]:
        if self.float64:
            kept = self.function + ("_kept" if self.reduces else "_math")
            formula: Callable[..., Any] = getattr(softmax, kept)
        else:
            formula = getattr(softmax, f"{self.function}_widened")
        return formula

    def source(self) -> str:
        from .record import c_row_function

        element = "double" if self.float64 else "float"
        return c_row_function(
            self.name,
            self.formula(),
            masked=self.masked,
            element=element,
            reduces=self.reduces,
        )


@dataclass(frozen=True)
class RowVjp:
    """The backward pass of a softmax-family row function, from its output
    and the incoming gradient: float32 elements computed in double and
    rounded once, float64 with compensated sums."""

    function: str
    float64: bool = False

    @property
    def name(self) -> str:
        return f"{self.function}_vjp_row{'64' if self.float64 else ''}"

    def source(self) -> str:
        from .record import c_row_vjp_function

        formula = getattr(derivatives, f"{self.function}_vjp")
        element = "double" if self.float64 else "float"
        return c_row_vjp_function(self.name, formula, element=element)


# every row backward kernel, float32 then float64, in C table order
ROW_VJPS: tuple[RowVjp, ...] = tuple(
    RowVjp(function, float64)
    for float64 in (False, True)
    for function in ("softmax", "log_softmax", "softmin")
)


def find_row_vjp(function: str, float64: bool = False) -> int | None:
    """The index of the row backward kernel of ``function`` (None: none)."""
    table = [v for v in ROW_VJPS if v.float64 == float64]
    try:
        return table.index(RowVjp(function, float64))
    except ValueError:
        return None


_ROW_FUNCTIONS = (
    ("softmax", False),
    ("softmax", True),
    ("log_softmax", False),
    ("log_softmax", True),
    ("softmin", False),
    ("logsumexp", False),
)

# every row kernel, float32 then float64, in the order of their C tables
ROWS: tuple[Row, ...] = tuple(
    Row(function, masked, float64)
    for float64 in (False, True)
    for function, masked in _ROW_FUNCTIONS
)


def rows(float64: bool) -> tuple[Row, ...]:
    """The row kernels of one element type, in the order of their C table."""
    return tuple(row for row in ROWS if row.float64 == float64)


def find_row(function: str, masked: bool, float64: bool = False) -> int | None:
    """The index of the row kernel of ``function`` (None: none)."""
    try:
        return rows(float64).index(Row(function, masked, float64))
    except ValueError:
        return None


HEADER = """\
/* xact's compiled kernels, generated by tools/gen_kernels.py from the float64
 * formulas of xact._math.elementwise_wide and xact._math.derivatives_wide and,
 * for float64 elements (the kernels named *_exact), the exact math of
 * xact._math.elementwise and xact._math.derivatives: do not edit.
 *
 * Each function computes one element in double. XACT_KERNEL is "static
 * inline" in C and "__device__ inline" under NVRTC; XACT_NAME(kernel) is its
 * C name. XACT_VALUE_KERNELS and
 * XACT_VJP_KERNELS list every kernel as K(name, arguments), the arguments
 * written with v (the input), d (the incoming gradient) and p (the
 * parameters), in the order of xact._run.kernels.table.kernels();
 * XACT_VALUE64_KERNELS and XACT_VJP64_KERNELS those that serve float64.
 * XACT_ROW_KERNELS (float32) and XACT_ROW64_KERNELS (float64) list the
 * softmax family's row functions as K(name, outputs), outputs ROW_ELEMENTS
 * (one per element) or ROW_ONE (logsumexp: one per row): each reduction is
 * a pass over the row (XACT_ROW_LOOP), then XACT_ROW_MAX, _SUM or _OR
 * combine the partial results, and XACT_ROW_STORE writes a row's one
 * result; in C one thread has them all, so these are empty (the store is
 * the statement), and a CUDA block defines them as block-wide reductions.
 * XACT_ROW_VJP_KERNELS and XACT_ROW_VJP64_KERNELS list their backward
 * passes, K(name): from the output y and the gradient d, a row at a time.
 */
#ifndef XACT_KERNEL
#define XACT_KERNEL static inline
#endif
/* an elementwise kernel's C name: xact_<kernel>, unless the includer names
 * a second compilation otherwise (cpu.c's kernels with a fused TwoProduct) */
#ifndef XACT_NAME
#define XACT_NAME(name) xact_##name
#endif
/* the most arguments (parameters or their constants) a kernel takes: C
 * passes them as an array p, CUDA as that many doubles p0, p1, ...
 * (XACT_ARGUMENT_LIST), gathered into p (XACT_ARGUMENT_ARRAY) */
@ARGUMENTS@
#ifndef XACT_ROW
#define XACT_ROW static
#endif
#ifndef XACT_ROW_LOOP
#define XACT_ROW_LOOP(i, n) for (long i = 0; i < n; i++)
#define XACT_ROW_MAX(r)
#define XACT_ROW_SUM(r)
#define XACT_ROW_OR(r)
#define XACT_ROW_STORE(statement) statement
#endif

/* TwoProduct's error: a * b - p exactly, for p = fl(a * b). Dekker's split
 * (2^27 + 1), as xact._math.twofold writes it, unless the includer defines
 * XACT_PRODUCT_ERROR as a fused multiply-add: the same bits wherever
 * Dekker's product is exact, which the formulas keep to. */
#ifndef XACT_PRODUCT_ERROR
#define XACT_PRODUCT_ERROR(a, b, p) xact_product_error(a, b, p)
#endif
#ifndef XACT_HELPERS
#define XACT_HELPERS
XACT_KERNEL double xact_product_error(double a, double b, double p)
{
    const double ca = 134217729.0 * a, a_hi = ca - (ca - a), a_lo = a - a_hi;
    const double cb = 134217729.0 * b, b_hi = cb - (cb - b), b_lo = b - b_hi;
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
}

/* maximum and minimum as the Array API defines them: NaN if either is NaN;
 * of two equal values (-0 and 0) the first, as NumPy gives */
XACT_KERNEL double xact_maximum(double a, double b)
{
    return (a >= b || a != a) ? a : b;
}

XACT_KERNEL double xact_minimum(double a, double b)
{
    return (a <= b || a != a) ? a : b;
}

/* the same against a bound b that is never NaN (a constant or parameter) */
XACT_KERNEL double xact_maximum_bounded(double a, double b)
{
    return (b > a) ? b : a;
}

XACT_KERNEL double xact_minimum_bounded(double a, double b)
{
    return (b < a) ? b : a;
}
#endif
"""


def c_source() -> str:
    """The generated C source of every kernel (``kernels.h``)."""
    names = [f"p{i}" for i in range(MAX_ARGUMENTS)]
    arguments = "\n".join(
        (
            f"#define XACT_MAX_ARGUMENTS {MAX_ARGUMENTS}",
            f"#define XACT_ARGUMENT_LIST {', '.join(f'double {n}' for n in names)}",
            f"#define XACT_ARGUMENT_ARRAY {{{', '.join(names)}}}",
        )
    )
    header = HEADER.replace("@ARGUMENTS@", arguments)
    parts = [header, *(kernel.source() for kernel in kernels())]
    # the row functions once, however often the file is included
    parts.append("#ifndef XACT_ROWS\n#define XACT_ROWS")
    parts += [row.source() for row in ROWS]
    parts += [vjp.source() for vjp in ROW_VJPS]
    parts.append("#endif")
    for float64 in (False, True):
        lines = [f"#define XACT_ROW{'64' if float64 else ''}_KERNELS(K)"]
        for row in rows(float64):
            outputs = "ROW_ONE" if row.reduces else "ROW_ELEMENTS"
            lines.append(f"    K({row.name}, {outputs})")
        parts.append(" \\\n".join(lines) + "\n")
        lines = [f"#define XACT_ROW_VJP{'64' if float64 else ''}_KERNELS(K)"]
        lines += [f"    K({v.name})" for v in ROW_VJPS if v.float64 == float64]
        parts.append(" \\\n".join(lines) + "\n")
    for direction in DIRECTIONS:
        for float64 in (False, True):
            suffix = "64" if float64 else ""
            lines = [f"#define XACT_{direction.upper()}{suffix}_KERNELS(K)"]
            for kernel in listed(direction, float64):
                inputs = ["v", "d"][: len(kernel.inputs)]
                args = inputs + [f"p[{i}]" for i in range(len(kernel.parameters))]
                lines.append(f"    K({kernel.name}, ({', '.join(args)}))")
            parts.append(" \\\n".join(lines) + "\n")
    return "\n".join(parts)
