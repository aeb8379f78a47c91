"""What a layer keeps between ``forward`` and ``backward``, under jax.jit too.

A layer caches its last input and output for ``backward``. Under
``jax.jit`` those are tracers, which must not outlive their trace:

- a forward and a backward in one traced function work (the backward uses the
  traced caches, then drops them, and keeps no traced gradient);
- ``predict`` keeps nothing (:func:`not_keeping`);
- a cache left by a traced forward alone is refused by a backward outside
  that trace with a clear error (it would be JAX's UnexpectedTracerError),
  and the next forward replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._namespace import is_traced

__all__ = ["STALE_TRACE", "keeping", "not_keeping", "stale"]

_keeping: ContextVar[bool] = ContextVar("keeping", default=True)

STALE_TRACE = (
    "the last forward ran under jax.jit and its values ended with that trace; "
    "call forward again (or run forward and backward in one jitted function)"
)


def keeping() -> bool:
    """Whether layers keep their inputs and outputs now."""
    return _keeping.get()


@contextmanager
def not_keeping() -> Iterator[None]:
    """A block in which layers keep no caches (``predict``)."""
    token = _keeping.set(False)
    try:
        yield
    finally:
        _keeping.reset(token)


def stale(cached: object, dvalues: object) -> bool:
    """A traced cache met by a backward outside its trace (eager, or traced
    separately): that trace is over."""
    if not is_traced(cached):
        return False
    if not is_traced(dvalues):
        return True
    return getattr(cached, "_trace", None) is not getattr(dvalues, "_trace", None)
