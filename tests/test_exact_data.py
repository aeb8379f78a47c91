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

import numpy as np
import pytest

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
