"""The command line, on this machine.

Most tests run ``xact.cli.main``, what the ``xact`` script and ``python -m
xact`` call, in the test's own process (a subprocess costs seconds: it
imports every backend); the tests of what only a process shows (the entry
point, exit codes, Ctrl-C, a closed pipe) start one, as a user would.
"""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from functools import cache
from pathlib import Path

import pytest

from xact import cli


def xact(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    """``xact *args``, run by ``cli.main`` here, with its output and exit code."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            returncode = cli.main(list(args))
        except SystemExit as exit:  # argparse: --help, usage errors
            returncode = exit.code if isinstance(exit.code, int) else 1
    result = subprocess.CompletedProcess(
        args, returncode, out.getvalue(), err.getvalue()
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


def xact_process(
    *args: str, check_rc: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """``python -m xact *args`` in a process of its own."""
    result = subprocess.run(
        [sys.executable, "-m", "xact", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


@cache
def info(*options: str) -> str:
    return xact("info", *options).stdout


def test_the_entry_point_exits_with_the_commands_code():
    result = xact_process("check", "--backend", "tensorflow", check_rc=2)
    one_line_error(result, "unknown backend 'tensorflow'")
    assert result.stdout == ""


def test_info_lists_every_backend():
    out = xact_process("info").stdout
    assert out.startswith("xact ")
    for name in ("numpy", "array_api_strict", "torch", "jax", "dask", "cubed", "cupy"):
        assert f"  {name} " in out
    assert "usable on cpu" in out
    assert "fast paths on; CPU kernels (NumPy, torch CPU): " in out


@pytest.mark.parametrize("command", ["info", "check", "spiral", "bench"])
def test_help(command):
    assert "usage: xact" in xact(command, "--help").stdout


def test_check_passes_on_numpy_and_prints_a_table():
    out = xact("check", "--backend", "numpy").stdout
    assert "numpy float64" in out
    assert "gelu backward" in out
    assert "Dense forward/backward" in out
    assert "all checks passed" in out


def test_check_compares_another_backend_with_numpy():
    # array-api-strict (a test dependency) runs the generic path; NumPy is the
    # reference, so this row is not a comparison of NumPy with itself
    out = xact("check", "--backend", "array_api_strict").stdout
    assert "array_api_strict float64" in out
    assert "all checks passed" in out


def test_check_fails_when_a_backend_is_off_by_a_little(monkeypatch, capsys):
    """A sigmoid that is off by 1e-9 (relative) on every library but NumPy
    must make `xact check` fail, naming the function."""
    import xact._math.elementwise as math_module
    from xact._namespace import is_numpy

    exact_sigmoid = math_module.sigmoid_math

    def slightly_off(xp, x):
        value = exact_sigmoid(xp, x)
        return value if is_numpy(xp) else value * (1 + 1e-9)

    monkeypatch.setattr(math_module, "sigmoid_math", slightly_off)
    assert cli.main(["check", "--backend", "array_api_strict"]) == 1
    out = capsys.readouterr().out
    sigmoid_row = next(line for line in out.splitlines() if line.startswith("sigmoid "))
    assert "FAIL" in sigmoid_row
    assert "check(s) failed" in out


def test_unknown_or_unusable_backend_is_one_line_and_exit_2():
    result = xact("check", "--backend", "tensorflow", check_rc=2)
    assert result.stderr.count("\n") == 1
    assert "unknown backend 'tensorflow'" in result.stderr
    from xact.backends import probe

    unusable = next((n for n in ("cupy", "torch", "jax") if not probe(n).usable), None)
    if unusable is None:  # pragma: no cover - a machine with everything usable
        return
    result = xact("spiral", "--backend", unusable, check_rc=2)
    assert f"backend {unusable} is not usable here" in result.stderr
    assert result.stderr.count("\n") == 1


def test_spiral_trains_and_plots(tmp_path):
    png = tmp_path / "spiral.png"
    out = xact("spiral", "--backend", "numpy", "--quiet", "--plot", str(png)).stdout
    accuracy = float(out.split("final accuracy ")[1].split(",")[0])
    assert accuracy >= 0.90
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = tmp_path / "spiral_curves.png"
    assert f"saved the loss and accuracy curves to {curves}" in out
    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_epochs_exit_2():
    assert "epochs" in xact("spiral", "--epochs", "0", check_rc=2).stderr


def test_bench_prints_ratios_and_writes_json(tmp_path):
    report = tmp_path / "bench.json"
    out = xact(
        "bench",
        "--backend",
        "numpy",
        "--size",
        "100000",
        "--repeats",
        "1",
        "--functions",
        "relu,gelu,softmax",
        "--json",
        str(report),
    ).stdout
    assert "bench: backend numpy, 100,000 float32 elements" in out
    assert "fast paths: on" in out
    for name in ("relu", "gelu", "softmax"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    import json

    rows = json.loads(report.read_text())["rows"]
    assert [row["function"] for row in rows] == ["relu", "gelu", "softmax"]
    for row in rows:
        assert row["forward"] > 0
        assert row["backward"] > 0
        assert row["peak_memory"] > 0


def test_bench_rejects_unknown_functions_and_backends():
    result = xact("bench", "--functions", "relu,nope", check_rc=2)
    assert "unknown function(s) nope" in result.stderr
    result = xact("bench", "--backend", "tensorflow", check_rc=2)
    assert "unknown backend 'tensorflow'" in result.stderr


@pytest.mark.parametrize(("name", "library"), [("dask", "Dask"), ("cubed", "Cubed")])
def test_spiral_on_a_lazy_backend_trains_on_numpy_and_predicts_lazily(name, library):
    pytest.importorskip(name, reason=f"needs {library}")
    out = xact("spiral", "--backend", name, "--epochs", "20", "--quiet").stdout
    assert f"trains on NumPy and predicts on {library}" in out
    assert f"accuracy of the lazy prediction on {library}" in out


# ------------------------------------------------- no traceback, ever, for these


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("plot", "words"),
    [
        ("{tmp}/no/such/folder/x.png", ["no folder"]),
        ("{tmp}/x.txt", ["cannot save .txt", ".png", ".pdf"]),
        ("{tmp}", ["is a folder"]),
    ],
)
def test_a_bad_plot_path_is_one_line_before_training(tmp_path, plot, words):
    path = plot.format(tmp=tmp_path)
    result = xact("spiral", "--plot", path, "--quiet", check_rc=2)
    one_line_error(result, f"--plot {path}", *words)
    assert "training" not in result.stdout  # found before the work starts


def test_a_plot_path_in_a_folder_that_takes_no_file_is_one_line(tmp_path):
    import os

    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere but in sysfs
        if not os.path.isdir("/sys/kernel"):
            pytest.skip("root, and no sysfs to stand for a folder it cannot write")
        folder = Path("/sys/kernel")
    result = xact("spiral", "--plot", str(folder / "x.png"), check_rc=2)
    one_line_error(result, "cannot write in")
    assert "training" not in result.stdout


def test_a_plot_path_without_extension_is_saved_as_png_and_named(tmp_path):
    out = xact(
        "spiral", "--epochs", "20", "--quiet", "--plot", str(tmp_path / "result")
    ).stdout
    png, curves = tmp_path / "result.png", tmp_path / "result_curves.png"
    assert f"saved the decision regions to {png}\n" in out
    assert f"saved the loss and accuracy curves to {curves}\n" in out
    for path in (png, curves):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [png.name, curves.name]


def test_the_curves_take_the_plots_file_type(tmp_path):
    xact("spiral", "--epochs", "5", "--quiet", "--plot", str(tmp_path / "run.svg"))
    assert (tmp_path / "run_curves.svg").read_text().lstrip().startswith("<?xml")


def test_bench_json_path_is_checked_before_the_run(tmp_path):
    path = tmp_path / "missing" / "bench.json"
    result = xact("bench", "--json", str(path), "--size", "1000", check_rc=2)
    one_line_error(result, "no folder")
    assert result.stdout == ""


def test_ctrl_c_is_one_line_and_exit_130():
    import os
    import signal

    # Python ignores SIGINT in a child of a parent that ignores it (a
    # background job): the child installs the usual handler first (no
    # preexec_fn, which would fork a process that has JAX's threads)
    start = (
        "import runpy, signal, sys; "
        "signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['xact', 'spiral', '--epochs', '10000000', '--quiet']; "
        "runpy.run_module('xact', run_name='__main__')"
    )
    with subprocess.Popen(
        [sys.executable, "-c", start],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("training")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 130
    assert err == "xact: interrupted\n"
    assert "final accuracy" not in out


def test_a_closed_pipe_ends_quietly():
    # like `xact check | head -3`, with the reader gone before anything is
    # written, so that every write meets the closed pipe
    with subprocess.Popen(
        [sys.executable, "-m", "xact", "check", "--backend", "numpy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        err = process.stderr.read()
        assert process.wait(timeout=300) == 1
    assert err == ""


# ------------------------------------------------------------ within 100 columns


def test_info_fits_in_100_columns_and_wide_shows_every_device():
    from xact.backends import probe

    out = info()
    assert max(len(line) for line in out.splitlines()) <= 100, out
    assert "  cupy " in out
    assert "not installed not usable" not in out  # said once
    wide = info("--wide")
    devices = probe("array_api_strict").devices
    row = next(line for line in wide.splitlines() if "  array_api_strict " in line)
    assert row.endswith("usable on " + ", ".join(devices))


def test_check_fits_in_100_columns_and_wide_is_one_table():
    backends = ("--backend", "numpy", "--backend", "array_api_strict")
    out = xact("check", *backends).stdout
    assert max(len(line) for line in out.splitlines()) <= 100, out
    headers = [line for line in out.splitlines() if line.startswith("check ")]
    assert headers == [
        "check" + " " * 33 + "numpy float32  numpy float64",
        "check" + " " * 33 + "array_api_strict float32  array_api_strict float64",
    ]
    assert out.count("\ngelu backward ") == 2
    wide = xact("check", "--wide", *backends).stdout
    headers = [line for line in wide.splitlines() if line.startswith("check ")]
    assert len(headers) == 1
    assert headers[0].split()[1:] == [
        "numpy",
        "float32",
        "numpy",
        "float64",
        "array_api_strict",
        "float32",
        "array_api_strict",
        "float64",
    ]


def test_check_lists_errors_below_the_table(monkeypatch, capsys):
    import xact._math.elementwise as math_module
    from xact._namespace import is_numpy

    exact_sigmoid = math_module.sigmoid_math

    def broken(xp, x):
        if is_numpy(xp):
            return exact_sigmoid(xp, x)
        raise RuntimeError("a long explanation of what went wrong, " * 4)

    monkeypatch.setattr(math_module, "sigmoid_math", broken)
    assert cli.main(["check", "--backend", "array_api_strict"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
    row = next(line for line in lines if line.startswith("sigmoid "))
    assert row.split()[1:] == ["ERROR", "ERROR"]
    notes = lines[lines.index("errors:") + 1 :]
    assert notes[0].startswith(
        "  sigmoid, array_api_strict float32: RuntimeError: a long explanation"
    )
    assert notes[1].startswith("    ")  # wrapped, nothing cut


# ------------------------------------------------------------ --threads, --device


@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5"])
def test_threads_must_be_a_positive_integer(value):
    result = xact("check", "--backend", "numpy", "--threads", value, check_rc=2)
    one_line_error(result, f"--threads must be a positive integer, got '{value}'")


def test_threads_reach_torch_and_xacts_pool():
    pytest.importorskip("torch", reason="needs PyTorch")
    out = xact(
        "bench",
        "--backend",
        "torch",
        "--size",
        "2000",
        "--repeats",
        "1",
        "--functions",
        "relu",
        "--threads",
        "1",
    ).stdout
    assert "xact threads 1" in out
    assert ", 1 thread\n" in out  # torch.get_num_threads() in the header


def test_threads_are_restored_for_a_caller_in_its_own_process(monkeypatch, capsys):
    import os

    monkeypatch.setenv("XACT_NUM_THREADS", "3")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with cli._limit_threads(1):
        assert os.environ["XACT_NUM_THREADS"] == os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["XACT_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in os.environ
    assert cli.main(["check", "--backend", "numpy", "--threads", "2"]) == 0
    assert os.environ["XACT_NUM_THREADS"] == "3"
    capsys.readouterr()


def test_threads_are_restored_in_torch():
    torch = pytest.importorskip("torch", reason="needs PyTorch")

    before = torch.get_num_threads()
    with cli._limit_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def test_an_unknown_device_is_one_line():
    result = xact("check", "--backend", "numpy", "--device", "cuda:1", check_rc=2)
    one_line_error(result, "backend numpy has no device 'cuda:1'; it has cpu")
    result = xact(
        "spiral", "--backend", "array_api_strict", "--device", "gpu", check_rc=2
    )
    one_line_error(result, "no device 'gpu'; it has CPU_DEVICE, device1")


def test_a_device_is_used():
    assert (
        "all checks passed"
        in xact("check", "--backend", "numpy", "--device", "cpu").stdout
    )
    # array-api-strict's second device: a forgotten device= would fail here
    out = xact("check", "--backend", "array_api_strict", "--device", "device1").stdout
    assert "all checks passed" in out
    out = xact(
        "spiral",
        "--backend",
        "array_api_strict",
        "--device",
        "device1",
        "--epochs",
        "3",
        "--quiet",
    ).stdout
    assert "backend array_api_strict on device1" in out
    assert "final accuracy" in out


def test_the_command_module_shows_only_main():

    assert dir(cli) == ["main"]
