"""xact's compiled kernels, generated from its one definition of the math.

The float64 ("wide") formulas of :mod:`xact._math.elementwise_wide` and
:mod:`xact._math.derivatives_wide` (float32 and half inputs) and the exact
math of :mod:`xact._math` itself (float64 inputs) are recorded into C
(:mod:`.record`), one function per activation, direction, element table and
fixed parameter setting, and a row function per member of the softmax family
(:mod:`.table`), written to ``kernels.h`` by ``tools/gen_kernels.py``.
``pip install`` compiles that file with the loops of ``cpu.c`` into the
optional extension ``xact._run.kernels._cpu``; :mod:`xact._run.fast` runs it on
NumPy arrays and PyTorch CPU tensors.
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
    float32 = len(_cpu.VALUES) + len(_cpu.VJPS) + len(_cpu.ROWS) + len(_cpu.ROW_VJPS)
    float64 = len(_cpu.VALUES64) + len(_cpu.VJPS64) + len(_cpu.ROWS64)
    float64 += len(_cpu.ROW_VJPS64)
    fused = ", fused TwoProduct" if _cpu.fused_product() else ""
    return (
        f"compiled, {float32} float32 and {float64} float64 kernels, "
        f"{_cpu.INSTRUCTION_SET}{fused}"
    )
