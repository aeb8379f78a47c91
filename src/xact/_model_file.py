"""The model file format: safetensors, the parameters as tensors and the
architecture as JSON in the metadata. Written by :meth:`Sequential.save`,
read by :func:`xact.load` (:mod:`xact.saving`); it knows the layer classes,
not the model, so that neither of those modules imports the other's user.

Reading trusts nothing in the file. The safetensors header is parsed and
checked here (its JSON, every tensor's dtype, shape and byte range), then the
architecture (every field's type, each layer's class and options), then the
tensors against the architecture (names, shapes, dtypes), all before a layer
is built: a layer is built only from a config its tensors agree with, so no
allocation exceeds what the file holds. Anything wrong is one ``ValueError``
naming ``xact.load``, the path and what is wrong.

Writing never loses the old file: the bytes are written to a temporary file
in the same folder, flushed to disk, and renamed over the target.
"""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import secrets
import stat
from contextlib import suppress
from typing import Any

import numpy as np

from ._namespace import to_host
from .dense import INITIALIZERS, Dense
from .layers import LAYERS

__all__ = ["CLASSES", "FORMAT", "SUFFIX", "VERSION", "read", "with_suffix", "write"]

FORMAT = "xact.Sequential"
VERSION = 1
SUFFIX = ".safetensors"
CLASSES: dict[str, Any] = {"Dense": Dense, **LAYERS}

# the tensor dtypes xact reads (little-endian, as safetensors stores them)
DTYPES: dict[str, np.dtype[Any]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
# an xact header is a few KB (a tensor ~100 bytes, a layer ~80); safetensors
# allows 100 MB, which would take xact seconds and ~10x that to parse
HEADER_LIMIT = 8_000_000
# more layers than any model has; each distinct (class, config) is
# validated once
LAYER_LIMIT = 10_000
# NumPy's limit on dimensions, and a bound on each before any product
MAX_DIMENSIONS = 64


def with_suffix(path: str | os.PathLike[str]) -> str:
    """``path`` with ``.safetensors`` added where its name has no suffix."""
    fspath = os.fspath(path)
    return fspath if os.path.splitext(fspath)[1] else fspath + SUFFIX


def safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise ImportError(
            "xact: saving and loading models needs safetensors "
            "(pip install safetensors)"
        ) from error
    return safetensors


# --- writing -------------------------------------------------------------------


def write(
    layers: list[Any], state: dict[str, Any], path: str | os.PathLike[str]
) -> str:
    """Write the ``layers`` (xact layers, rebuilt from their class and
    config) and their parameters ``state`` to ``path`` (``.safetensors``
    added where it has no suffix), replacing any file there only once the
    new one is whole; the path written."""
    fspath = with_suffix(path)
    folder = os.path.dirname(os.path.abspath(fspath))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            errno.ENOENT, f"xact.save: no folder {folder!r} to write into", fspath
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, f"xact.save: the folder {folder!r} is not writable", fspath
        )
    described = []
    for index, layer in enumerate(layers):
        name = type(layer).__name__
        if CLASSES.get(name) is not type(layer):
            raise TypeError(
                f"xact.Sequential.save: layer {index} ({name}) is not an xact "
                f"layer, so the file could not rebuild it"
            )
        described.append({"class": name, "config": layer.config()})
    architecture = {"format": FORMAT, "version": VERSION, "layers": described}
    tensors = {key: _host_tensor(key, value) for key, value in state.items()}
    try:
        text = json.dumps(architecture, default=_plain_number, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"xact.Sequential.save: a layer's options cannot be written as "
            f"JSON ({error})"
        ) from None
    data = safetensors().numpy.save(tensors, metadata={"xact": text})
    _replace(fspath, folder, data)
    return fspath


