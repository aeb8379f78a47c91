"""Mutation testing for xact's numerical kernels: do the tests notice a slip?

Each mutant changes one thing in one source file (an operator, a comparison,
a constant, a sign, the branches of a ``where``, ``maximum`` for ``minimum``),
the tests run against it, and a mutant the tests still pass "survives": a
slip of that kind would go unnoticed. Run it from anywhere with the project's
virtual environment::

    .venv/bin/python tools/mutate.py --list                  # the mutants
    .venv/bin/python tools/mutate.py --baseline --jobs 2     # all of them
    .venv/bin/python tools/mutate.py --sample 40 --seed 1    # a random 40
    .venv/bin/python tools/mutate.py --only special-3,softmax-12
    .venv/bin/python tools/mutate.py --files src/xact/_math/twofold.py \\
        --tests "tests/test_special.py -k erfc" --json /tmp/mutants.json

Targets (``--files``): ``_elementwise``, ``_derivatives``, ``_special``,
``_twofold`` and ``softmax`` under src/xact. Mutations, found with :mod:`ast`
and applied as a minimal edit of the source text (line numbers stay those of
the real file):

=========  ==============================================================
arith      ``+`` <-> ``-``, ``*`` <-> ``/``
compare    ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``
constant   float ``c -> c * (1 + 2**-20)``, ``0.0 -> 1.0``, int ``c -> c + 1``
negation   ``-x -> x``
where      ``xp.where(cond, a, b) -> xp.where(cond, b, a)``
minmax     ``xp.maximum`` <-> ``xp.minimum``
=========  ==============================================================

Docstrings, type annotations, decorators, f-strings, ``__all__`` and the
``*`` or ``+`` of a list, tuple or string literal are left alone.
``--kinds constant,where`` narrows the set. A mutant's id is the file's stem
and its number in that file (``special-3``); ids follow source order, so they
change when the file does.

How a mutant runs: the tool copies src/, tests/ and pyproject.toml into a
temporary folder under /tmp (one per ``--jobs`` worker), writes the mutant
there and runs, in that folder,
``XACT_BACKENDS=numpy python -m pytest -x -q -p no:cacheprovider <tests>``
with ``PYTHONPATH=<copy>/src`` so that the copy, not the editable install,
is imported (checked once per copy: the run stops if ``xact.__file__`` is
elsewhere). Bytecode is not written, so a stale ``.pyc`` can never stand in
for a mutant. The files under src/ of the repository are never written. The
exact reference values travel with tests/ (``tests/exact/``), so no mutant
computes them. ``--baseline`` runs the unmutated tests first and stops if
they fail.

A mutant is KILLED when pytest fails (any non-zero exit), TIMEOUT (counted as
killed) when it runs past ``--timeout`` seconds, else SURVIVED. The score is
killed / total. A survivor is either a gap in the tests or an equivalent
mutant (a change that cannot alter any result, such as a tail coefficient
of a series perturbed below rounding): read each one before writing a test.

Cost: ``-x`` makes a killed mutant cheap (seconds), but a survivor costs a
whole run of the selection, about a minute on one core for the default one
(``--timeout`` defaults to 300 s). For a quick look, narrow ``--tests`` or
``--files`` or take a ``--sample``; ``--jobs`` runs mutants side by side.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import json
import os
import queue
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILES = (
    "src/xact/_math/elementwise.py",
    "src/xact/_math/derivatives.py",
    "src/xact/_math/special.py",
    "src/xact/_math/twofold.py",
    "src/xact/softmax.py",
)
DEFAULT_TESTS = (
    "tests/test_accuracy.py tests/test_backward_accuracy.py "
    "tests/test_backward.py tests/test_special.py"
)
COPIED = ("src", "tests", "pyproject.toml")
KINDS = ("arith", "compare", "constant", "negation", "where", "minmax")

ARITH = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "/"),
    ast.Div: ("/", "*"),
}
COMPARE = {
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
}
MINMAX = {"maximum": "minimum", "minimum": "maximum"}
_LIVE: set[subprocess.Popen[str]] = set()  # test runs under way, killed on Ctrl-C
_STOPPING = threading.Event()  # set on Ctrl-C: start no more test runs


# --- finding mutants ---------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace bytes ``start:end`` of a file by ``text``."""

    start: int
    end: int
    text: bytes


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to the repository
    line: int
    kind: str
    description: str
    edits: tuple[Edit, ...]
    original: bytes = field(repr=False, compare=False)  # the file as read

    def mutated(self) -> bytes:
        source = self.original
        for edit in sorted(self.edits, key=lambda e: e.start, reverse=True):
            source = source[: edit.start] + edit.text + source[edit.end :]
        return source

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def _left_alone(tree: ast.AST) -> set[int]:
    """ids of the nodes not to mutate: docstrings, annotations, decorators,
    f-strings and ``__all__``."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            roots.append(node)  # docstring (or another bare constant)
        elif isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            roots.extend(node.decorator_list)
            if node.returns is not None:
                roots.append(node.returns)
        elif isinstance(node, ast.ClassDef):
            roots.extend(node.decorator_list)
        elif isinstance(node, ast.JoinedStr):
            roots.append(node)  # positions inside f-strings are unreliable < 3.12
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                roots.append(node)
            elif isinstance(node, ast.AnnAssign):
                roots.append(node.annotation)
    return {id(n) for root in roots for n in ast.walk(root)}


def _sequence_literal(node: ast.AST) -> bool:
    """Whether `node` is a list, tuple or string: ``*`` repeats it, ``+`` joins."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    return isinstance(node, ast.List | ast.Tuple | ast.ListComp | ast.JoinedStr)


