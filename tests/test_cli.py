"""The command line, run as a user would (a subprocess), on this machine."""

from __future__ import annotations

import subprocess
import sys

import pytest


def xact(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "xact", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


def test_info_lists_every_backend():
    out = xact("info").stdout
    assert out.startswith("xact ")
    for name in ("numpy", "array_api_strict", "torch", "jax", "dask", "cubed", "cupy"):
        assert f"  {name} " in out
    assert "usable on cpu" in out


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
    import xact._elementwise as math_module
    from xact import cli
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


def test_bad_epochs_exit_2():
    assert "epochs" in xact("spiral", "--epochs", "0", check_rc=2).stderr


def test_bench_prints_ratios_and_writes_json(tmp_path):
    report = tmp_path / "bench.json"
    out = xact(
        "bench",
        "--backend",
        "numpy",
        "--size",
        "300000",
        "--repeats",
        "1",
        "--functions",
        "relu,gelu,softmax",
        "--json",
        str(report),
    ).stdout
    assert "bench: backend numpy, 300,000 float32 elements" in out
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


@pytest.mark.parametrize("name,library", [("dask", "Dask"), ("cubed", "Cubed")])
def test_spiral_on_a_lazy_backend_trains_on_numpy_and_predicts_lazily(name, library):
    pytest.importorskip(name, reason=f"needs {library}")
    out = xact("spiral", "--backend", name, "--epochs", "20", "--quiet").stdout
    assert f"trains on NumPy and predicts on {library}" in out
    assert f"accuracy of the lazy prediction on {library}" in out
