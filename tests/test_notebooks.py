"""The notebooks run top to bottom (on NumPy, as CI has no GPU)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# xact's contract (README, Accuracy): elementwise within 4 ULP over the whole
# float32 range, softmax within 8 ULP per element
ULP_BOUNDS = {"gelu": 4.0, "silu": 4.0, "softplus": 4.0, "softmax": 8.0}


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {
        "activations",
        "spiral_training",
        "gpu_and_accuracy",
    }


def largest_xact_errors(printed: str) -> dict[str, float]:
    """The xact column of the notebook's table ``function points xact ...``."""
    found = re.findall(r"^(\w+) +\d+ +(\S+)", printed, flags=re.MULTILINE)
    return {name: float(value) for name, value in found if name in ULP_BOUNDS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="needs the test extra")
    nbclient = pytest.importorskip("nbclient", reason="needs the test extra")
    monkeypatch.setenv("XACT_BACKEND", os.environ.get("XACT_NOTEBOOK_BACKEND", "numpy"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "on backend: numpy" in printed or "XACT_NOTEBOOK_BACKEND" in os.environ
    if path.stem == "spiral_training":
        accuracy = re.search(r"^accuracy (\d\.\d+), loss", printed, flags=re.MULTILINE)
        assert accuracy is not None, printed
        assert float(accuracy.group(1)) >= 0.9
        assert "387" in printed  # the parameter count, from model.summary()
    if path.stem == "activations":
        assert "loss with labels of shape (1, 300)" in printed
    if path.stem == "gpu_and_accuracy":
        errors = largest_xact_errors(printed)
        assert errors.keys() == ULP_BOUNDS.keys(), printed
        for name, error in errors.items():
            assert error <= ULP_BOUNDS[name], f"xact.{name}: {error} ULP"
        assert " bench: backend " in printed