def _perturbed(value: object) -> object | None:
    """The mutated value of a numeric constant, or None to leave it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value + 1
    if value == 0.0:
        return 1.0
    new = value * (1 + 2**-20)
    return new if new != value and abs(new) != float("inf") else None


class _Finder:
    """The mutants of one file, each an edit of the original bytes.

    ``ast`` positions are UTF-8 byte offsets, so all the work is on bytes.
    """

    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.source = source
        self.tree = ast.parse(source, filename=path)
        self.line_starts = [0]
        for line in source.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))

    def start(self, node: ast.AST) -> int:
        return self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def snippet(self, node: ast.AST, width: int = 60) -> str:
        text = " ".join(self.source[self.start(node) : self.end(node)].decode().split())
        return text if len(text) <= width else text[: width - 3] + "..."

    def operator(self, left: ast.AST, right: ast.AST, symbol: str) -> int:
        """Offset of the operator ``symbol`` between two operands."""
        gap_start = self.end(left)
        gap = self.source[gap_start : self.start(right)]
        code = re.sub(rb"#[^\r\n]*", lambda m: b" " * len(m.group()), gap)
        at = code.find(symbol.encode())
        if at < 0 or code.replace(symbol.encode(), b"", 1).strip(b" \t\r\n\\()"):
            raise ValueError(f"{self.path}: no lone {symbol!r} in {gap!r}")
        return gap_start + at

    def mutations(self) -> list[tuple[int, str, str, tuple[Edit, ...]]]:
        """(offset, kind, description, edits) in no particular order."""
        skip = _left_alone(self.tree)
        found = []
        for node in ast.walk(self.tree):
            if id(node) in skip:
                continue
            if (
                isinstance(node, ast.BinOp)
                and type(node.op) in ARITH
                and not _sequence_literal(node.left)
                and not _sequence_literal(node.right)
            ):
                old, new = ARITH[type(node.op)]
                at = self.operator(node.left, node.right, old)
                edit = Edit(at, at + len(old), new.encode())
                desc = f"{old} -> {new}  in  {self.snippet(node)}"
                found.append((at, "arith", desc, (edit,)))
            elif isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                for i, op in enumerate(node.ops):
                    if type(op) not in COMPARE:
                        continue
                    old, new = COMPARE[type(op)]
                    at = self.operator(operands[i], operands[i + 1], old)
                    edit = Edit(at, at + len(old), new.encode())
                    desc = f"{old} -> {new}  in  {self.snippet(node)}"
                    found.append((at, "compare", desc, (edit,)))
            elif isinstance(node, ast.Constant):
                new_value = _perturbed(node.value)
                if new_value is not None:
                    at, old = self.start(node), self.snippet(node)
                    edit = Edit(at, self.end(node), repr(new_value).encode())
                    found.append((at, "constant", f"{old} -> {new_value!r}", (edit,)))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
                at = self.start(node)
                if self.source[at : at + 1] != b"-":
                    raise ValueError(f"{self.path}:{node.lineno}: no '-' to remove")
                desc = f"drop unary minus  in  {self.snippet(node)}"
                found.append((at, "negation", desc, (Edit(at, at + 1, b""),)))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "where"
                and isinstance(node.func.value, ast.Name)
                and len(node.args) == 3
                and not node.keywords
                and not any(isinstance(a, ast.Starred) for a in node.args)
            ):
                a, b = node.args[1], node.args[2]
                edits = (
                    Edit(
                        self.start(a),
                        self.end(a),
                        self.source[self.start(b) : self.end(b)],
                    ),
                    Edit(
                        self.start(b),
                        self.end(b),
                        self.source[self.start(a) : self.end(a)],
                    ),
                )
                desc = f"swap where branches  in  {self.snippet(node)}"
                found.append((self.start(node), "where", desc, edits))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in MINMAX
                and isinstance(node.value, ast.Name)
            ):
                end = self.end(node)
                at = end - len(node.attr)
                if self.source[at:end] != node.attr.encode():
                    raise ValueError(
                        f"{self.path}:{node.lineno}: {node.attr} not found"
                    )
                new = MINMAX[node.attr]
                desc = f"{node.value.id}.{node.attr} -> {node.value.id}.{new}"
                found.append((at, "minmax", desc, (Edit(at, end, new.encode()),)))
        return found


def find_mutants(files: list[str]) -> list[Mutant]:
    """Every mutant of `files` (paths relative to the repository), in source order."""
    mutants = []
    for path in files:
        source = (REPO / path).read_bytes()
        finder = _Finder(path, source)
        stem = Path(path).stem.lstrip("_")
        found = sorted(finder.mutations(), key=lambda m: (m[0], KINDS.index(m[1])))
        for number, (offset, kind, desc, edits) in enumerate(found, start=1):
            line = finder.line_of(offset)
            mutants.append(
                Mutant(f"{stem}-{number}", path, line, kind, desc, edits, source)
            )
    return mutants


def check(mutants: list[Mutant]) -> None:
    """Raise unless each mutant parses and changes the syntax tree, so that a
    bug here cannot pass for a surviving mutant."""
    originals: dict[str, str] = {}
    for m in mutants:
        if m.file not in originals:
            originals[m.file] = ast.dump(ast.parse(m.original))
        if ast.dump(ast.parse(m.mutated(), filename=m.file)) == originals[m.file]:
            raise ValueError(f"{m.id} ({m.location}) changes nothing")


# --- running the tests on a copy ---------------------------------------------


@dataclass
class Result:
    mutant: Mutant
    status: str  # KILLED, SURVIVED or TIMEOUT
    returncode: int | None
    seconds: float
    summary: str  # pytest's last line of output


class Sandbox:
    """A copy of the repository's src/, tests/ and pyproject.toml under /tmp
    in which pytest imports the copy's ``xact``.

    `sources` (path: bytes) are the files to mutate as they were read, so that
    an edit of the repository during the run cannot mismatch the mutants.
    """

    def __init__(self, root: Path, backends: str, sources: dict[str, bytes]) -> None:
        self.root = root
        for name in COPIED:
            source = REPO / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(source, root / name, ignore=ignore)
            else:
                shutil.copy2(source, root / name)
        for path, text in sources.items():
            (root / path).write_bytes(text)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(root / "src"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "XACT_BACKENDS": backends,
        }

    def check_import(self) -> str:
        """Where ``import xact`` finds xact here; stops unless in the copy."""
        code = "import xact; print(xact.__file__)"
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"mutate: the unmutated xact does not import:\n{done.stderr}")
        out = done.stdout.strip()
        if not Path(out).resolve().is_relative_to((self.root / "src").resolve()):
            sys.exit(f"mutate: the copy in {self.root} imports xact from {out}")
        return out

    def run(
        self, command: list[str], timeout: float
    ) -> tuple[str, int | None, float, str]:
        """(PASSED/FAILED/TIMEOUT, exit code, seconds, output)."""
        if _STOPPING.is_set():
            raise KeyboardInterrupt
        began = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a timeout kills pytest and its children
        )
        _LIVE.add(process)
        try:
            output, _ = process.communicate(timeout=timeout)
            status = "PASSED" if process.returncode == 0 else "FAILED"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            status = "TIMEOUT"
        finally:
            _LIVE.discard(process)
        return status, process.returncode, time.monotonic() - began, output

    def run_mutant(self, mutant: Mutant, command: list[str], timeout: float) -> Result:
        target = self.root / mutant.file
        target.write_bytes(mutant.mutated())
        try:
            status, code, seconds, output = self.run(command, timeout)
        finally:
            target.write_bytes(mutant.original)
        status = {"PASSED": "SURVIVED", "FAILED": "KILLED"}.get(status, status)
        return Result(mutant, status, code, seconds, _last_line(output))


def _last_line(output: str) -> str:
    """pytest's summary: the last line of its output, without the ``=``s."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else ""


