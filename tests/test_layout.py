"""The layout shows the design: a call walks down public -> run -> math.
The definitions of the math (xact._math) import nothing that runs them
(xact._run) and no public module; the runners import the math and each
other, never a public module, by ``import`` or by ``import_module``; the
model and its file format import in one direction only."""

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
        elif _is_import_module(node):
            names.add(_imported_by_name(node, package))
    return {name for name in names if name.startswith("xact")}


def _is_import_module(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else None
    name = function.id if isinstance(function, ast.Name) else name
    return name in ("import_module", "__import__")


def _imported_by_name(node: ast.Call, package: list[str]) -> str:
    """The module an ``import_module`` call names (a literal; a relative name
    against its package argument, this module's package)."""
    argument = node.args[0] if node.args else None
    if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
        return "xact.<computed name>"  # not provably outside xact: flagged
    name = argument.value
    if name.startswith("."):
        level = len(name) - len(name.lstrip("."))
        base = package[: len(package) - level + 1]
        return ".".join([*base, name.lstrip(".")])
    return name


def _outside(folder: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((SRC / folder).rglob("*.py")):
        names = {
            name
            for name in imported_modules(path)
            if not name.startswith(allowed) and name != "xact"
        }
        if names:
            found[str(path.relative_to(SRC))] = sorted(names)
    return found


def test_the_definitions_import_only_definitions_and_namespaces():
    allowed = ("xact._math", "xact._namespace", "xact._validate")
    assert _outside("_math", allowed) == {}


def test_the_runners_import_the_math_and_each_other_only():
    allowed = ("xact._math", "xact._namespace", "xact._validate", "xact._run")
    assert _outside("_run", (*allowed, "xact._caches")) == {}


def test_the_rule_sees_import_module(tmp_path, monkeypatch):
    # the checker itself: import_module of a public module is seen
    package = tmp_path / "_run"
    package.mkdir()
    (package / "bad.py").write_text(
        "import importlib\n"
        "def f():\n"
        "    return importlib.import_module('xact.softmax')\n"
    )
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    assert _outside("_run", ("xact._run",)) == {"_run/bad.py": ["xact.softmax"]}


def test_the_model_does_not_import_its_loader():
    assert not {name for name in imported_modules(SRC / "model.py") if "saving" in name}
    assert "xact.model" in imported_modules(SRC / "saving.py")
