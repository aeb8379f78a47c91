"""Every printed result of the seed notebook, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from array_api_extra.testing import lazy_xp_function

import xact
from conftest import to_numpy

lazy_xp_modules = [xact]
for _name in ("softmax", "relu", "sigmoid", "tanh", "leaky_relu"):
    lazy_xp_function(getattr(xact, _name))


@pytest.mark.parametrize(
    ("logits", "printed"),
    [
        ([5, 2, 0, -2], [0.945683, 0.047083, 0.006372, 0.000862]),
        ([4.8, 1.21, 2.385], [0.89528266, 0.02470831, 0.08000903]),
        ([-2, -1, 0], [0.090031, 0.244728, 0.665241]),
        ([1, 2, 3], [0.090031, 0.244728, 0.665241]),
        ([0.5, 1.0, 1.5], [0.186324, 0.307196, 0.50648]),
    ],
)
def test_softmax_as_printed(xp, asarray, logits, printed):
    result = to_numpy(xact.softmax(asarray(logits)))
    # the notebook printed 6 (or 8) significant digits
    np.testing.assert_allclose(result, printed, rtol=5e-6, atol=5e-7)


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("relu", [0, 0, 1, 2]),
        ("sigmoid", [0.268941, 0.5, 0.731059, 0.880797]),
        ("tanh", [-0.761594, 0, 0.761594, 0.964028]),
        ("leaky_relu", [-0.01, 0, 1, 2]),
    ],
)
def test_activations_as_printed(xp, asarray, name, printed):
    result = to_numpy(getattr(xact, name)(asarray([-1.0, 0.0, 1.0, 2.0])))
    np.testing.assert_allclose(result, printed, rtol=5e-6, atol=5e-7)


def test_integer_logits_as_in_the_notebook(xp, device):
    # The notebook passed Python integer lists; the result is floating.
    logits = xp.asarray([5, 2, 0, -2], device=device)
    result = to_numpy(xact.softmax(logits))
    np.testing.assert_allclose(
        result, [0.945683, 0.047083, 0.006372, 0.000862], atol=5e-7
    )