def run_all(
    mutants: list[Mutant], sandboxes: list[Sandbox], command: list[str], timeout: float
) -> list[Result]:
    """Run the mutants, a sandbox per worker, printing each result as it comes."""
    free: queue.Queue[Sandbox] = queue.Queue()
    for sandbox in sandboxes:
        free.put(sandbox)
    lock = threading.Lock()

    def one(mutant: Mutant) -> Result:
        sandbox = free.get()
        try:
            result = sandbox.run_mutant(mutant, command, timeout)
        finally:
            free.put(sandbox)
        with lock:
            if not _STOPPING.is_set():
                print(_line(result), f"({result.seconds:.0f} s)", flush=True)
        return result

    pool = ThreadPoolExecutor(max_workers=len(sandboxes))
    try:
        return list(pool.map(one, mutants))
    except KeyboardInterrupt:
        _stop()
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _stop() -> None:
    """Start no more test runs and kill those under way (Ctrl-C)."""
    _STOPPING.set()
    for process in list(_LIVE):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


# --- the command line ----------------------------------------------------------


def _line(result: Result) -> str:
    m = result.mutant
    return f"{result.status:<8}  {m.id:<16}  {m.location:<30}  {m.description}"


def _select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    kinds = set(args.kinds.split(","))
    if kinds - set(KINDS):
        sys.exit(f"mutate: unknown kinds {sorted(kinds - set(KINDS))}; known: {KINDS}")
    chosen = [m for m in mutants if m.kind in kinds]
    if args.only:
        wanted = [i.strip() for i in args.only.split(",") if i.strip()]
        by_id = {m.id: m for m in chosen}
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            sys.exit(f"mutate: no mutants {unknown} (see --list)")
        chosen = [by_id[i] for i in wanted]
    if args.sample is not None and args.sample < len(chosen):
        picked = set(random.Random(args.seed).sample(range(len(chosen)), args.sample))
        chosen = [m for i, m in enumerate(chosen) if i in picked]
    return chosen


