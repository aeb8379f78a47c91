"""Write xact's kernel source (``src/xact/_run/kernels/kernels.h``) from the
float64 formulas of ``xact._math.elementwise_wide`` and ``xact._math.derivatives_wide``.

    python tools/gen_kernels.py            # write it (atomically)
    python tools/gen_kernels.py --check    # exit 1 if the file is not current

The file is committed: ``pip install`` compiles it without running Python
code of xact's, and ``tests/test_kernels.py`` fails when it differs from
what this tool would write. Run it after changing a wide formula or the
kernel table (``xact._run.kernels.table``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from xact._run.kernels.table import c_source  # noqa: E402

TARGET = ROOT / "src" / "xact" / "_run" / "kernels" / "kernels.h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare")
    args = parser.parse_args(argv)
    source = c_source()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != source:
            print(f"{TARGET.relative_to(ROOT)} is not current: run {__file__}")
            return 1
        print(f"{TARGET.relative_to(ROOT)} is current")
        return 0
    with tempfile.NamedTemporaryFile(
        "w", dir=TARGET.parent, suffix=".tmp", delete=False
    ) as handle:
        handle.write(source)
    os.replace(handle.name, TARGET)
    print(f"wrote {TARGET.relative_to(ROOT)} ({source.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
