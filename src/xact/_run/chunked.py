"""The chunked engines, Dask and Cubed: xact's NumPy path per chunk.

A Dask or Cubed array of NumPy chunks is not computed by composing the Array
API math into a graph (gelu was 121 Cubed operations and 9.3 GB of
intermediates); each chunk goes through what xact runs on a NumPy array,
the compiled kernels where they serve, by ``map_blocks`` of a module-level
function with plain arguments (a task pickles for ``dask.distributed``).
The result stays lazy, and on the same CPU its bits are NumPy's on the same
data. Inside a task xact's thread pool runs one thread: the engine already
runs a task per core.

- Elementwise values and derivatives map every chunk, where a kernel serves
  the function, parameters and dtype.
- The softmax family and logsumexp map the chunks when the axis lies in one
  chunk (``numblocks[axis] == 1``); otherwise the generic path runs (a
  Cubed rechunk writes to disk, and a Dask rechunk fails on unknown chunk
  sizes).

Chunks of other libraries (CuPy under Dask) take the generic path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._namespace import Array, Namespace, is_dask

__all__ = [
    "is_chunked",
    "map_chunks",
    "numpy_chunks",
    "reduce_block",
    "rows_block",
    "rows_vjp_block",
    "value_block",
    "vjp_block",
]


def is_chunked(xp: Namespace) -> bool:
    """Dask or Cubed."""
    return is_dask(xp) or getattr(xp, "__name__", "") == "cubed"


def numpy_chunks(xp: Namespace, *arrays: Array | None) -> bool:
    """Whether every array is a Dask or Cubed array of NumPy chunks, all in
    the same chunks (Dask maps blocks of equal counts without aligning
    them; an unknown size, NaN, never counts as equal)."""
    present = [a for a in arrays if a is not None]
    if not is_chunked(xp):
        return False
    if is_dask(xp) and not all(type(a._meta) is np.ndarray for a in present):
        return False
    return all(a.chunks == present[0].chunks for a in present[1:])


def map_chunks(
    xp: Namespace,
    block: Any,
    arrays: tuple[Array, ...],
    dtype: Any,
    *,
    reduced: int | None = None,
    keepdims: bool = False,
    **kwargs: Any,
) -> Array:
    """``block`` over the chunks of ``arrays`` (Dask or Cubed), with its
    dtype and, for Dask, its meta given; ``reduced``: the axis each block
    reduces (kept with length 1, or dropped)."""
    options: dict[str, Any] = {"dtype": dtype}
    ndim = arrays[0].ndim
    if reduced is not None and keepdims:
        chunks = list(arrays[0].chunks)
        chunks[reduced] = (1,)
        options["chunks"] = tuple(chunks)
    elif reduced is not None:
        options["drop_axis"] = reduced
        ndim -= 1
    if is_dask(xp):
        import dask.array as da

        meta = np.empty((0,) * ndim, dtype=dtype)
        return da.map_blocks(block, *arrays, meta=meta, **options, **kwargs)  # type: ignore[no-untyped-call]
    import cubed

    if any(a.chunks != arrays[0].chunks for a in arrays):
        # Cubed maps blocks of equal chunks only (a rechunk writes to disk)
        raise ValueError("xact: arrays of different chunks")
    return cubed.map_blocks(block, *arrays, **options, **kwargs)


# --- the functions each task runs (module level: they pickle) ---------------


def value_block(
    x: np.ndarray, *, function: str, math: Any, params: tuple[Any, ...]
) -> Any:
    """One chunk's values: what xact computes for a NumPy array (its kernel
    where one serves), on the task's thread."""
    from . import fast

    with fast.one_thread():
        return fast.value(fast.numpy_namespace(), function, math, x, dict(params))


def vjp_block(
    x: np.ndarray,
    y: np.ndarray,
    d: np.ndarray,
    *,
    function: str,
    vjp: Any,
    params: tuple[Any, ...],
) -> Any:
    """One chunk's vector-Jacobian product, as for a NumPy array."""
    from . import fast

    with fast.one_thread():
        xp = fast.numpy_namespace()
        return fast.vjp(xp, function, vjp, x, y, d, dict(params))


def rows_block(x: np.ndarray, *mask: np.ndarray, function: str, axis: int) -> Any:
    """The softmax family along ``axis``, which lies whole in the chunk: what
    xact computes for a NumPy array."""
    from . import fast

    with fast.one_thread():
        return fast.rows(
            fast.numpy_namespace(), function, x, mask[0] if mask else None, axis
        )


def rows_vjp_block(
    y: np.ndarray, d: np.ndarray, *, function: str, vjp: Any, axis: int
) -> Any:
    """The softmax family's backward pass along ``axis``, whole in the chunk."""
    from . import fast

    with fast.one_thread():
        return fast.rows_vjp(fast.numpy_namespace(), function, vjp, None, y, d, axis)


def reduce_block(x: np.ndarray, *, axis: int, keep: bool) -> Any:
    """logsumexp along ``axis``, which lies whole in the chunk."""
    from . import fast

    with fast.one_thread():
        return fast.logsumexp_rows(fast.numpy_namespace(), x, axis, keep)