def _plain_number(value: Any) -> Any:
    """A NumPy scalar option (``negative_slope=np.float32(0.2)``) as the
    Python number it holds."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a number")


def _host_tensor(key: str, value: Any) -> np.ndarray:
    if "bfloat16" in str(value.dtype):
        # NumPy, safetensors' writer here, has no bfloat16: refuse rather
        # than widen it silently
        raise TypeError(
            f"xact.Sequential.save: parameter {key!r} is bfloat16, which the "
            f"file format's NumPy writer cannot hold; save a float32 copy "
            f"(model.to(dtype=...float32)) and convert back after loading"
        )
    return np.ascontiguousarray(to_host(value))


def _replace(fspath: str, folder: str, data: bytes) -> None:
    """Write ``data`` to a new file in ``folder``, flush it to disk, and
    rename it over ``fspath`` (atomic on POSIX and Windows): a crash leaves
    the old file or the new one, never a part."""
    temporary = os.path.join(
        folder, f".{os.path.basename(fspath)}.{secrets.token_hex(6)}.tmp"
    )
    # mode 0o666 less the umask, as a plain open() would make the file
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with suppress(FileNotFoundError):  # a file replaced keeps its mode
            os.chmod(temporary, stat.S_IMODE(os.stat(fspath).st_mode))
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, fspath)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


# --- reading -------------------------------------------------------------------


class _Refused(Exception):
    """What is wrong with a file (becomes the ValueError of xact.load)."""


def read(path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> list[Any]:
    """The layers, with their parameters, of the model file at ``path``
    (with ``.safetensors`` added where it has no suffix), every part checked."""
    fspath = with_suffix(path)
    try:
        data = _read_regular_file(fspath)
        specs, start = _header(data)
        layers = _architecture(specs.pop("__metadata__", None))
        _check_tensors(layers, specs)
        state = {name: _tensor(data, start, name, spec) for name, spec in specs.items()}
        if not allow_nonfinite:
            _check_finite(state)
        built: dict[str, Any] = {}
        return [_build(index, spec, state, built) for index, spec in enumerate(layers)]
    except _Refused as problem:
        raise ValueError(f"xact.load: {fspath}: {problem}") from None


def _read_regular_file(fspath: str) -> bytes:
    """The bytes of a regular file (a FIFO would block, /dev/zero never
    ends); FileNotFoundError and PermissionError as ``open`` raises them."""
    descriptor = os.open(fspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise _Refused("not a regular file")
    with os.fdopen(descriptor, "rb") as file:
        return file.read(status.st_size)


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors header, its tensors checked; and where the data starts."""
    if len(data) < 8:
        raise _Refused(f"not a safetensors file ({len(data)} bytes)")
    size = int.from_bytes(data[:8], "little")
    if size > min(len(data) - 8, HEADER_LIMIT):
        raise _Refused(
            f"not a safetensors file (a header of {size} bytes in a file "
            f"of {len(data)})"
        )
    header = _json(data[8 : 8 + size], "the safetensors header")
    if not isinstance(header, dict):
        raise _Refused("not a safetensors file (its header is not a JSON object)")
    room = len(data) - 8 - size
    ranges = []
    for name, spec in header.items():
        if name != "__metadata__":
            _check_spec(name, spec, room)
            ranges.append((*spec["data_offsets"], name))
    # the tensors tile the data exactly, as safetensors writes them: none
    # shares bytes with another (one blob read as many tensors), none is
    # missing, nothing trails
    ranges.sort()
    end = 0
    for begin, stop, name in ranges:
        if begin != end:
            raise _Refused(
                f"tensor {name!r} starts at byte {begin} of the data, expected {end} "
                f"(tensors overlap or leave a gap)"
            )
        end = stop
    if end != room:
        raise _Refused(f"{room - end} bytes after the last tensor")
    return header, 8 + size


def _json(text: bytes | str, what: str) -> Any:
    """Strict JSON: UTF-8 (no other encoding guessed), no key twice."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _Refused(f"{what} is not valid JSON ({str(error)[:200]})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a key appears twice")
    return result


def _natural(value: Any) -> bool:
    return type(value) is int and value >= 0


def _check_spec(name: str, spec: Any, room: int) -> None:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise _Refused(f"tensor {name!r} is not described by dtype, shape and offsets")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _Refused(
            f"tensor {name!r} is {dtype!r}; xact reads {', '.join(DTYPES)} "
            f"(save bfloat16 models as float32)"
        )
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(_natural(n) and n < 2**63 for n in shape)
    ):
        raise _Refused(f"tensor {name!r} has a shape that is not a list of sizes")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_natural(n) for n in offsets)
        or not offsets[0] <= offsets[1] <= room
    ):
        raise _Refused(
            f"tensor {name!r} has a byte range outside the file's {room} bytes of data"
        )
    given = offsets[1] - offsets[0]
    size = DTYPES[dtype].itemsize
    for n in shape:  # stops once past what the file gives: no huge product
        size *= n
        if size > given:
            break
    if size != given:
        raise _Refused(
            f"tensor {name!r} ({len(shape)} dimensions, {dtype}) needs "
            f"{'more than ' if size > given else ''}{size} bytes, the file "
            f"gives it {given}"
        )


def _architecture(metadata: Any) -> list[dict[str, Any]]:
    """The layers of the architecture in the metadata, each field checked."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("xact"), str):
        raise _Refused("not an xact model file (no 'xact' metadata)")
    if not all(isinstance(value, str) for value in metadata.values()):
        raise _Refused("its metadata holds a value that is not a string")
    architecture = _json(metadata["xact"], "the architecture ('xact' metadata)")
    if not isinstance(architecture, dict):
        raise _Refused("the architecture is not a JSON object")
    found = architecture.get("format"), architecture.get("version")
    if not (found[0] == FORMAT and type(found[1]) is int and found[1] == VERSION):
        raise _Refused(
            f"it holds format {str(found[0])[:40]} version {str(found[1])[:40]}; "
            f"this xact reads {FORMAT} version {VERSION}"
        )
    layers = architecture.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _Refused("the architecture has no list of 'layers', or an empty one")
    if len(layers) > LAYER_LIMIT:
        raise _Refused(f"{len(layers)} layers; xact reads at most {LAYER_LIMIT}")
    for index, spec in enumerate(layers):
        if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
            raise _Refused(f"layer {index} is not a 'class' and a 'config'")
        cls, config = spec["class"], spec["config"]
        if not isinstance(cls, str) or cls not in CLASSES:
            raise _Refused(
                f"layer {index} has unknown class {cls!r}; "
                f"known: {', '.join(sorted(CLASSES))}"
            )
        if not isinstance(config, dict):
            raise _Refused(f"layer {index} ({cls}) has config {config!r}")
        if cls == "Dense":
            _check_dense_config(index, config)
    return layers


