"""The layout shows the design: the definitions of the math (xact._math)
import nothing that runs them (xact._run) and no public module; the model
and its file format import in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import xact

SRC = Path(xact.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """The modules under xact that ``path`` imports, as dotted names."""
    package = ["xact", *path.relative_to(SRC).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("xact")}


def test_the_definitions_import_only_definitions_and_namespaces():
    allowed = ("xact._math", "xact._namespace")
    for path in sorted((SRC / "_math").glob("*.py")):
        outside = {
            name
            for name in imported_modules(path)
            if not name.startswith(allowed) and name != "xact"
        }
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_the_model_does_not_import_its_loader():
    assert not {name for name in imported_modules(SRC / "model.py") if "saving" in name}
    assert "xact.model" in imported_modules(SRC / "saving.py")
