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


def test_the_registry_and_the_exports_agree():
    """Every registered activation is exported as a function and as its layer
    class, and every exported layer class is a registered one (the names are
    written out for static tools; this keeps them in step with the table)."""
    from xact._registry import ACTIVATIONS
    from xact.layers import LAYERS, Activation

    for entry in ACTIVATIONS:
        assert getattr(xact, entry.name) is entry.function
        assert getattr(xact, entry.layer) is LAYERS[entry.layer]
        assert entry.name in xact.__all__
        assert entry.layer in xact.__all__
    exported_layers = {
        name
        for name in xact.__all__
        if isinstance(getattr(xact, name), type)
        and issubclass(getattr(xact, name), Activation)
    }
    assert exported_layers == {entry.layer for entry in ACTIVATIONS}
