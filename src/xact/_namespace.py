"""Namespace resolution and input coercion: the one place that knows array-api-compat.

Every public function starts with :func:`resolve`, which returns the caller's
array namespace ``xp`` and the inputs as floating arrays of that namespace.
Nothing else in xact imports ``array_api_compat``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from types import ModuleType
from typing import Any

import array_api_compat as _compat
import numpy as np

Array = Any
Namespace = Any

__all__ = [
    "Array",
    "Namespace",
    "array_device",
    "as_namespace",
    "clip",
    "compute_dtype",
    "default_float",
    "ensure_array",
    "finfo_of",
    "in_compute_dtype",
    "is_cupy",
    "is_dask",
    "is_jax",
    "is_lazy",
    "is_numpy",
    "is_strict",
    "is_torch",
    "is_traced",
    "mean_or_nan",
    "namespace_of",
    "namespace_of_array",
    "narrowed",
    "outside_traces",
    "resolve",
    "resolve_one",
    "rounding_barrier",
    "shape_of",
    "to_host",
]

is_numpy = _compat.is_numpy_namespace
is_cupy = _compat.is_cupy_namespace
is_torch = _compat.is_torch_namespace
is_jax = _compat.is_jax_namespace
is_dask = _compat.is_dask_namespace
is_strict = _compat.is_array_api_strict_namespace
array_device = _compat.device

_NOT_AN_ARRAY = object()
_NAMESPACE_BY_TYPE: dict[type, Namespace] = {}


def _namespace_of(x: object) -> Namespace | None:
    """The namespace of an array, None for a Python number or sequence, or
    ``_NOT_AN_ARRAY``. Cached per type, so a call costs one dict look-up."""
    cls = type(x)
    xp = _NAMESPACE_BY_TYPE.get(cls)
    if xp is not None:
        return xp
    if isinstance(x, (list, tuple, bool, int, float, np.generic)):
        return None
    try:
        xp = _own(_compat.array_namespace(x))
    except TypeError:
        return _NOT_AN_ARRAY
    _NAMESPACE_BY_TYPE[cls] = xp
    return xp


def _own(xp: Namespace) -> Namespace:
    """The namespace xact computes with: array-api-compat's, except for
    torch (:class:`_TorchNamespace`)."""
    return _TORCH if xp.__name__ == "array_api_compat.torch" else xp


class _TorchNamespace:
    """array-api-compat's torch namespace, whose two-argument functions take
    a Python number as a 0-d tensor of the other argument's dtype. The
    compat functions ask ``torch.result_type`` first, which torch.compile
    cannot trace: every ``xp.maximum(v, 0.0)`` was a graph break. Made when
    xact is imported, so that a trace only looks it up."""

    __name__ = "array_api_compat.torch"

    def __getattr__(self, name: str) -> Any:
        value = getattr(_compat_torch(), name)
        setattr(self, name, value)  # the next look-up is a plain attribute
        return value

    def __repr__(self) -> str:
        return "<xact's array_api_compat.torch>"

    def __reduce__(self) -> str:
        return "_TORCH"  # pickled and copied as the one instance

    def maximum(self, x1: Any, x2: Any, /) -> Array:
        return _compat_torch().maximum(*_as_tensors(x1, x2))

    def minimum(self, x1: Any, x2: Any, /) -> Array:
        return _compat_torch().minimum(*_as_tensors(x1, x2))

    def hypot(self, x1: Any, x2: Any, /) -> Array:
        return _compat_torch().hypot(*_as_tensors(x1, x2))


def _compat_torch() -> Namespace:
    from array_api_compat import torch as compat_torch

    return compat_torch


def _as_tensors(x1: Any, x2: Any) -> tuple[Any, Any]:
    """A Python number beside a floating tensor, as a 0-d tensor of its dtype
    and device (the standard's promotion of a scalar)."""
    import torch

    if type(x2) in (int, float) and _is_floating_tensor(x1):
        x2 = torch.asarray(x2, dtype=x1.dtype, device=x1.device)
    elif type(x1) in (int, float) and _is_floating_tensor(x2):
        x1 = torch.asarray(x1, dtype=x2.dtype, device=x2.device)
    return x1, x2


def _is_floating_tensor(x: object) -> bool:
    import torch

    return isinstance(x, torch.Tensor) and x.is_floating_point()


_TORCH = _TorchNamespace()


def namespace_of(x: object) -> Namespace | None:
    """The namespace of array ``x``; None for Python numbers, sequences and
    anything else that is not an array of a supported library."""
    xp = _namespace_of(x)
    return None if xp is _NOT_AN_ARRAY else xp


def namespace_of_array(x: Array) -> Namespace:
    """The namespace of an array xact created (an internal invariant)."""
    xp = _namespace_of(x)
    if xp is None or xp is _NOT_AN_ARRAY:
        raise TypeError(f"xact: expected an array, got {type(x).__name__}")
    return xp


def _type_names(values: Sequence[object]) -> str:
    return ", ".join(f"{type(v).__module__}.{type(v).__qualname__}" for v in values)


def resolve(
    fname: str, *values: object, floating: bool = True
) -> tuple[Namespace, list[Array]]:
    """Resolve the namespace of ``values`` and return them as floating arrays.

    Arrays keep their library and device. Python scalars and sequences are
    converted with NumPy (unless an array of another library is also given, in
    which case they join that library). Integer and boolean arrays become the
    namespace's default real floating dtype; complex input is a ``TypeError``.
    """
    namespaces: list[Namespace] = []
    for value in values:
        xp = _namespace_of(value)
        if xp is _NOT_AN_ARRAY:
            raise TypeError(
                f"xact.{fname}: expected an array, a Python number or a sequence "
                f"of numbers, got {_type_names([value])}"
            )
        if xp is not None and all(xp is not other for other in namespaces):
            namespaces.append(xp)
    if len(namespaces) > 1:
        arrays = [v for v in values if _namespace_of(v) is not None]
        raise TypeError(
            f"xact.{fname}: arrays from different libraries in one call "
            f"({_type_names(arrays)}); convert them to one library first"
        )
    xp = namespaces[0] if namespaces else _namespace_of(np.empty(0))
    device = None
    for value in values:
        if _namespace_of(value) is not None:
            device = array_device(value)
            break
    arrays = [_as_float_array(fname, xp, value, device, floating) for value in values]
    return xp, arrays


def resolve_one(fname: str, x: object) -> tuple[Namespace, Array]:
    """:func:`resolve` for a single input."""
    xp, (array,) = resolve(fname, x)
    return xp, array


def _as_float_array(
    fname: str, xp: Namespace, value: Any, device: Any, floating: bool = True
) -> Array:
    if _namespace_of(value) is None:
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"xact.{fname}: cannot convert input to an array: {error}"
            ) from error
        if value.dtype == object or value.dtype.kind in "USV":
            raise TypeError(
                f"xact.{fname}: expected numbers, got an array of dtype {value.dtype}"
            )
        if not is_numpy(xp):
            value = xp.asarray(value, device=device)
        else:
            value = xp.asarray(value)
    if is_numpy(xp):
        value = _native_numpy(fname, value)
    dtype = value.dtype
    if xp.isdtype(dtype, "real floating"):
        return value
    if not floating and xp.isdtype(dtype, ("integral", "bool")):
        return value
    if xp.isdtype(dtype, "complex floating"):
        raise TypeError(
            f"xact.{fname}: expected a real floating or integer array, got {dtype}"
        )
    if xp.isdtype(dtype, ("integral", "bool")):
        return xp.astype(value, default_float(xp, array_device(value)))
    raise TypeError(f"xact.{fname}: unsupported dtype {dtype}")


