"""A namespace that records xact's float64 formulas and prints them as C.

xact's wide formulas (:mod:`xact._math.elementwise_wide`,
:mod:`xact._math.derivatives_wide`) are written against an Array API namespace.
Called with a :class:`Recorder` instead of an array library, they compute
nothing: each operation appends one line of C to the recorder's program, and
:func:`c_function` prints the program as one C function of doubles. That
function is the source of xact's compiled kernels, the same text for the C
extension and, under NVRTC, for CUDA (``XACT_KERNEL`` means ``static
inline`` in C and ``__device__ inline`` in CUDA).

What the recorder can record is what the formulas use: arithmetic,
comparisons, ``&``, ``|``, ``where``, ``maximum``/``minimum`` (which
propagate NaN, as the Array API says, unlike C's ``fmax``/``fmin``),
``clip``, ``abs``, ``sign``, ``isnan``, ``isinf``,
``full_like``/``zeros_like`` and the C library's ``exp``, ``log``,
``log1p``, ``expm1``, ``tanh``, ``erfc``, ``sqrt`` and ``hypot``. A Python
branch on a parameter (``if negative_slope == 0``) cannot be recorded: it
raises :class:`StaticParameterError`, and the kernel table gives that
parameter a fixed value in a variant of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "MATH_FUNCTIONS",
    "Expression",
    "Recorder",
    "StaticParameterError",
    "c_function",
]

# the C library's functions a formula may call (the vector ones from libmvec)
MATH_FUNCTIONS = ("exp", "log", "log1p", "expm1", "tanh", "erfc", "sqrt", "hypot")


class StaticParameterError(TypeError):
    """A formula branched in Python on a value known only at run time."""


def literal(value: float) -> str:
    """A double in C: shortest round-trip decimal, which C parses exactly."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


class Expression:
    """A value of the recorded program: a C expression (a name or literal)
    of type double, or a condition (``int``)."""

    __slots__ = ("condition", "data", "element", "excluded", "recorder", "text")

    shape = ()
    ndim = 0

    def __init__(
        self,
        recorder: Recorder,
        text: str,
        condition: bool = False,
        excluded: tuple[float, ...] = (),
        data: bool = False,
        element: bool | None = None,
    ):
        self.recorder, self.text, self.condition = recorder, text, condition
        # computed from the input arrays (may be NaN), not from parameters
        # and constants alone (never NaN: parameters are checked numbers)
        self.data = data
        # one value per element (else one per row or call: a parameter, a
        # constant, a reduction over the row)
        self.element = data if element is None else element
        # values a parameter is known not to take (those have kernels of
        # their own): comparing with one of them is a Python False
        self.excluded = excluded

    @property
    def dtype(self) -> type:
        return np.float64

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __bool__(self) -> bool:
        raise StaticParameterError(
            f"a formula branched on {self.text}, which is a kernel argument; "
            "give it a fixed value in the kernel table's variants"
        )

    __hash__ = object.__hash__

    def _binary(self, operator: str, other: Any, *, reflected: bool = False) -> Any:
        recorder = self.recorder
        left, right = (other, self) if reflected else (self, other)
        condition = operator in ("<", "<=", ">", ">=", "==", "!=", "&", "|")
        text = f"{recorder.operand(left)} {operator} {recorder.operand(right)}"
        return recorder.emit(
            text,
            condition=condition,
            data=_data(left, right),
            element=_element(left, right),
        )

    def __add__(self, other: Any) -> Any:
        return self._binary("+", other)

    def __radd__(self, other: Any) -> Any:
        return self._binary("+", other, reflected=True)

    def __sub__(self, other: Any) -> Any:
        return self._binary("-", other)

    def __rsub__(self, other: Any) -> Any:
        return self._binary("-", other, reflected=True)

    def __mul__(self, other: Any) -> Any:
        return self._binary("*", other)

    def __rmul__(self, other: Any) -> Any:
        return self._binary("*", other, reflected=True)

    def __truediv__(self, other: Any) -> Any:
        return self._binary("/", other)

    def __rtruediv__(self, other: Any) -> Any:
        return self._binary("/", other, reflected=True)

    def __neg__(self) -> Any:
        return self.recorder.emit(f"-{self.text}", data=self.data, element=self.element)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return self.recorder.abs(self)

    def __lt__(self, other: Any) -> Any:
        return self._binary("<", other)

    def __le__(self, other: Any) -> Any:
        return self._binary("<=", other)

    def __gt__(self, other: Any) -> Any:
        return self._binary(">", other)

    def __ge__(self, other: Any) -> Any:
        return self._binary(">=", other)

    def __eq__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and other in self.excluded:
            return False
        return self._binary("==", other)

    def __ne__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and other in self.excluded:
            return True
        return self._binary("!=", other)

    def __and__(self, other: Any) -> Any:
        return self._binary("&", other)

    def __or__(self, other: Any) -> Any:
        return self._binary("|", other)


