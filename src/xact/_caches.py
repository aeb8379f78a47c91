"""What a layer keeps between ``forward`` and ``backward``, under jax.jit too.

A layer keeps its last input and output (``layer.inputs``, ``layer.output``)
for ``backward``. Under ``jax.jit`` those are tracers, and a layer's state
never holds one: a traced forward leaves ``inputs`` and ``output`` None and
puts its tracers here, beside the layer, where only a backward in the same
trace can use them (:func:`cached`):

- a forward and a backward in one traced function work (the backward uses the
  traced values, then drops them, and keeps no traced gradient);
- ``predict`` keeps nothing (:func:`not_keeping`);
- a backward outside the trace of the last forward is a clear error (it would
  be JAX's UnexpectedTracerError); the next forward replaces what was left.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ._namespace import is_traced

__all__ = ["cached", "keep", "not_keeping", "used"]

# a traced forward's (inputs, output), by layer, outside the layer's state
_TRACED: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()

_keeping: ContextVar[bool] = ContextVar("keeping", default=True)

STALE_TRACE = (
    "the last forward ran under jax.jit and its values ended with that trace; "
    "call forward again (or run forward and backward in one jitted function)"
)


@contextmanager
def not_keeping() -> Iterator[None]:
    """A block in which layers keep no caches (``predict``)."""
    token = _keeping.set(False)
    try:
        yield
    finally:
        _keeping.reset(token)


def keep(layer: Any, inputs: Any, output: Any) -> None:
    """Keep a forward's input and output for the layer's backward."""
    if not _keeping.get():
        return
    if is_traced(output):
        layer.inputs = layer.output = None
        _TRACED[layer] = (inputs, output)
    else:
        layer.inputs, layer.output = inputs, output
        _TRACED.pop(layer, None)


def cached(layer: Any, dvalues: Any, fname: str) -> tuple[Any, Any]:
    """The (inputs, output) a backward with ``dvalues`` may use, or a clear
    RuntimeError naming ``fname``."""
    if layer.output is not None:
        return layer.inputs, layer.output
    traced = _TRACED.get(layer)
    if traced is None:
        raise RuntimeError(f"xact.{fname}: call forward before backward")
    if _stale(traced[1], dvalues):
        raise RuntimeError(f"xact.{fname}: {STALE_TRACE}")
    return traced


def used(layer: Any) -> None:
    """A traced backward has used the traced values: drop them."""
    _TRACED.pop(layer, None)


def _stale(cached: object, dvalues: object) -> bool:
    """A traced cache met by a backward outside its trace (eager, or traced
    separately): that trace is over."""
    if not is_traced(cached):
        return False
    if not is_traced(dvalues):
        return True
    return getattr(cached, "_trace", None) is not getattr(dvalues, "_trace", None)
