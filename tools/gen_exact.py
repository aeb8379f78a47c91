"""Write the exact values (mpmath) the accuracy tests compare against.

One file per case (a function with one setting of its parameters) under
``tests/exact/``: for float32 and float64, the value and the derivative at
every point of the case's grid (``tests/oracle.py``), stored compactly as a
float64 ``hi``, the rest in units of its last place (float32) and a class
(normal, zero, beyond the largest float, subnormal). Files are written
atomically, so an interrupted run leaves every file whole.

    python tools/gen_exact.py                  # every case that is missing or stale
    python tools/gen_exact.py --case gelu      # the cases of one function, again
    python tools/gen_exact.py --all --jobs 2   # every case, again
    python tools/gen_exact.py --check          # list missing or stale; exit 1 if any

A new activation needs its reference in ``tests/oracle.py`` and one run of
this tool; the suite names the command when a case has no data.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import oracle  # noqa: E402
from xact._registry import ACTIVATIONS  # noqa: E402

CASES = oracle.cases({e.name: e.defaults for e in ACTIVATIONS if not e.along_axis})


def is_current(case: oracle.Case) -> bool:
    """Whether `case` has a file whose points are today's."""
    try:
        for dtype in oracle.DTYPES:
            for kind in oracle.KINDS:
                oracle.stored(kind, case, dtype)
    except (oracle.MissingExactValues, KeyError):
        return False
    return True


def write(case: oracle.Case) -> tuple[str, float]:
    start = time.perf_counter()
    oracle.save_case(case, oracle.case_entries(case))
    return case.id, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--case", action="append", default=[], help="a function name or case id"
    )
    parser.add_argument("--all", action="store_true", help="every case, again")
    parser.add_argument("--check", action="store_true", help="only report")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)

    known = {c.name for c in CASES} | {c.id for c in CASES}
    unknown = sorted(set(args.case) - known)
    if unknown:
        parser.error(f"unknown cases {unknown}; known functions: {sorted(known)}")
    if args.all:
        chosen = list(CASES)
    elif args.case:
        chosen = [c for c in CASES if c.name in args.case or c.id in args.case]
    else:
        chosen = [c for c in CASES if not is_current(c)]
    wanted = {oracle.data_path(c) for c in CASES}
    orphans = sorted(p for p in oracle.DATA.glob("*.npz") if p not in wanted)
    if args.check:
        for case in chosen:
            print(f"missing or stale: {case.id} ({oracle.data_path(case).name})")
        for path in orphans:
            print(f"no case uses {path.name}")
        return 1 if chosen or orphans else 0
    for path in orphans:
        path.unlink()
        print(f"removed {path.name} (no case uses it)")
    if not chosen:
        print("every case is current")
        return 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for case_id, seconds in pool.map(write, chosen):
            print(f"{case_id}: {seconds:.1f} s", flush=True)
    total = sum(p.stat().st_size for p in oracle.DATA.glob("*.npz"))
    print(f"{len(chosen)} cases written; tests/exact holds {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
