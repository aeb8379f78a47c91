"""The notebooks run top to bottom (on NumPy, as CI has no GPU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"activations", "spiral_training"}


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
        accuracy = float(printed.split("accuracy ")[1].split(",")[0])
        assert accuracy >= 0.9
    if path.stem == "activations":
        assert "loss with labels of shape (1, 300)" in printed
