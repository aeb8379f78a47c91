"""The README runs as written.

Its Python blocks run in order, in one namespace and a scratch directory, as
a reader pasting them into one session would; a block followed by a ``text``
block must print that text (``...`` matches anything, as in doctest). A block
whose first line says it needs a CUDA device runs only where CuPy has one.
Every shell command the README names exists: the ``xact`` subcommands and
their options, the scripts, the test paths and the install extras.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from xact.backends import probe

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NEEDS_CUDA = "# needs a CUDA device"


@dataclass
class Block:
    language: str
    code: str
    line: int
    output: str | None = None


def _blocks() -> list[Block]:
    fence = re.compile(r"^( *)```(\w*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
    blocks: list[Block] = []
    end = 0
    for match in fence.finditer(README):
        indent, language, body = match.groups()
        code = "\n".join(line[len(indent) :] for line in body.splitlines()) + "\n"
        between = README[end : match.start()]
        end = match.end()
        follows_python = blocks and blocks[-1].language == "python"
        if language == "text" and follows_python and not between.strip():
            blocks[-1].output = code  # what the block just above prints
            continue
        blocks.append(Block(language, code, README.count("\n", 0, match.start()) + 1))
    return blocks


BLOCKS = _blocks()
PYTHON = [b for b in BLOCKS if b.language == "python"]
SHELL = [b for b in BLOCKS if b.language in ("bash", "console", "sh")]


def test_the_readme_has_runnable_blocks():
    assert len(PYTHON) >= 5
    assert len(SHELL) >= 3
    assert any(b.output for b in PYTHON), "no block shows what it prints"


def test_python_blocks_run_in_order_and_print_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    has_cuda = probe("cupy").usable
    namespace: dict[str, object] = {"__name__": "__readme__"}
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    ran = 0
    for block in PYTHON:
        if block.code.startswith(NEEDS_CUDA) and not has_cuda:
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"README.md line {block.line}: {error!r}\n{block.code}")
        if block.output is not None:
            assert checker.check_output(block.output, printed.getvalue(), flags), (
                f"README.md line {block.line} printed\n{printed.getvalue()}"
                f"but the README says\n{block.output}"
            )
        ran += 1
    assert ran >= len(PYTHON) - 1


def _commands() -> list[list[str]]:
    commands = []
    for block in SHELL:
        for raw in block.code.splitlines():
            line = raw.split(" #", 1)[0].strip().removeprefix("$ ").strip()
            for command in re.split(r"&&|\|", line):
                words = shlex.split(command)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words = words[1:]  # VAR=value before a command
                if words:
                    commands.append(words)
    return commands


COMMANDS = _commands()


def _xact_help(subcommand: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "xact", subcommand, "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"xact {subcommand}: {result.stderr}"
    return result.stdout


def _extras() -> set[str]:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11 reads TOML")
    with open(ROOT / "pyproject.toml", "rb") as file:
        return set(tomllib.load(file)["project"]["optional-dependencies"])


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_every_command_the_readme_names_exists(words):
    program, *arguments = words
    if program.endswith("xact"):
        subcommand = arguments[0]
        help_text = _xact_help(subcommand)
        for option in (a.split("=")[0] for a in arguments if a.startswith("--")):
            assert option in help_text, f"xact {subcommand} has no {option}"
    elif program in ("bash", "python", "python3") and arguments[0] not in ("-m", "-c"):
        assert (ROOT / arguments[0]).exists(), arguments[0]
    elif program.endswith("pip") or arguments[:2] == ["-m", "pip"]:
        for extras in re.findall(r"\.\[([\w,]+)\]", " ".join(arguments)):
            assert set(extras.split(",")) <= _extras(), extras
    elif program.endswith("pytest"):
        valued = {"-m", "-k", "-n", "--durations"}  # options that take a value
        paths = [
            a
            for a, before in zip(arguments, ["", *arguments], strict=False)
            if not a.startswith("-") and before not in valued
        ]
        for path in paths:
            assert (ROOT / path.split("::")[0]).exists(), path
    elif program in ("source", "cd", "git", "jupyter", "python3", "python"):
        pass  # the shell's, git's and Python's own
    else:
        pytest.fail(f"the README names an unknown command: {' '.join(words)}")
