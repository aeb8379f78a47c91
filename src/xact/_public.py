"""What ``dir()`` shows of a public module: its ``__all__``, not its imports."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def public_names(names: Sequence[str]) -> Callable[[], list[str]]:
    """A module-level ``__dir__`` (PEP 562) listing only ``names``."""

    def __dir__() -> list[str]:
        return sorted(names)

    return __dir__
