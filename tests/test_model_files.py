"""Model files that cannot hurt: every hostile file is one ValueError naming
xact.load, the path and what is wrong, raised before any allocation larger
than the file's own tensors; saves never lose the old model.

A table of hostile files, one test each; the allocation bound in a child
process under RLIMIT_AS; a seeded fuzz test with a time limit
(``XACT_FUZZ_SECONDS``, default 4; ``XACT_FUZZ_SEED``); a save killed
mid-write; a file saved by an earlier xact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import xact

DATA = Path(__file__).parent / "data"
ARCHITECTURE = {"format": "xact.Sequential", "version": 1}


def _model(dtype="float64"):
    return xact.Sequential(
        [
            xact.Dense(2, 4, seed=1),
            xact.LeakyReLU(negative_slope=0.2),
            xact.Dense(4, 3, seed=2),
            xact.Softmax(),
        ]
    ).to(dtype=dtype)


def _file(tensors, metadata):
    """A safetensors file: the header (JSON, after its 8-byte length) and
    the data, written by hand so that any part can be wrong."""
    header, data, offset = {}, b"", 0
    for name, value in tensors.items():
        raw = np.ascontiguousarray(value).tobytes()
        dtype = {"float16": "F16", "float32": "F32", "float64": "F64"}.get(
            str(value.dtype), str(value.dtype)
        )
        header[name] = {
            "dtype": dtype,
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        data, offset = data + raw, offset + len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _architecture(layers, **fields):
    return {"xact": json.dumps({**ARCHITECTURE, "layers": layers, **fields})}


DENSE = {"class": "Dense", "config": {"n_inputs": 2, "n_neurons": 3}}
TENSORS = {"0.weights": np.ones((2, 3)), "0.biases": np.zeros((1, 3))}

# (id, the file's bytes, what the error says)
HOSTILE = [
    ("metadata-not-json", _file(TENSORS, {"xact": "{not json"}), "not valid JSON"),
    ("no-layers", _file(TENSORS, {"xact": json.dumps(ARCHITECTURE)}), "'layers'"),
    ("metadata-a-list", _file(TENSORS, {"xact": "[1, 2]"}), "not a JSON object"),
    (
        "class-a-list",
        _file({}, _architecture([{"class": ["Dense"], "config": {}}])),
        "unknown class",
    ),
    (
        "unknown-option",
        _file({}, _architecture([{"class": "ReLU", "config": {"evil": 1}}])),
        "unexpected option",
    ),
    (
        "dense-unknown-option",
        _file(
            TENSORS,
            _architecture(
                [{"class": "Dense", "config": {**DENSE["config"], "evil": 1}}]
            ),
        ),
        "unknown option",
    ),
    (
        "config-a-list",
        _file({}, _architecture([{"class": "ReLU", "config": [1]}])),
        "config",
    ),
    (
        "option-ill-typed",
        _file(
            {},
            _architecture([{"class": "LeakyReLU", "config": {"negative_slope": "x"}}]),
        ),
        "negative_slope",
    ),
    (
        "dense-1e6-by-1e6-beside-2x3",
        _file(
            TENSORS,
            _architecture(
                [{"class": "Dense", "config": {"n_inputs": 10**6, "n_neurons": 10**6}}]
            ),
        ),
        "shape",
    ),
    (
        "dense-size-not-an-int",
        _file(
            TENSORS,
            _architecture(
                [{"class": "Dense", "config": {"n_inputs": 2.0, "n_neurons": 3}}]
            ),
        ),
        "n_inputs",
    ),
    (
        "missing-tensor",
        _file({"0.weights": np.ones((2, 3))}, _architecture([DENSE])),
        "missing ['0.biases']",
    ),
    (
        "extra-tensor",
        _file({**TENSORS, "9.x": np.ones(1)}, _architecture([DENSE])),
        "extra ['9.x']",
    ),
    (
        "tensor-wrong-shape",
        _file(
            {"0.weights": np.ones((3, 2)), "0.biases": np.zeros((1, 3))},
            _architecture([DENSE]),
        ),
        "expects (2, 3)",
    ),
    (
        "tensor-integer",
        _file(
            {
                "0.weights": np.ones((2, 3), np.int32),
                "0.biases": np.zeros((1, 3), np.int32),
            },
            _architecture([DENSE]),
        ),
        "int32",
    ),
    (
        "mixed-dtypes",
        _file(
            {"0.weights": np.ones((2, 3)), "0.biases": np.zeros((1, 3), np.float32)},
            _architecture([DENSE]),
        ),
        "F64 weights and F32 biases",
    ),
    ("no-xact-metadata", _file(TENSORS, None), "not an xact model file"),
    ("another-version", _file(TENSORS, _architecture([DENSE], version=2)), "version 2"),
    ("empty-file", b"", "not a safetensors file"),
    (
        "a-pickle",
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",
        "not a safetensors file",
    ),
    ("truncated", _file(TENSORS, _architecture([DENSE]))[:-7], "outside the file's"),
    (
        "header-longer-than-file",
        (10**6).to_bytes(8, "little") + b"{}",
        "not a safetensors",
    ),
    ("header-not-utf8", (4).to_bytes(8, "little") + b"\xff\xfe{}", "not valid JSON"),
    (
        "nan-parameters",
        _file(
            {"0.weights": np.full((2, 3), np.nan), "0.biases": np.zeros((1, 3))},
            _architecture([DENSE]),
        ),
        "non-finite",
    ),
]


def test_a_bfloat16_tensor_in_a_file_is_refused_by_name(tmp_path):
    path = tmp_path / "m.safetensors"
    header = {
        "0.weights": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
        "0.biases": {"dtype": "BF16", "shape": [1, 3], "data_offsets": [12, 18]},
        "__metadata__": _architecture([DENSE]),
    }
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(18))
    with pytest.raises(ValueError, match=r"'0\.(weights|biases)' is 'BF16'"):
        xact.load(path)


def test_nonfinite_parameters_load_when_allowed(tmp_path):
    path = tmp_path / "m.safetensors"
    weights = np.ones((2, 3))
    weights[1, 2] = np.inf
    path.write_bytes(
        _file(
            {"0.weights": weights, "0.biases": np.zeros((1, 3))}, _architecture([DENSE])
        )
    )
    with pytest.raises(ValueError, match=r"'0\.weights' has 1 non-finite"):
        xact.load(path)
    model = xact.load(path, allow_nonfinite=True)
    assert np.isinf(model.layers[0].weights[1, 2])


def test_missing_file_and_permissions_keep_their_exceptions(tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        xact.load(tmp_path / "nowhere.safetensors")
    assert raised.value.filename == str(tmp_path / "nowhere.safetensors")
    with pytest.raises(FileNotFoundError, match="no folder"):
        _model().save(tmp_path / "missing" / "m.safetensors")
    if os.name == "posix" and os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            _model().save(locked / "m.safetensors")


def test_load_state_dict_keeps_its_exception_types():
    model = _model()
    with pytest.raises(KeyError):
        model.load_state_dict({"0.weights": np.ones((2, 4))})
    with pytest.raises(ValueError, match="shape"):
        model.layers[0].load_state_dict(
            {"weights": np.ones((3, 4)), "biases": np.ones((1, 4))}
        )


def test_save_adds_the_suffix_returns_the_path_and_load_applies_the_rule(tmp_path):
    model = _model()
    written = model.save(tmp_path / "model")
    assert written == str(tmp_path / "model.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    x = np.array([[0.5, -1.0]])
    np.testing.assert_array_equal(
        xact.load(tmp_path / "model").predict(x), model.predict(x)
    )
    assert model.save(tmp_path / "m.v2") == str(tmp_path / "m.v2")  # has a suffix


def test_bfloat16_parameters_are_refused_not_widened(tmp_path):
    torch = pytest.importorskip("torch", reason="bfloat16 tensors need PyTorch")
    model = _model().to(xp=torch, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"'0\.weights' is bfloat16"):
        model.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary


def test_a_file_saved_by_an_earlier_xact_still_loads():
    # saved by main at 189e5fa (format 1), before loading checked anything
    model = xact.load(DATA / "model_format_1.safetensors")
    x = np.array([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]])
    expected = np.load(DATA / "model_format_1_predictions.npy")
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-13)


def _raw(header, data):
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _dense_specs(index, n, begin, dtype="F64"):
    size = 8 * n * n
    return {
        f"{index}.weights": {
            "dtype": dtype,
            "shape": [n, n],
            "data_offsets": [begin, begin + size],
        },
        f"{index}.biases": {
            "dtype": dtype,
            "shape": [1, n],
            "data_offsets": [begin + size, begin + size + 8 * n],
        },
    }


DENSE_N = {"class": "Dense", "config": {"n_inputs": 50, "n_neurons": 50}}

# found by reviewing the loader: each was another exception, a slow load or
# an allocation far beyond the file
REVIEWED = [
    (
        "one-blob-read-as-many-tensors",
        _raw(
            {
                **{k: v for i in range(20) for k, v in _dense_specs(i, 50, 0).items()},
                "__metadata__": _architecture([DENSE_N] * 20),
            },
            bytes(8 * 50 * 51),
        ),
        "overlap",
    ),
    (
        "bytes-after-the-tensors",
        _file(TENSORS, _architecture([DENSE])) + bytes(64),
        "64 bytes after the last tensor",
    ),
    (
        "a-shape-of-4000-digits",
        _raw(
            {
                "w": {
                    "dtype": "F32",
                    "shape": [10**4000, 10**4000],
                    "data_offsets": [0, 4],
                }
            },
            bytes(4),
        ),
        "not a list of sizes",
    ),
    (
        "a-shape-of-many-large-sizes",
        _raw(
            {"w": {"dtype": "F32", "shape": [2**62] * 60, "data_offsets": [0, 4]}},
            bytes(4),
        ),
        "needs more than",
    ),
    (
        "too-many-layers",
        _file({}, _architecture([{"class": "GELU", "config": {}}] * 10_001)),
        "at most 10000",
    ),
    (
        "an-option-beyond-float64",
        _file({}, _architecture([{"class": "ELU", "config": {"alpha": 10**400}}])),
        "alpha must be finite",
    ),
    (
        "version-true",
        _file(TENSORS, _architecture([DENSE], version=True)),
        "version True",
    ),
    (
        "a-key-twice",
        _file(TENSORS, _architecture([DENSE])).replace(
            b'{"0.weights"', b'{"0.biases": 1, "0.weights"', 1
        ),
        "",  # the header length is off now too: any clear refusal
    ),
    (
        "metadata-not-strings",
        _file(TENSORS, {**_architecture([DENSE]), "other": 1}),
        "not a string",
    ),
]


# every row, the table and those the review found, one test each
@pytest.mark.parametrize(
    ("data", "what"),
    [row[1:] for row in HOSTILE + REVIEWED],
    ids=[row[0] for row in HOSTILE + REVIEWED],
)
def test_a_hostile_file_is_one_clear_value_error(tmp_path, data, what):
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"^xact\.load: ") as raised:
        xact.load(path)
    message = str(raised.value)
    assert message.startswith(f"xact.load: {path}: "), message
    assert what in message, message


def test_duplicate_keys_and_other_encodings_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    header = json.dumps(
        {"__metadata__": _architecture([{"class": "ReLU", "config": {}}])}
    )
    twice = header[:-1] + ', "__metadata__": {"xact": "{}"}}'
    for text in (twice.encode(), header.encode("utf-16")):
        path.write_bytes(len(text).to_bytes(8, "little") + text)
        with pytest.raises(ValueError, match="not valid JSON"):
            xact.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_pipe_a_device_or_a_folder_is_refused_without_reading(tmp_path):
    pipe = tmp_path / "pipe.safetensors"
    os.mkfifo(pipe)  # reading would wait for a writer forever
    zero = tmp_path / "zero.safetensors"
    zero.symlink_to("/dev/zero")  # reading would never end
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    for path in (pipe, zero, folder):
        with pytest.raises(ValueError, match="not a regular file"):
            xact.load(path)


def test_saving_numpy_scalar_options_and_keeping_the_file_mode(tmp_path):
    model = xact.Sequential(
        [
            xact.LeakyReLU(negative_slope=np.float32(0.25)),
            xact.Softmax(axis=np.int64(1)),
        ]
    )
    path = model.save(tmp_path / "m")
    os.chmod(path, 0o600)
    model.save(path)  # replaced: keeps its mode
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert (
        repr(xact.load(path))
        == "Sequential([LeakyReLU(negative_slope=0.25), Softmax(axis=1)])"
    )


def test_many_layers_of_one_kind_are_checked_once(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes(_file({}, _architecture([{"class": "GELU", "config": {}}] * 5000)))
    built = []
    original = xact.layers.LAYERS["GELU"].__init__

    def counting(self, **options):
        built.append(options)
        original(self, **options)

    monkeypatch.setattr(xact.layers.LAYERS["GELU"], "__init__", counting)
    model = xact.load(path)
    assert len(model.layers) == 5000
    assert len(built) == 1  # one probe, then copies
    assert len({id(layer) for layer in model.layers}) == 5000


# --- the allocation bound -----------------------------------------------------

CHILD_UNDER_A_LIMIT = """
import resource, sys
import numpy as np
import xact
pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * resource.getpagesize() + 256 * 2**20  # what is mapped + 256 MB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for path in sys.argv[1:]:
    try:
        model = xact.load(path)
        print("loaded", path, model.layers[0].weights.shape)
    except ValueError as error:
        print("refused", path, error)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux"
)
def test_hostile_files_are_refused_before_allocating_under_a_memory_limit(tmp_path):
    # tracemalloc does not see every allocation (safetensors' own, a
    # library's): the child runs with 256 MB of address space to spare
    hostile = tmp_path / "huge.safetensors"
    hostile.write_bytes(
        dict((row[0], row[1]) for row in HOSTILE)["dense-1e6-by-1e6-beside-2x3"]
    )
    lying = (
        tmp_path / "lying.safetensors"
    )  # config and shapes agree, the data is not there
    header = {
        "0.weights": {
            "dtype": "F64",
            "shape": [100_000, 100_000],
            "data_offsets": [0, 8 * 10**10],
        },
        "0.biases": {
            "dtype": "F64",
            "shape": [1, 100_000],
            "data_offsets": [8 * 10**10, 8 * 10**10 + 800_000],
        },
        "__metadata__": _architecture(
            [{"class": "Dense", "config": {"n_inputs": 100_000, "n_neurons": 100_000}}]
        ),
    }
    text = json.dumps(header).encode()
    lying.write_bytes(len(text).to_bytes(8, "little") + text + b"\0" * 64)
    fine = tmp_path / "fine.safetensors"  # 8 MB of parameters loads within the limit
    xact.Sequential([xact.Dense(1000, 1000, seed=0)]).save(fine)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD_UNDER_A_LIMIT,
            str(hostile),
            str(lying),
            str(fine),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"refused {hostile}"), lines
    assert lines[1].startswith(f"refused {lying}"), lines
    assert lines[2] == f"loaded {fine} (1000, 1000)", lines


