"""The registry: one ordered table of every activation.

``xact.__all__``, :func:`names`, :func:`get`, the layer classes and the
parametrized tests all derive from :data:`ACTIVATIONS`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import activations as a
from . import softmax as s
from ._math.catalogue import DEFINITIONS, Definition

__all__ = ["ACTIVATIONS", "ALIASES", "Activation", "get", "names"]


@dataclass(frozen=True)
class Activation:
    """One activation: its public function, with its catalogue definition's
    backward math, layer class name and options."""

    name: str
    function: Callable[..., Any]
    vjp: Callable[..., Any]  # (xp, x, y, dvalues, **options) -> dinputs
    layer: str
    defaults: Mapping[str, Any]
    along_axis: bool = False  # softmax family and glu: not elementwise


def _entry(definition: Definition) -> Activation:
    module = s if definition.name in s.__all__ else a
    return Activation(
        definition.name,
        getattr(module, definition.name),
        definition.vjp,
        definition.layer,
        definition.defaults,
        definition.along_axis,
    )


ACTIVATIONS: tuple[Activation, ...] = tuple(_entry(d) for d in DEFINITIONS)

# logsumexp is a reduction, not an activation: public, but not in the table.

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "swish": "silu",
        "hard_silu": "hard_swish",
        "hardsigmoid": "hard_sigmoid",
        "hardswish": "hard_swish",
        "hardtanh": "hard_tanh",
        "logsigmoid": "log_sigmoid",
        "soft_sign": "softsign",
        "tanhshrink": "tanh_shrink",
        "hardshrink": "hard_shrink",
        "softshrink": "soft_shrink",
        "linear": "identity",
        "expit": "sigmoid",
    }
)

_BY_NAME = {entry.name: entry for entry in ACTIVATIONS}


def entry(name: str) -> Activation:
    """The registry entry of a canonical name."""
    return _BY_NAME[name]


def names(*, aliases: bool = False) -> list[str]:
    """The names of every activation, in table order (with aliases if asked)."""
    result = [entry.name for entry in ACTIVATIONS]
    return result + list(ALIASES) if aliases else result


def get(name: str) -> Callable[..., Any]:
    """The activation function called `name` (canonical name or alias).

    Raises
    ------
    ValueError
        For an unknown name, listing the closest known names.

    Examples
    --------
    >>> import xact
    >>> xact.get("swish") is xact.silu
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"xact.get: name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in _BY_NAME:
        return _BY_NAME[key].function
    known = names(aliases=True)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"xact.get: unknown activation {name!r}{hint} (see xact.names())")
