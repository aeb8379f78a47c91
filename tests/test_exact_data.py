"""The shipped exact values (tests/exact/) are complete and current.

Every registered case has a file whose points are today's, and a random
sample of the stored values, recomputed from mpmath, is what is stored: a
changed reference or grid cannot leave stale data unnoticed. The sample's
seed is random per run (``XACT_EXACT_SEED`` fixes it) and named on failure,
so over many runs every stored value is checked.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    from numpy._core._multiarray_umath import __cpu_dispatch__
except ImportError:  # NumPy 1.x (the floor)
    from numpy.core._multiarray_umath import __cpu_dispatch__  # type: ignore[no-redef]

import oracle
from conftest import ELEMENTWISE_CASES as CASES
from oracle import Case, MissingExactValues, stored

SEED = int(os.environ.get("XACT_EXACT_SEED") or secrets.randbits(32))
PER_CASE = 3  # points per case, kind and dtype


def test_every_case_has_current_data():
    problems = []
    for case in CASES:
        for dtype in oracle.DTYPES:
            for kind in oracle.KINDS:
                try:
                    stored(kind, case, dtype)
                except MissingExactValues as error:
                    problems.append(str(error))
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_points_are_the_same_on_every_cpu():
    # the data is generated on one machine and read on another: NumPy's SIMD
    # loops (power, sort) must not decide a point's last bit or its zero's sign
    script = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import oracle;"
        "print(*(oracle.digest(oracle.points(d)) for d in oracle.DTYPES))"
    )
    here = " ".join(oracle.digest(oracle.points(d)) for d in oracle.DTYPES)
    features = " ".join(__cpu_dispatch__)  # every optional SIMD level off
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": features}
    tests = str(Path(oracle.__file__).parent)
    result = subprocess.run(
        [sys.executable, "-c", script, tests], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == here.split(), features


def test_no_file_without_a_case():
    wanted = {oracle.data_path(case) for case in CASES}
    orphans = sorted(p.name for p in oracle.DATA.glob("*.npz") if p not in wanted)
    assert not orphans, f"no case uses {orphans}; run `{oracle.REGENERATE}`"


def test_a_random_sample_recomputes_to_the_stored_values():
    rng = np.random.default_rng(SEED)
    stale = []
    for case in CASES:
        for dtype in oracle.DTYPES:
            xs = oracle.case_points(case, dtype)
            chosen = np.sort(rng.choice(len(xs), size=PER_CASE, replace=False))
            for kind in oracle.KINDS:
                data = stored(kind, case, dtype)
                fresh = oracle.compute(kind, case, xs[chosen], dtype)
                for part, values in fresh.items():
                    if not np.array_equal(values, data[part][chosen], equal_nan=True):
                        stale.append(f"{case.id} {kind} {dtype.__name__} {part}")
    assert not stale, (
        f"stored exact values differ from mpmath (XACT_EXACT_SEED={SEED}): "
        f"{stale[:10]}; run `{oracle.REGENERATE} --all`"
    )


def test_a_case_without_data_is_a_clear_error():
    case = Case("not_an_activation", (("alpha", 2.0),))
    with pytest.raises(MissingExactValues, match=r"gen_exact\.py --case not_an"):
        stored("value", case, np.float32)