# --- fuzzing ------------------------------------------------------------------

FUZZ_SECONDS = float(os.environ.get("XACT_FUZZ_SECONDS", "4"))
FUZZ_SEED = int(os.environ.get("XACT_FUZZ_SEED", "0"))
JUNK = [
    -1,
    0,
    1,
    3,
    2**31,
    2**63,
    10**12,
    1.5,
    float("nan"),
    "x",
    "",
    None,
    True,
    [],
    {},
    [1, 2],
    {"a": 1},
    "F32",
    "BF16",
    "I32",
    "Dense",
    "ReLU",
    "Softmax",
]


def _seeds(tmp_path):
    """Valid files to mutate: float16, float32 and float64 models, and one of
    activations only."""
    files = []
    for index, dtype in enumerate(["float16", "float32", "float64"]):
        path = _model(dtype).save(tmp_path / f"seed{index}")
        files.append(Path(path).read_bytes())
    path = xact.Sequential([xact.ReLU(), xact.ELU(alpha=0.5)]).save(tmp_path / "seed3")
    files.append(Path(path).read_bytes())
    return files


def _junk(rng):
    return JUNK[rng.integers(len(JUNK))]


def _mutate_json(rng, value):
    """``value`` with one part replaced by junk, a key added or removed."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = list(value)[rng.integers(len(value))]
        choice = rng.random()
        if choice < 0.15:
            return {k: v for k, v in value.items() if k != key}
        if choice < 0.3:
            return {**value, str(_junk(rng)): _junk(rng)}
        return {**value, key: _mutate_json(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = int(rng.integers(len(value)))
        copy = list(value)
        copy[index] = _mutate_json(rng, copy[index])
        return copy
    if isinstance(value, str) and value.startswith("{") and rng.random() < 0.9:
        return json.dumps(_mutate_json(rng, json.loads(value)))  # the architecture
    return _junk(rng)


def _mutate(rng, data):
    kind = rng.integers(4)
    if kind == 0:  # bytes overwritten anywhere
        mutated = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            mutated[int(rng.integers(len(mutated)))] = int(rng.integers(256))
        return bytes(mutated)
    if kind == 1:  # truncated
        return data[: int(rng.integers(len(data)))]
    if kind == 2:  # bytes inserted
        at = int(rng.integers(len(data)))
        return data[:at] + rng.bytes(int(rng.integers(1, 16))) + data[at:]
    size = int.from_bytes(data[:8], "little")  # the header, reparsed and changed
    header = json.loads(data[8 : 8 + size])
    text = json.dumps(_mutate_json(rng, header)).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def test_fuzzed_files_load_or_raise_one_value_error(tmp_path):
    rng = np.random.default_rng(FUZZ_SEED)
    seeds = _seeds(tmp_path)
    path = tmp_path / "fuzzed.safetensors"
    tried = loaded = 0
    reasons = {}
    deadline = time.monotonic() + FUZZ_SECONDS
    tracemalloc.start()
    try:
        while time.monotonic() < deadline:
            data = _mutate(rng, seeds[int(rng.integers(len(seeds)))])
            path.write_bytes(data)
            tracemalloc.reset_peak()
            refused = None
            try:
                model = xact.load(path, allow_nonfinite=bool(rng.integers(2)))
            except ValueError as error:
                refused = str(error)
            if refused is not None:
                assert refused.startswith(f"xact.load: {path}: "), refused
                reason = refused.split(": ", 2)[2][:40]
                reasons[reason] = reasons.get(reason, 0) + 1
            else:
                loaded += 1
                for layer in model.layers:  # built from the tensors it was given
                    if isinstance(layer, xact.Dense):
                        assert layer.weights.shape == (layer.n_inputs, layer.n_neurons)
            peak = tracemalloc.get_traced_memory()[1]
            # Dense builds its initial weights in float64 before the file's
            # replace them: a few times the file, never more
            assert peak <= 16 * len(data) + 2**20, (peak, len(data))
            tried += 1
    finally:
        tracemalloc.stop()
    print(
        f"fuzz: {tried} files in {FUZZ_SECONDS} s (seed {FUZZ_SEED}), "
        f"{loaded} loaded, {tried - loaded} refused"
    )
    assert tried >= 100
    assert len(reasons) >= 10  # the mutations reach many checks, not one


# --- saves that never lose the old model -----------------------------------------

CHILD_SAVING = """
import sys
import xact
model = xact.Sequential([xact.Dense(300, 700, seed=2), xact.Softmax()])
model.save(sys.argv[1])
print("saving", flush=True)
while True:
    model.save(sys.argv[1])
"""


def test_a_save_killed_mid_write_leaves_a_whole_file(tmp_path):
    path = tmp_path / "m.safetensors"
    old = xact.Sequential([xact.Dense(300, 700, seed=1), xact.Softmax()])
    new = xact.Sequential([xact.Dense(300, 700, seed=2), xact.Softmax()])
    x = np.random.default_rng(0).standard_normal((4, 300))
    expected = [old.predict(x), new.predict(x)]
    for delay in (0.0, 0.013, 0.031, 0.057):
        old.save(path)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_SAVING, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "saving\n"
        time.sleep(delay)
        child.kill()
        child.wait()
        child.stdout.close()
        predictions = xact.load(path).predict(x)  # whole: the old or the new
        assert any(np.array_equal(predictions, e) for e in expected), delay