def _check_dense_config(index: int, config: dict[str, Any]) -> None:
    unknown = set(config) - {"n_inputs", "n_neurons", "weight_init"}
    if unknown:
        raise _Refused(f"layer {index} (Dense) has unknown option(s) {sorted(unknown)}")
    for key in ("n_inputs", "n_neurons"):
        value = config.get(key)
        if type(value) is not int or value < 1:
            raise _Refused(f"layer {index} (Dense) has {key}={value!r}")
    weight_init = config.get("weight_init", "glorot_uniform")
    if not isinstance(weight_init, str) or weight_init not in INITIALIZERS:
        raise _Refused(f"layer {index} (Dense) has weight_init={weight_init!r}")


def _expected_tensors(layers: list[dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    """The tensors the architecture has, and their shapes."""
    expected: dict[str, tuple[int, ...]] = {}
    for index, spec in enumerate(layers):
        if spec["class"] == "Dense":
            n_inputs, n_neurons = (
                spec["config"]["n_inputs"],
                spec["config"]["n_neurons"],
            )
            expected[f"{index}.weights"] = (n_inputs, n_neurons)
            expected[f"{index}.biases"] = (1, n_neurons)
    return expected


def _check_tensors(layers: list[dict[str, Any]], specs: dict[str, Any]) -> None:
    expected = _expected_tensors(layers)
    missing, extra = expected.keys() - specs.keys(), specs.keys() - expected.keys()
    if missing or extra:
        raise _Refused(
            f"its tensors do not match its layers: missing "
            f"{sorted(missing) or 'none'}, extra {sorted(extra) or 'none'}"
        )
    for name, shape in expected.items():
        if tuple(specs[name]["shape"]) != shape:
            raise _Refused(
                f"tensor {name!r} has shape {tuple(specs[name]['shape'])}, "
                f"its layer expects {shape}"
            )
    for index, spec in enumerate(layers):
        if spec["class"] == "Dense":
            weights, biases = specs[f"{index}.weights"], specs[f"{index}.biases"]
            if weights["dtype"] != biases["dtype"]:
                raise _Refused(
                    f"layer {index} (Dense) has {weights['dtype']} weights and "
                    f"{biases['dtype']} biases"
                )


def _tensor(data: bytes, start: int, name: str, spec: dict[str, Any]) -> np.ndarray:
    begin, _ = spec["data_offsets"]
    dtype = DTYPES[spec["dtype"]]
    count = math.prod(spec["shape"])
    values = np.frombuffer(data, dtype=dtype, count=count, offset=start + begin)
    return values.reshape(spec["shape"]).astype(dtype.newbyteorder("="))


def _check_finite(state: dict[str, np.ndarray]) -> None:
    for name, value in state.items():
        bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        if bad:
            raise _Refused(
                f"tensor {name!r} has {bad} non-finite value(s) (NaN or inf): "
                f"a diverged run? xact.load(..., allow_nonfinite=True) loads it"
            )


def _build(
    index: int,
    spec: dict[str, Any],
    state: dict[str, np.ndarray],
    built: dict[str, Any],
) -> Any:
    """Layer ``index``: a Dense from its tensors; an activation layer built
    once per distinct class and config (its options are checked by a probe
    call) and copied for every other layer like it."""
    cls, config = CLASSES[spec["class"]], spec["config"]
    key = json.dumps([spec["class"], config], sort_keys=True)
    try:
        if cls is not Dense and key in built:
            return copy.deepcopy(built[key])
        with np.errstate(all="ignore"):  # a caller's seterr(all="raise")
            layer = cls(**config)
        if cls is Dense:
            layer.load_state_dict(
                {name: state[f"{index}.{name}"] for name in ("weights", "biases")}
            )
        else:
            built[key] = layer
    except (TypeError, ValueError, KeyError, ArithmeticError) as error:
        raise _Refused(f"layer {index} ({spec['class']}): {str(error)[:300]}") from None
    return layer
