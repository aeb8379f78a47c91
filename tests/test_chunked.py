"""Dask and Cubed run xact's NumPy path per chunk (xact._run.chunked): the
result stays lazy, one task per chunk, and its bits are NumPy's on the same
data, for every elementwise function (value and backward), the softmax
family and logsumexp, float32 and float64. A dask.distributed cluster of two
worker processes pickles the tasks."""

from __future__ import annotations

import numpy as np
import pytest

import xact
from conftest import ELEMENTWISE_CASES as CASES
from xact._registry import ACTIVATIONS
from xact.layers import LAYERS

LAYER_OF = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}
ROW_FUNCTIONS = ["softmax", "log_softmax", "softmin"]


def _host(dtype, shape=(40, 25)):
    rng = np.random.default_rng(31)
    x = rng.standard_normal(shape) * 6
    x.flat[:6] = [0.0, -0.0, 3.0, -3.0, 0.5, -1.0]  # kinks too
    return x.astype(dtype)


@pytest.fixture(params=["dask", "cubed"])
def engine(request):
    """``(from_numpy, layer_count)`` of a chunked engine: an array of NumPy
    chunks of 10 rows, and the number of operations in a result's graph."""
    if request.param == "dask":
        da = pytest.importorskip("dask.array", reason="needs Dask (the dask extra)")

        def from_numpy(host):
            return da.from_array(host, chunks=(10, *host.shape[1:]))

        return from_numpy, lambda y: len(y.dask.layers)
    cubed = pytest.importorskip("cubed", reason="needs Cubed (the cubed extra)")

    def from_numpy_cubed(host):
        return cubed.from_array(host, chunks=(10, *host.shape[1:]))

    return from_numpy_cubed, lambda y: y.plan().num_primitive_ops


def _forward_and_backward(case, x, d):
    layer = LAYER_OF[case.name](**case.kwargs)
    return layer(x), layer.backward(d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_chunks_take_the_numpy_path_bit_for_bit(engine, case, dtype):
    from_numpy, operations = engine
    host = _host(dtype)
    upstream = _host(dtype)[::-1].copy()
    lazy = _forward_and_backward(case, from_numpy(host), from_numpy(upstream))
    eager = _forward_and_backward(case, host, upstream)
    source = operations(from_numpy(host))
    # one mapped operation over the chunks: the value maps x, the backward
    # maps x, the value and the gradient (no composed graph)
    assert operations(lazy[0]) <= source + 1, case.id
    assert operations(lazy[1]) <= 3 * source + 2, case.id
    for ours, reference in zip(lazy, eager, strict=True):
        assert ours.dtype == reference.dtype
        np.testing.assert_array_equal(np.asarray(ours.compute()), reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_rows_in_one_chunk_take_the_numpy_path_bit_for_bit(engine, name, dtype):
    from_numpy, operations = engine
    host = _host(dtype)
    kwargs = {} if name == "softmin" else {"where": host > -4}
    masks = {} if name == "softmin" else {"where": from_numpy(host > -4)}
    lazy = getattr(xact, name)(from_numpy(host), **masks)
    assert operations(lazy) <= 2 * operations(from_numpy(host)) + 1
    np.testing.assert_array_equal(
        np.asarray(lazy.compute()), getattr(xact, name)(host, **kwargs)
    )
    # the layer's backward: one mapped operation over the output and gradient
    upstream = _host(dtype)[::-1].copy()
    lazy_layer, eager_layer = LAYER_OF[name](), LAYER_OF[name]()
    lazy_layer(from_numpy(host))
    eager_layer(host)
    backward = lazy_layer.backward(from_numpy(upstream))
    np.testing.assert_array_equal(
        np.asarray(backward.compute()), eager_layer.backward(upstream)
    )


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_in_one_chunk_takes_the_numpy_path(engine, dtype, keepdims):
    from_numpy, _ = engine
    host = _host(dtype)
    lazy = xact.logsumexp(from_numpy(host), keepdims=keepdims)
    expected = xact.logsumexp(host, keepdims=keepdims)
    assert tuple(lazy.shape) == expected.shape
    np.testing.assert_array_equal(np.asarray(lazy.compute()), expected)


def test_an_axis_across_chunks_takes_the_generic_path(engine):
    from_numpy, _ = engine
    host = _host(np.float64)
    lazy = xact.softmax(from_numpy(host), axis=0)  # rows of 10: 4 chunks
    np.testing.assert_allclose(
        np.asarray(lazy.compute()), xact.softmax(host, axis=0), rtol=1e-14
    )


def test_dask_computes_nothing_until_asked():
    da = pytest.importorskip("dask.array", reason="needs Dask (the dask extra)")
    import dask

    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    host = _host(np.float64)
    meta = np.empty((0, 0))
    x = da.from_array(host, chunks=(10, 25)).map_blocks(counted, meta=meta)
    layer = xact.GELU()
    y = layer(x)
    dx = layer.backward(da.ones_like(x))
    s = xact.softmax(x)
    assert calls == []  # nothing computed while the graph was built
    with dask.config.set(scheduler="synchronous"):
        dask.compute(y, dx, s)
    assert calls


def test_a_two_process_dask_cluster_runs_the_kernels():
    distributed = pytest.importorskip(
        "distributed", reason="needs dask.distributed (the test extra)"
    )
    da = pytest.importorskip("dask.array", reason="needs Dask (the dask extra)")
    host = _host(np.float64, (4000, 25))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        x = da.from_array(host, chunks=(1000, 25))
        layer = xact.SiLU()
        y, dx, s = client.compute([layer(x), layer.backward(x), xact.softmax(x)])
        np.testing.assert_array_equal(y.result(), xact.silu(host))
        eager = xact.SiLU()
        eager(host)
        np.testing.assert_array_equal(dx.result(), eager.backward(host))
        np.testing.assert_array_equal(s.result(), xact.softmax(host))


def test_chunks_that_do_not_line_up_take_the_composed_graph():
    # Dask maps blocks of equal counts without aligning them: a gradient in
    # other chunks came back with the wrong shape
    da = pytest.importorskip("dask.array", reason="needs Dask (the dask extra)")
    host = np.linspace(-3.0, 3.0, 24).reshape(6, 4)
    x = da.from_array(host, chunks=((1, 5), (4,)))
    d = da.from_array(np.ones((6, 4)), chunks=((5, 1), (4,)))
    for name in ("gelu", "softmax"):
        lazy, eager = LAYER_OF[name](), LAYER_OF[name]()
        lazy(x)
        eager(host)
        result = np.asarray(lazy.backward(d).compute())
        assert result.shape == (6, 4)
        np.testing.assert_allclose(result, eager.backward(np.ones((6, 4))), rtol=1e-14)
    mask = da.from_array(host > 0, chunks=((3, 3), (4,)))
    np.testing.assert_allclose(
        np.asarray(xact.softmax(x, where=mask).compute()),
        xact.softmax(host, where=host > 0),
        rtol=1e-14,
    )