class Recorder:
    """An Array API namespace of float64 scalars whose operations are
    recorded as C statements (see the module docstring)."""

    __name__ = "xact._run.kernels.record"
    float64 = np.float64
    inf = math.inf

    def __init__(self, *, compensated: bool = False) -> None:
        self.compensated = compensated  # sums with TwoSum (float64 rows)
        self.body: list[str] = []  # the statements once per call (or row)
        self.elements: list[str] = []  # the statements once per element
        self.inputs: list[str] = []  # loads of the row's elements, in a pass
        self._known: dict[str, Expression] = {}
        self._passes = 0
        # the last reduction pass: its loop's index in body, its lines, and
        # how many element statements it computes
        self._last_loop: tuple[int, list[str], int] | None = None
        # reductions not yet emitted: one loop serves those that need no
        # result of another (log_softmax's count of maxima and its sum)
        self._pending: list[tuple[str, str, str, list[str]]] = []
        self._deferred: set[str] = set()  # their results' names

    @property
    def lines(self) -> list[str]:
        """The statements of an elementwise function (no reduction)."""
        return self.body + self.elements

    # --- the program ---------------------------------------------------------

    def argument(
        self, name: str, excluded: tuple[float, ...] = (), *, data: bool = False
    ) -> Expression:
        return Expression(self, name, excluded=excluded, data=data)

    def operand(self, value: Any) -> str:
        if isinstance(value, Expression):
            if value.recorder is not self:
                raise ValueError("an expression of another recorder")
            return value.text
        if isinstance(value, (bool, np.bool_)):
            return "1" if value else "0"
        if isinstance(value, (int, float, np.floating, np.integer)):
            return literal(float(value))
        raise TypeError(f"cannot record a {type(value).__name__} in a kernel")

    def emit(
        self,
        text: str,
        *,
        condition: bool = False,
        data: bool = True,
        element: bool | None = None,
    ) -> Expression:
        """A new temporary holding ``text`` (one per distinct text: a
        repeated subexpression is computed once)."""
        known = self._known.get(text)
        if known is not None:
            return known
        if not element or self._deferred & set(_NAME.findall(text)):
            self._flush()  # a row statement, or one that needs a reduction
        name = f"t{len(self._known)}"
        kind = "int" if condition else "double"
        expression = Expression(self, name, condition, data=data, element=element)
        statement = f"const {kind} {name} = {text};"
        if expression.element:
            self.elements.append(statement)
        else:
            self.body.append(statement)
        self._known[text] = expression
        return expression

    def _call(self, function: str, *arguments: Any) -> Expression:
        text = f"{function}({', '.join(map(self.operand, arguments))})"
        return self.emit(text, data=_data(*arguments), element=_element(*arguments))

    # --- rows: reductions are passes over the row ---------------------------

    def row_input(self, name: str, load: str, *, condition: bool = False) -> Expression:
        """An input element of a row function, loaded in every pass."""
        kind = "int" if condition else "double"
        self.inputs.append(f"const {kind} {name} = {load};")
        return Expression(self, name, condition, data=True, element=True)

    def _pass(
        self,
        value: Expression,
        init: str,
        step: str,
        clauses: str,
        combine: str,
        result: str,
    ) -> Expression:
        """A reduction over the row: a loop computing every element statement
        and accumulating ``value``, then the partial results combined (across
        a CUDA block) into ``result``, a row statement. The loop is emitted
        when a later statement needs a result, shared by the reductions
        pending then."""
        k = self._passes
        self._passes += 1
        name = f"t{len(self._known)}"
        text = result.format(k=k)
        expression = Expression(self, name, data=True, element=False)
        self._known[text] = expression
        self._deferred.add(name)
        finish = [
            *combine.format(k=k).split("\n    "),
            f"const double {name} = {text};",
        ]
        self._pending.append(
            (
                init.format(k=k),
                clauses.format(k=k),
                step.format(k=k, v=value.text),
                finish,
            )
        )
        return expression

    def _flush(self) -> None:
        """Emit the pending reductions: one loop for them all."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._deferred.clear()
        self.body += [init for init, _, _, _ in pending]
        clauses = " ".join(clause for _, clause, _, _ in pending)
        self.body.append(f"#pragma omp simd {clauses}")
        loop = ["XACT_ROW_LOOP(i, n) {", *self.inputs, *self.elements]
        loop += [step for _, _, step, _ in pending]
        self._last_loop = (len(self.body), loop, len(self.elements))
        self.body.append("\n        ".join(loop) + "\n    }")
        for _, _, _, finish in pending:
            self.body += finish

    def max(self, x: Expression, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        return self._pass(
            x,
            "double r{k} = -INFINITY;\n    int nan{k} = 0;",
            "r{k} = {v} > r{k} ? {v} : r{k};\n        nan{k} |= {v} != {v};",
            "reduction(max:r{k}) reduction(|:nan{k})",
            "XACT_ROW_MAX(r{k});\n    XACT_ROW_OR(nan{k});",
            "nan{k} ? NAN : r{k}",
        )

    def sum(self, x: Expression, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if not self.compensated:
            return self._pass(
                x,
                "double r{k} = 0.0;",
                "r{k} += {v};",
                "reduction(+:r{k})",
                "XACT_ROW_SUM(r{k});",
                "r{k}",
            )
        # compensated (TwoSum per term, the errors summed beside): a float64
        # row's sum within a few ULP whatever its length and the order in
        # which vector lanes and CUDA threads add (a plain sum of 1,000
        # exponentials lost 20 ULP); an infinite term makes the correction
        # NaN: the sum is then r itself
        return self._pass(
            x,
            "double r{k} = 0.0, c{k} = 0.0;",
            "{{\n"
            "            const double s = r{k} + {v}, b = s - r{k};\n"
            "            c{k} += (r{k} - (s - b)) + ({v} - b);\n"
            "            r{k} = s;\n"
            "        }}",
            "reduction(+:r{k}, c{k})",
            "XACT_ROW_SUM(r{k});\n    XACT_ROW_SUM(c{k});",
            "fabs(r{k}) < INFINITY ? r{k} + c{k} : r{k}",
        )

    # --- the Array API functions the formulas use ----------------------------

    def finfo(self, dtype: Any) -> Any:
        return np.finfo(dtype)

    def astype(self, x: Any, dtype: Any, /, **_: Any) -> Any:
        if np.dtype(dtype) != np.float64:
            raise TypeError("a kernel's formula computes in float64 only")
        if isinstance(x, Expression) and x.condition:
            return self.where(x, 1.0, 0.0)
        return x

    def isfinite(self, x: Any, /) -> Expression:
        text = f"fabs({self.operand(x)}) < INFINITY"
        return self.emit(text, condition=True, data=_data(x), element=_element(x))

    def where(self, condition: Any, a: Any, b: Any, /) -> Expression:
        c, x, y = (self.operand(v) for v in (condition, a, b))
        return self.emit(
            f"{c} ? {x} : {y}",
            data=_data(condition, a, b),
            element=_element(condition, a, b),
        )

    def maximum(self, a: Any, b: Any, /) -> Expression:
        return self._extremum("xact_maximum", a, b)

    def minimum(self, a: Any, b: Any, /) -> Expression:
        return self._extremum("xact_minimum", a, b)

    def _extremum(self, function: str, a: Any, b: Any) -> Expression:
        # against a bound that is never NaN, the shorter form, which gcc
        # vectorizes where the general one defeats it (a bound computed from
        # a parameter, then a second extremum: gcc 12 left such loops scalar)
        if not _data(b):
            return self._call(f"{function}_bounded", a, b)
        return self._call(function, a, b)

    def clip(self, x: Any, /, min: Any = None, max: Any = None) -> Any:
        if min is not None:
            x = self.maximum(x, min)
        return x if max is None else self.minimum(x, max)

    def abs(self, x: Any, /) -> Expression:
        return self._call("fabs", x)

    def sign(self, x: Any, /) -> Expression:
        # -1, 0 or 1; ±0 and NaN are themselves, as the Array API says
        v = self.operand(x)
        text = f"{v} > 0.0 ? 1.0 : ({v} < 0.0 ? -1.0 : {v})"
        return self.emit(text, data=_data(x), element=_element(x))

    def hypot(self, a: Any, b: Any, /) -> Expression:
        return self._call("hypot", a, b)

    def fused_two_product(self, a: Any, b: Any, /) -> tuple[Any, Expression]:
        """TwoProduct (:func:`xact._math.twofold.two_product`) as one
        operation: ``p = a * b`` and its exact error by ``XACT_PRODUCT_ERROR``,
        Dekker's split in C and a fused multiply-add where the target has
        one: the same bits wherever Dekker's product is exact, the range the
        formulas keep it to."""
        p = a * b
        return p, self._call("XACT_PRODUCT_ERROR", a, b, p)

    def isnan(self, x: Any, /) -> Expression:
        name = self.operand(x)
        return self.emit(
            f"{name} != {name}", condition=True, data=_data(x), element=_element(x)
        )

    def isinf(self, x: Any, /) -> Expression:
        text = f"fabs({self.operand(x)}) == INFINITY"
        return self.emit(text, condition=True, data=_data(x), element=_element(x))

    def full_like(self, x: Any, /, fill_value: Any, **_: Any) -> Expression:
        value = self.operand(fill_value)
        return Expression(self, value, data=_data(fill_value), element=_element(x))

    def zeros_like(self, x: Any, /, **_: Any) -> Expression:
        return Expression(self, "0.0")

    def ones_like(self, x: Any, /, **_: Any) -> Expression:
        return Expression(self, "1.0")


def _data(*values: Any) -> bool:
    """Whether any of ``values`` depends on the input arrays."""
    return any(isinstance(v, Expression) and v.data for v in values)


def _element(*values: Any) -> bool:
    """Whether any of ``values`` varies from element to element."""
    return any(isinstance(v, Expression) and v.element for v in values)


def _math_function(name: str) -> Callable[[Recorder, Any], Expression]:
    def record(self: Recorder, x: Any, /) -> Expression:
        return self._call(name, x)

    record.__name__ = name
    return record


for _name in MATH_FUNCTIONS[:-1]:  # hypot takes two arguments
    setattr(Recorder, _name, _math_function(_name))


def c_function(
    name: str,
    formula: Callable[..., Any],
    inputs: tuple[str, ...],
    parameters: tuple[str, ...] = (),
    fixed: dict[str, Any] | None = None,
    excluded: dict[str, tuple[float, ...]] | None = None,
) -> str:
    """The C source of ``formula(xp, *inputs, **parameters, **fixed)``: a
    function ``double xact_<name>(double <input>, ..., double <parameter>,
    ...)``; the ``fixed`` parameters are constants of this function, and a
    parameter never takes its ``excluded`` values."""
    recorder = Recorder()
    arrays = [recorder.argument(a, data=True) for a in inputs]
    values = {p: recorder.argument(p, (excluded or {}).get(p, ())) for p in parameters}
    result = recorder.operand(formula(recorder, *arrays, **values, **(fixed or {})))
    signature = ", ".join(f"double {a}" for a in (*inputs, *parameters))
    body = "\n".join(f"    {line}" for line in recorder.lines)
    return (
        f"XACT_KERNEL double XACT_NAME({name})({signature})\n{{\n{body}\n"
        f"    return {result};\n}}\n"
    )


def c_row_function(
    name: str,
    formula: Callable[..., Any],
    *,
    masked: bool,
    element: str = "float",
    reduces: bool = False,
) -> str:
    """The C source of ``formula(xp, x, axis, where)``, a function along one
    row (the softmax family): ``void xact_<name>(const T *xrow, const
    unsigned char *wrow, T *yrow, long n)`` for elements of type ``element``
    (``float``: computed in double, rounded once), each reduction a pass over
    the row that recomputes the element statements before it. A function
    that ``reduces`` the row (logsumexp, kept dimension) writes ``yrow[0]``
    once (``XACT_ROW_STORE``: one thread of a CUDA block)."""
    recorder = Recorder(compensated=element == "double")
    load = "(double)xrow[i]" if element == "float" else "xrow[i]"
    x = recorder.row_input("x", load)
    where = recorder.row_input("where", "wrow[i]", condition=True) if masked else None
    result = recorder.operand(formula(recorder, x, -1, where))
    store = "(float)" if element == "float" else ""
    if reduces:
        recorder._flush()
        recorder.body.append(f"XACT_ROW_STORE(yrow[0] = {store}{result});")
    else:
        _last_pass(recorder, "yrow", result, store)
    arguments = (
        f"const {element} *restrict xrow,\n"
        f"    const unsigned char *restrict wrow, {element} *restrict yrow, long n"
    )
    return _row_source(name, arguments, recorder)


def _last_pass(recorder: Recorder, output: str, result: str, store: str) -> None:
    """The pass over the row that computes and stores each element:
    ``output[i] = store + result``.

    Where the elements of a double row reach this pass through one element
    value of the reduction pass before it (softmax's exponentials, divided
    by their sum), that pass also stores the value into ``output`` and this
    one loads it back, rather than computing it again (an exponential an
    element). The same thread writes and reads each element, in C and in a
    CUDA block, and the values are the same."""
    recorder._flush()
    reused = _reused_element(recorder, result) if not store else None
    if reused is None:
        loop = ["XACT_ROW_LOOP(i, n) {", *recorder.inputs, *recorder.elements]
    else:
        name, (index, lines, computed) = reused
        kept = [*lines[:-1], f"{output}[i] = {name};", lines[-1]]
        recorder.body[index] = "\n        ".join(kept) + "\n    }"
        loop = [
            "XACT_ROW_LOOP(i, n) {",
            *recorder.inputs,
            f"const double {name} = {output}[i];",
            *recorder.elements[computed:],
        ]
    loop.append(f"{output}[i] = {store}{result};")
    recorder.body.append("#pragma omp simd")
    recorder.body.append("\n        ".join(loop) + "\n    }")


_NAME = re.compile(r"\bt\d+\b")


def _reused_element(
    recorder: Recorder, result: str
) -> tuple[str, tuple[int, list[str], int]] | None:
    """The one double element value of the last reduction pass that the
    final pass needs, with that pass; None if it needs none or several."""
    if recorder._last_loop is None:
        return None
    _, _, computed = recorder._last_loop
    earlier = {
        _NAME.search(statement).group(): statement  # type: ignore[union-attr]
        for statement in recorder.elements[:computed]
    }
    later = recorder.elements[computed:]
    defined = {_NAME.search(statement).group() for statement in later}  # type: ignore[union-attr]
    used = {
        name
        for text in (*later, result)
        for name in _NAME.findall(text.split("=", 1)[-1])
        if name not in defined
    }
    needed = sorted(used & earlier.keys())
    if len(needed) != 1 or not earlier[needed[0]].startswith("const double "):
        return None
    return needed[0], recorder._last_loop


def _row_source(name: str, arguments: str, recorder: Recorder) -> str:
    body = "\n".join(f"    {line}" for line in recorder.body)
    return f"XACT_ROW void xact_{name}({arguments})\n{{\n{body}\n}}\n"


def c_row_vjp_function(
    name: str, formula: Callable[..., Any], *, element: str = "float"
) -> str:
    """The C source of ``formula(xp, None, y, d, axis)``, the backward pass
    of a function along one row (the softmax family, from its output ``y``
    and the incoming gradient ``d``): ``void xact_<name>(const T *yrow,
    const T *drow, T *outrow, long n)``, in double, each reduction a pass."""
    recorder = Recorder(compensated=element == "double")
    load = "(double){}row[i]" if element == "float" else "{}row[i]"
    y = recorder.row_input("y", load.format("y"))
    d = recorder.row_input("d", load.format("d"))
    result = recorder.operand(formula(recorder, None, y, d, -1))
    store = "(float)" if element == "float" else ""
    _last_pass(recorder, "outrow", result, store)
    arguments = (
        f"const {element} *restrict yrow,\n"
        f"    const {element} *restrict drow, {element} *restrict outrow, long n"
    )
    return _row_source(name, arguments, recorder)
