"""xact's compiled kernels, generated from its one definition of the math.

The float64 ("wide") formulas of :mod:`xact._math.elementwise_wide` and
:mod:`xact._math.derivatives_wide` are recorded into C (:mod:`.record`), one
function per activation, direction and fixed parameter setting
(:mod:`.table`), written to ``kernels.h`` by ``tools/gen_kernels.py``.
``pip install`` compiles that file with the loops of ``cpu.c`` into the
optional extension ``xact._run.kernels._cpu``; :mod:`xact._run.fast` runs it on
float32 NumPy arrays.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["cpu", "cpu_status"]

_cpu: ModuleType | None
try:
    _cpu = importlib.import_module("._cpu", __name__)
    _missing = ""
except ImportError as error:  # not built: no compiler at install time
    _cpu = None
    _missing = str(error)


def cpu() -> ModuleType | None:
    """The compiled CPU kernels, or None where they were not built."""
    return _cpu


def cpu_status() -> str:
    """One line for ``xact info``: the kernels and their instruction set,
    or why they are missing."""
    if _cpu is None:
        return f"not built ({_missing}); the generic path runs"
    return f"compiled, {len(_cpu.VALUES)} kernels, {_cpu.INSTRUCTION_SET}"