def _summary(results: list[Result]) -> dict[str, object]:
    total = len(results)
    timeouts = sum(r.status == "TIMEOUT" for r in results)
    killed = sum(r.status in ("KILLED", "TIMEOUT") for r in results)
    return {
        "total": total,
        "killed": killed,
        "timeouts": timeouts,
        "survived": total - killed,
        "score": killed / total if total else None,
        "survivors": [r.mutant.id for r in results if r.status == "SURVIVED"],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Mutation testing for xact's kernels (see the module docstring).",
    )
    parser.add_argument(
        "--files",
        nargs="+",
        default=list(DEFAULT_FILES),
        help="source files to mutate, relative to the repository",
    )
    parser.add_argument(
        "--tests",
        default=DEFAULT_TESTS,
        help="pytest arguments after '-x -q -p no:cacheprovider' "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--backends", default="numpy", help="XACT_BACKENDS for the tests"
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="comma-separated kinds of mutation (default: all)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the mutants and stop"
    )
    parser.add_argument("--only", help="comma-separated mutant ids")
    parser.add_argument("--sample", type=int, help="run a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per mutant; a timeout counts as killed",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="run the unmutated tests first and stop if they fail",
    )
    parser.add_argument("--json", type=Path, help="write the results to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    files = []
    for name in args.files:
        path = (REPO / name).resolve()  # an absolute name stays as it is
        if not path.is_relative_to(REPO / "src") or path.suffix != ".py":
            sys.exit(f"mutate: {name} is not a Python file under {REPO / 'src'}")
        files.append(path.relative_to(REPO).as_posix())
    mutants = _select(find_mutants(files), args)
    check(mutants)
    if args.list:
        for m in mutants:
            print(f"{m.id:<16}  {m.location:<30}  {m.kind:<8}  {m.description}")
        counts = Counter(m.file for m in mutants)
        print(
            f"\n{len(mutants)} mutants:",
            ", ".join(f"{f} {n}" for f, n in counts.items()),
        )
        return 0
    if not mutants:
        sys.exit("mutate: no mutants selected")

    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += shlex.split(args.tests)
    print(f"XACT_BACKENDS={args.backends} {shlex.join(command)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="xact-mutate-", dir="/tmp"))
    began = time.monotonic()
    try:
        sources = {m.file: m.original for m in mutants}
        sandboxes = [
            Sandbox(workdir / f"copy{j}", args.backends, sources)
            for j in range(max(1, min(args.jobs, len(mutants))))
        ]
        for sandbox in sandboxes:
            print(f"the tests import {sandbox.check_import()}", flush=True)
        if args.baseline:
            status, _, seconds, output = sandboxes[0].run(command, args.timeout)
            last = _last_line(output)
            print(f"baseline  {status} in {seconds:.0f} s: {last}", flush=True)
            if status != "PASSED":
                print("\n".join(output.splitlines()[-30:]), file=sys.stderr)
                print(
                    "mutate: the unmutated tests do not pass; stopping", file=sys.stderr
                )
                return 2
        results = run_all(mutants, sandboxes, command, args.timeout)
    except KeyboardInterrupt:
        _stop()
        print("mutate: interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - began
    summary = _summary(results)
    print(
        f"\n{summary['total']} mutants, {summary['killed']} killed "
        f"({summary['timeouts']} by timeout), {summary['survived']} survived; "
        f"score {summary['killed']}/{summary['total']} = {summary['score']:.1%} "
        f"in {elapsed:.0f} s"
    )
    survivors = [r for r in results if r.status == "SURVIVED"]
    if survivors:
        print("survivors:")
        for r in survivors:
            print("  " + _line(r))
    if args.json:
        report = {
            "command": f"XACT_BACKENDS={args.backends} {shlex.join(command)}",
            "files": files,
            "seed": args.seed if args.sample is not None else None,
            **summary,
            "results": [
                {
                    "id": r.mutant.id,
                    "file": r.mutant.file,
                    "line": r.mutant.line,
                    "kind": r.mutant.kind,
                    "description": r.mutant.description,
                    "status": r.status,
                    "returncode": r.returncode,
                    "seconds": round(r.seconds, 2),
                    "pytest": r.summary,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
