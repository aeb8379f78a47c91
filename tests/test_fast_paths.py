"""The fast paths (xact._run.fast) compute exactly what the generic path computes.

Chunking (NumPy) and compiling (JAX) change how the one definition of the
math is scheduled, never what it computes, so on every function, parameter
setting and dtype their result is the generic path's bit for bit (NumPy), or
within a rounding of it (XLA may fuse operations). The float32 values and
derivatives widened to float64 (and NumPy's compiled kernels, which run the
same formulas in C) are a second formulation, within a couple of
ULP of the exact-pair one (both are held to mpmath by test_accuracy.py and
test_backward_accuracy.py, which run on both paths in CI). The
chunk size is made small here so that the oracle's points span many
chunks, and those points (the whole range, ±inf, NaN) are checked against
mpmath through the fast path too.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tracemalloc

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import case_params, to_numpy
from oracle import cases, exact, ulp_errors
from xact._math.derivatives_wide import WIDE_SLOPES, plain_in_float64
from xact._math.elementwise_wide import WIDENED_ON_ARRAYS
from xact._registry import ACTIVATIONS
from xact._run import fast as _fast
from xact._run import kernels as _kernels
from xact._run.kernels import table
from xact.layers import LAYERS

CASES = cases({e.name: e.defaults for e in ACTIVATIONS if not e.along_axis})
LAYER_OF = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(_fast, "CHUNK", 512)
    previous = _fast.use_fast_paths(True)
    yield
    _fast.use_fast_paths(previous)


def _forward_and_backward(case, x):
    layer = LAYER_OF[case.name](**case.kwargs)
    y = layer(x)
    return y, layer.backward(array_api_compat.array_namespace(x).ones_like(x))


def _points(dtype):
    extra = np.array([math.inf, -math.inf, math.nan, -0.0], dtype=dtype)
    return np.concatenate([exact("value", CASES[0], dtype).xs, extra])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_numpy_chunks_equal_the_generic_path(small_chunks, case, dtype):
    x = _points(dtype).reshape(-1, 1)  # 2-D: the chunks see a flat view
    fast = _forward_and_backward(case, x)
    with _fast.generic_path():
        generic = _forward_and_backward(case, x)
    for ours, reference in zip(fast, generic, strict=True):
        assert ours.dtype == reference.dtype
        assert ours.shape == reference.shape
    if dtype == np.float32 and _kernels.cpu() is not None:
        plain = (True, True)  # the compiled kernels (test_kernels.py)
    elif dtype == np.float32:
        plain = (case.name in WIDENED_ON_ARRAYS, case.name in WIDE_SLOPES)
    else:  # the float64 kernels, and the plain float64 derivatives
        compiled = [
            _kernels.cpu() is not None
            and table.find(case.name, direction, case.kwargs, float64=True) is not None
            for direction in table.DIRECTIONS
        ]
        plain = (
            compiled[0],
            compiled[1] or plain_in_float64(case.name, case.kwargs),
        )
    info = np.finfo(dtype)
    for ours, reference, other_formula in zip(fast, generic, plain, strict=True):
        if other_formula:
            # a float32 function widened to float64, or a float64 derivative
            # by its plain formula, is another formulation: both within a
            # few ULP of mpmath, so within a few of each other
            rtol = 6e-7 if dtype == np.float32 else 2e-15
            np.testing.assert_allclose(
                ours, reference, rtol=rtol, atol=info.smallest_normal
            )
        else:
            np.testing.assert_array_equal(ours, reference, err_msg=case.id)


@pytest.mark.parametrize("case", CASES[:12], ids=[c.id for c in CASES[:12]])
def test_numpy_chunks_against_mpmath(small_chunks, case):
    reference = exact("value", case, np.float32)
    result = getattr(xact, case.name)(reference.xs, **case.kwargs)
    assert np.nanmax(ulp_errors(result, reference, np.float32)) <= 4.0


@pytest.mark.parametrize("case", case_params(CASES))  # every call compiles
def test_jax_compiled_equals_the_generic_path(case):
    jax = pytest.importorskip("jax", reason="needs JAX")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    x = jnp.asarray(_points(np.float64))
    fast = [np.asarray(v) for v in _forward_and_backward(case, x)]
    with _fast.generic_path():
        generic = [np.asarray(v) for v in _forward_and_backward(case, x)]
    for ours, reference in zip(fast, generic, strict=True):
        # XLA fuses the compiled math (a few ULP apart) and flushes subnormals
        tiny = np.finfo(np.float64).smallest_normal
        np.testing.assert_allclose(
            ours, reference, rtol=1e-15, atol=tiny, err_msg=case.id
        )


def _logits_with_edge_rows(dtype):
    """Random rows in [-40, 40] and the rows each edge rule is for."""
    rows = np.random.default_rng(7).uniform(-40, 40, (600, 37)).astype(dtype)
    rows[3, :5] = np.inf  # +inf entries share the mass
    rows[4, :] = -np.inf  # nothing left: zeros
    rows[5, 9] = np.nan  # NaN row
    rows[6, :] = 0.0
    rows[6, 1] = -30.0  # dominant entries with a tiny complement
    mask = np.random.default_rng(8).random(rows.shape) > 0.3
    mask[7, :] = False  # a fully masked row
    return rows, mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("masked", [False, True])
def test_softmax_blocks_agree_with_the_generic_path(
    xp, asarray, small_chunks, kind, dtype, masked
):
    """Blocks of rows (NumPy, PyTorch), compiled (JAX) and, for float32,
    widened to float64: the same classes (NaN, ±inf, 0) as the generic path
    and within a few ULP of it (both are held to mpmath in test_accuracy)."""
    if masked and kind == "softmin":
        pytest.skip("softmin takes no mask")
    rows, mask = _logits_with_edge_rows(dtype)
    function = getattr(xact, kind)
    kwargs = {"where": asarray(mask, xp.bool)} if masked else {}
    x = asarray(rows, getattr(xp, dtype))
    fast = to_numpy(function(x, **kwargs))
    with _fast.generic_path():
        generic = to_numpy(function(x, **kwargs))
    assert fast.dtype == generic.dtype
    assert fast.shape == generic.shape
    for check in (np.isnan, np.isposinf, np.isneginf, lambda a: a == 0):
        np.testing.assert_array_equal(check(fast), check(generic))
    finite = np.isfinite(generic) & (generic != 0)
    tiny = float(np.finfo(dtype).smallest_normal)
    np.testing.assert_allclose(fast[finite], generic[finite], rtol=5e-7, atol=tiny)


def test_the_switch():
    assert _fast.fast_paths_enabled() in (True, False)
    previous = _fast.use_fast_paths(False)
    assert not _fast.fast_paths_enabled()
    with _fast.generic_path():
        assert not _fast.fast_paths_enabled()
    _fast.use_fast_paths(True)
    with _fast.generic_path():
        assert not _fast.fast_paths_enabled()
    assert _fast.fast_paths_enabled()
    _fast.use_fast_paths(previous)
    code = "import xact._run.fast as f; print(f.fast_paths_enabled())"
    env = {**os.environ, "XACT_FAST_PATHS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "name", [*(n for n in xact.names() if n != "glu"), "logsumexp"]
)
def test_peak_memory_on_numpy_is_at_most_three_times_the_input(name, dtype):
    """The chunked path keeps temporaries to a few chunks: peak memory (output
    included) at most 3x the input, where the generic path needs up to 31x."""
    if not _fast.fast_paths_enabled():
        pytest.skip("the fast paths are switched off (XACT_FAST_PATHS=0)")
    x = np.random.default_rng(0).uniform(-10, 10, (1000, 1000)).astype(dtype)
    function = getattr(xact, name)
    function(x[:10])  # warm up: thread pool, caches
    tracemalloc.start()
    try:
        function(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 3 * x.nbytes, f"{name}: {peak / x.nbytes:.2f}x the input"


def test_a_forked_child_has_its_own_pool():
    """After fork the parent's pool threads are gone; the child must not wait
    on them (it would hang)."""
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        pytest.skip("no fork on this platform")
    code = (
        "import multiprocessing as mp, numpy as np, xact\n"
        "x = np.linspace(-5, 5, 400_000)\n"
        "xact.silu(x)\n"  # the parent's pool exists now
        "def work(_):\n"
        "    return float(xact.silu(x).sum())\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('fork').Pool(1) as pool:\n"
        "        print(pool.map(work, [0])[0] == float(xact.silu(x).sum()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "True", out.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_chunks_against_mpmath(small_chunks, case, dtype):
    """PyTorch CPU tensors without autograd take the chunked path: forward and
    backward through it, against mpmath on the whole grid."""
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    for kind in ("value", "derivative"):
        reference = exact(kind, case, dtype)
        x = torch.from_numpy(reference.xs.copy())
        assert _fast._torch_chunkable((x,))
        layer = LAYER_OF[case.name](**case.kwargs)
        result = (
            layer(x)
            if kind == "value"
            else (layer(x), layer.backward(torch.ones_like(x)))[1]
        )
        errors = ulp_errors(result.numpy(), reference, dtype)
        assert np.nanmax(errors) <= 4.0, (kind, case.id, float(np.nanmax(errors)))


def test_torch_tensors_that_require_grad_take_the_generic_path(small_chunks):
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    x = torch.linspace(-5, 5, 5000, dtype=torch.float64, requires_grad=True)
    assert not _fast._torch_chunkable((x,))
    (grad,) = torch.autograd.grad(xact.silu(x).sum(), x)
    layer = xact.SiLU()
    layer(x.detach())
    np.testing.assert_allclose(
        grad.numpy(), layer.backward(torch.ones_like(x)).numpy(), rtol=1e-12
    )
    with torch.no_grad():
        assert _fast._torch_chunkable((x,))


def test_one_pool_per_size_even_when_threads_ask_together(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("XACT_NUM_THREADS", "3")
    monkeypatch.setattr(_fast, "_POOLS", {})
    with ThreadPoolExecutor(8) as askers:
        pools = set(askers.map(lambda _: id(_fast._pool()), range(64)))
    assert len(pools) == 1
    assert _fast._pool()._max_workers == 3
    monkeypatch.setenv("XACT_NUM_THREADS", "2")
    assert _fast._pool()._max_workers == 2  # the size asked for now
    for pool in _fast._POOLS.values():  # this test's own pools
        pool.shutdown()
