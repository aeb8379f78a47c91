"""Importing and using xact changes nothing global, and its public modules
show only their public names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import xact

PUBLIC_MODULES = [
    "xact",
    "xact.activations",
    "xact.backends",
    "xact.bench",
    "xact.cli",
    "xact.datasets",
    "xact.dense",
    "xact.layers",
    "xact.losses",
    "xact.metrics",
    "xact.model",
    "xact.optim",
    "xact.plotting",
    "xact.saving",
    "xact.softmax",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_dir_shows_only_the_public_names(name):
    module = importlib.import_module(name)
    shown = [n for n in dir(module) if not n.startswith("_")]
    assert shown == sorted(n for n in module.__all__ if not n.startswith("_"))
    for public in module.__all__:
        getattr(module, public)  # every listed name exists


def test_no_stray_names_at_the_top_level():
    assert not hasattr(xact, "annotations")


def test_selecting_jax_leaves_its_precision_alone():
    pytest.importorskip("jax", reason="needs JAX")
    code = (
        "import jax, xact\n"
        "name, module = xact.backends.select('jax')\n"
        "print(jax.config.jax_enable_x64)\n"
        "xact.backends.select('jax', enable_x64=True)\n"
        "print(jax.config.jax_enable_x64)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