def _native_numpy(fname: str, value: Any) -> Any:
    """A plain NumPy array in native byte order: ``np.matrix`` is computed as
    the ndarray it holds (its ``*`` is a matrix product), big-endian input as
    native; a masked array (whose mask no function could honour the same way
    everywhere) and long double (whose precision xact does not reach) are a
    TypeError."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"xact.{fname}: masked arrays are not supported; pass "
            f"x.filled(value) for the masked entries, or x.data"
        )
    if type(value) is not np.ndarray:
        value = np.asarray(value)  # a subclass (np.matrix) as its ndarray
    dtype = value.dtype
    if dtype.kind == "f" and dtype.itemsize > 8:
        raise TypeError(
            f"xact.{fname}: long double ({dtype}) is not supported: xact computes "
            f"to float64 precision at most; convert with .astype(numpy.float64)"
        )
    if not dtype.isnative:
        return value.astype(dtype.newbyteorder("="))
    return value


def ensure_array(xp: Namespace, result: Array) -> Array:
    """NumPy ufuncs turn 0-d arrays into scalars; xact always returns arrays."""
    if is_numpy(xp) and not isinstance(result, np.ndarray):
        return np.asarray(result)
    return result


def asarray_as(xp: Namespace, values: Any, dtype: Any, device: Any = None) -> Array:
    """``xp.asarray(values, dtype=dtype, device=device)`` in exactly ``dtype``.

    Cubed's ``asarray`` (0.27) keeps the dtype of an array it is given and
    ignores ``dtype``; the cast after it makes up for that.
    """
    array = xp.asarray(values, dtype=dtype, device=device)
    return array if array.dtype == dtype else xp.astype(array, dtype)


def to_host(x: Array) -> np.ndarray:
    """A NumPy copy of an array of any library (computes a Dask array).

    For moving parameters between libraries and for printing, never inside
    the math.
    """
    if hasattr(x, "compute"):
        x = x.compute()
    module = type(x).__module__
    if module.startswith("torch"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # NumPy has none: float32 holds it
            x = x.float()
        return x.numpy()  # type: ignore[no-any-return]
    if module.startswith("cupy"):
        return x.get()  # type: ignore[no-any-return]
    if module.startswith("array_api_strict"):
        import array_api_strict

        cpu = array_api_strict.Device("CPU_DEVICE")
        return np.from_dlpack(x.to_device(cpu))
    return np.asarray(x)


def shape_of(x: Array) -> tuple[int | None, ...]:
    """``x.shape`` with unknown lengths (Dask's NaN after boolean indexing)
    as None, so that two unknown lengths compare equal."""
    return tuple(None if d is None or d != d else int(d) for d in x.shape)


def clip(xp: Namespace, x: Array, low: float | None, high: float | None) -> Array:
    """``xp.clip``; on Dask composed of ``maximum`` and ``minimum`` (the
    compat layer's Dask clip fails on unknown chunk sizes). NaN propagates."""
    if not is_dask(xp):
        return xp.clip(x, low, high)
    if low is not None:
        x = xp.maximum(x, low)
    return x if high is None else xp.minimum(x, high)


def mean_or_nan(xp: Namespace, x: Array) -> Array:
    """The mean of all of ``x`` as a 0-d array; NaN for an empty ``x``, as
    NumPy and PyTorch give, but without NumPy's warning."""
    if x.shape and 0 in x.shape:  # a static shape: no data-dependent branch
        return xp.full((), xp.nan, dtype=x.dtype, device=array_device(x))
    return ensure_array(xp, xp.mean(x))


def default_float(xp: Namespace, device: Any = None) -> Any:
    """The namespace's default real floating dtype on ``device``."""
    info = xp.__array_namespace_info__()
    return info.default_dtypes(device=device)["real floating"]


def in_compute_dtype(
    xp: Namespace, *arrays: Array
) -> tuple[list[Array], Callable[[Array], Array]]:
    """Half precision is computed in float32: ``arrays`` in the dtype to
    compute in (that of the first decides), and the function that rounds a
    result back to the first's dtype (returning an array, never a scalar)."""
    dtype = arrays[0].dtype
    work = compute_dtype(xp, dtype)
    if work == dtype:
        return list(arrays), lambda result: ensure_array(xp, result)
    widened = [xp.astype(a, work) for a in arrays]
    return widened, lambda result: ensure_array(xp, xp.astype(result, dtype))


def compute_dtype(xp: Namespace, dtype: Any) -> Any:
    """The dtype to compute in: float32 for half precision, else ``dtype`` itself."""
    if finfo_of(xp, dtype).bits < 32:
        return xp.float32
    return dtype


@lru_cache(maxsize=64)
def _finfo_cached(xp: Namespace, dtype: Any) -> Any:
    return xp.finfo(dtype)


def finfo_of(xp: Namespace, dtype: Any) -> Any:
    """``xp.finfo(dtype)``, cached (finfo is a hot call on some libraries)."""
    try:
        return _finfo_cached(xp, dtype)
    except TypeError:  # unhashable dtype object
        return xp.finfo(dtype)


def rounding_barrier(xp: Namespace, x: Array) -> Array:
    """``x``, hidden from compiler simplification on backends that would
    otherwise fold an error-free transformation away.

    Under ``jax.jit`` XLA rewrites ``(1 + c) - 1`` to ``c``, which turns TwoSum's
    rounding error into 0; ``jax.lax.optimization_barrier`` keeps the rounded
    sum as computed. Elsewhere it is the identity.
    """
    if is_jax(xp):
        import jax

        return jax.lax.optimization_barrier(x)  # type: ignore[no-untyped-call]
    return x


def narrowed(xp: Namespace, x: Array, dtype: Any) -> Array:
    """``x`` rounded once to the narrower ``dtype``; magnitudes beyond its
    range become ±inf (the correct rounding) without NumPy's overflow
    warning."""
    if is_numpy(xp):
        with np.errstate(over="ignore"):
            return x.astype(dtype)
    return xp.astype(x, dtype)


def is_lazy(xp: Namespace, x: object) -> bool:
    """Whether the values of ``x`` cannot be read without computing a graph
    or are not there at all: Dask and Cubed arrays, JAX tracers."""
    return is_dask(xp) or getattr(xp, "__name__", "") == "cubed" or is_traced(x)


def is_traced(x: object) -> bool:
    """Whether ``x`` is a JAX tracer (inside ``jax.jit``, ``grad``, ``vmap``):
    a value that exists only while a function is being traced."""
    jax_core = _loaded_jax_core()
    return jax_core is not None and isinstance(x, jax_core.Tracer)


def _loaded_jax_core() -> Any:
    import sys

    if "jax" not in sys.modules:  # never import JAX for a check
        return None
    import jax

    return jax.core


@contextmanager
def outside_traces(xp: Namespace) -> Iterator[None]:
    """A block whose arrays are concrete even while JAX traces a function
    (a layer placing its parameters on first use must not keep a tracer)."""
    if is_jax(xp):
        import jax

        with jax.ensure_compile_time_eval():
            yield
    else:
        yield


def log_smallest_normal(xp: Namespace, dtype: Any) -> float:
    """log of the smallest positive normal number of ``dtype``."""
    return math.log(float(finfo_of(xp, dtype).smallest_normal))


_MODULE_ALIASES = {
    "numpy": "numpy",
    "cupy": "cupy",
    "torch": "torch",
    "jax.numpy": "jax.numpy",
    "jax": "jax.numpy",
    "dask.array": "dask.array",
    "array_api_strict": "array_api_strict",
    "cubed": "cubed",
}


def as_namespace(module: ModuleType | Namespace) -> Namespace:
    """Turn a module users import (``numpy``, ``torch``, ...) into its namespace.

    An array-api-compat namespace is returned unchanged.
    """
    import importlib

    name = getattr(module, "__name__", "")
    if name.startswith("array_api_compat."):
        return _own(module)
    if name not in _MODULE_ALIASES:
        raise TypeError(f"xact: {module!r} is not a supported array namespace")
    bare = importlib.import_module(_MODULE_ALIASES[name])
    return _own(
        _compat.array_namespace(bare.zeros(0) if name != "numpy" else np.empty(0))
    )
