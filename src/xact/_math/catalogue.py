"""The catalogue: every activation's name, parameters and math, in one
ordered table.

The public registry (:mod:`xact._registry`) adds the public function to each
definition; the kernel table (:mod:`xact._run.kernels.table`) records the
math of each into C. Neither the math nor the runners import a public
module: a call walks down public -> run -> math.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import derivatives as d
from . import elementwise as e
from . import softmax as s

__all__ = ["DEFINITIONS", "Definition", "Prepared", "definition"]


@dataclass(frozen=True)
class Prepared:
    """A formula in two steps, for the parameters it transforms in Python
    (``math.log2(alpha)``, ``frexp(beta)``, ``sqrt(b)``): ``constants(xp,
    dtype, **options)``, the per-call step that turns the options into named
    float constants, and ``math(xp, x, **constants)`` (a derivative:
    ``math(xp, x, d, **constants)``), the array math on them. The generic
    path runs the two in turn; a compiled kernel records ``math`` with the
    constants as its arguments."""

    constants: Callable[..., dict[str, float]]
    math: Callable[..., Any]


@dataclass(frozen=True)
class Definition:
    """One activation: its math, its backward math, layer class name, options."""

    name: str
    math: Callable[..., Any]  # (xp, x, **options) -> y; along an axis: the
    # softmax family's (xp, x, axis, where), glu's (xp, x, axis)
    vjp: Callable[..., Any]  # (xp, x, y, dvalues, **options) -> dinputs
    layer: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    along_axis: bool = False  # softmax family and glu: not elementwise
    # "value" and "vjp": the two-step form of a formula with transformed
    # parameters (celu, softplus, squareplus)
    prepared: Mapping[str, Prepared] = field(default_factory=dict)


def _define(
    name: str, layer: str, *, along_axis: bool = False, **defaults: Any
) -> Definition:
    module = s if along_axis and name != "glu" else e
    prepared = {
        direction: Prepared(
            getattr(source, f"{stem}_constants"), getattr(source, f"{stem}_prepared")
        )
        for direction, source, stem in (("value", e, name), ("vjp", d, f"{name}_vjp"))
        if hasattr(source, f"{stem}_constants")
    }
    return Definition(
        name,
        getattr(module, f"{name}_math"),
        getattr(d, f"{name}_vjp"),
        layer,
        MappingProxyType(defaults),
        along_axis,
        MappingProxyType(prepared),
    )


DEFINITIONS: tuple[Definition, ...] = (
    _define("relu", "ReLU"),
    _define("relu6", "ReLU6"),
    _define("leaky_relu", "LeakyReLU", negative_slope=0.01),
    _define("elu", "ELU", alpha=1.0),
    _define("selu", "SELU"),
    _define("celu", "CELU", alpha=1.0),
    _define("gelu", "GELU", approximate="none"),
    _define("silu", "SiLU"),
    _define("mish", "Mish"),
    _define("softplus", "Softplus", beta=1.0),
    _define("softsign", "Softsign"),
    _define("sigmoid", "Sigmoid"),
    _define("log_sigmoid", "LogSigmoid"),
    _define("hard_sigmoid", "HardSigmoid"),
    _define("hard_swish", "HardSwish"),
    _define("hard_tanh", "HardTanh", min_val=-1.0, max_val=1.0),
    _define("tanh", "Tanh"),
    _define("tanh_shrink", "TanhShrink"),
    _define("hard_shrink", "HardShrink", lambd=0.5),
    _define("soft_shrink", "SoftShrink", lambd=0.5),
    _define("squareplus", "Squareplus", b=4.0),
    _define("identity", "Identity"),
    _define("softmax", "Softmax", along_axis=True, axis=-1),
    _define("log_softmax", "LogSoftmax", along_axis=True, axis=-1),
    _define("softmin", "Softmin", along_axis=True, axis=-1),
    _define("glu", "GLU", along_axis=True, axis=-1),
)

_BY_NAME = {definition.name: definition for definition in DEFINITIONS}


def definition(name: str) -> Definition:
    """The definition of a canonical name."""
    return _BY_NAME[name]
