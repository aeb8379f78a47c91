"""Every public function and class has a docstring; the examples run (doctest)."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import xact

MODULES = [
    "xact.activations",
    "xact.softmax",
    "xact._registry",
    "xact.dense",
    "xact.losses",
    "xact.metrics",
    "xact.datasets",
    "xact.model",
    "xact.optim",
    "xact.layers",
    "xact.backends",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_name_is_documented():
    for name in xact.__all__:
        obj = getattr(xact, name)
        if inspect.ismodule(obj) or name == "__version__":
            continue
        assert inspect.getdoc(obj), name
