"""Models that last: save and load, state dicts, pickle and deepcopy, and
optimizer state that belongs to the layers it updates."""

from __future__ import annotations

import copy
import gc
import pickle

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import Backend, to_numpy
from xact.layers import LAYERS


def _model():
    return xact.Sequential(
        [
            xact.Dense(2, 16, seed=1),
            xact.LeakyReLU(negative_slope=0.1),
            xact.Dense(16, 8, seed=2),
            xact.GELU(approximate="tanh"),
            xact.Dense(8, 3, seed=3),
            xact.Softmax(),
        ]
    )


def _inputs(asarray, xp):
    """Float32 spiral points on the test device, their namespace (the one
    arrays resolve to: numpy for the read-only NumPy backend), the host copy."""
    X, _ = xact.datasets.spiral(40, 3, seed=0)
    x = asarray(X, xp.float32)
    return x, array_api_compat.array_namespace(x), X


def test_save_and_load_round_trip_on_every_backend(
    xp, library, asarray, device, tmp_path
):
    X, ns, _ = _inputs(asarray, xp)
    model = _model().to(xp=ns, device=device, dtype="float32")
    expected = to_numpy(model.predict(X))
    path = tmp_path / "model.safetensors"
    model.save(path)
    restored = xact.load(path, xp=ns, device=device)
    assert repr(restored) == repr(model)
    assert restored.layers[0].weights.dtype == ns.float32
    np.testing.assert_array_equal(to_numpy(restored.predict(X)), expected)


def test_a_file_moves_between_backends(xp, library, asarray, device, tmp_path):
    """Saved from NumPy float64, loaded onto each backend: the same
    predictions up to each library's own matmul rounding."""
    X, ns, host = _inputs(asarray, xp)
    model = _model()
    expected = model.predict(host.astype(np.float32).astype(np.float64))
    model.save(tmp_path / "model.safetensors")
    restored = xact.load(
        tmp_path / "model.safetensors", xp=ns, device=device, dtype="float32"
    )
    got = to_numpy(restored.predict(X))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)
    back = tmp_path / "back.safetensors"
    restored.save(back)
    again = xact.load(back, xp=ns, device=device)
    np.testing.assert_array_equal(to_numpy(again.predict(X)), got)


def test_load_places_on_numpy_in_the_saved_dtype(tmp_path):
    model = _model().to(dtype="float32")
    model.save(tmp_path / "m.safetensors")
    restored = xact.load(tmp_path / "m.safetensors")
    assert isinstance(restored.layers[0].weights, np.ndarray)
    assert restored.layers[0].weights.dtype == np.float32


def test_load_refuses_a_file_that_is_not_an_xact_model(tmp_path):
    import safetensors.numpy

    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(3)}, str(path))
    with pytest.raises(ValueError, match=r"xact\.load: .* not an xact model"):
        xact.load(path)


def test_save_refuses_a_layer_it_could_not_rebuild(tmp_path):
    class Custom:
        def forward(self, x):
            return x

        def backward(self, d):
            return d

    model = xact.Sequential([xact.Dense(2, 2, seed=0), Custom()])
    with pytest.raises(TypeError, match=r"layer 1 \(Custom\) is not an xact layer"):
        model.save(tmp_path / "m.safetensors")


def test_state_dict_round_trip_and_checks():
    model = _model()
    state = model.state_dict()
    assert sorted(state) == [
        "0.biases",
        "0.weights",
        "2.biases",
        "2.weights",
        "4.biases",
        "4.weights",
    ]
    other = _model()
    other.load_state_dict({k: v * 2 for k, v in state.items()})
    np.testing.assert_array_equal(other.layers[0].weights, state["0.weights"] * 2)
    with pytest.raises(KeyError, match=r"missing \['0.biases'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "0.biases"})
    with pytest.raises(KeyError, match=r"unexpected \['9.weights'\]"):
        other.load_state_dict({**state, "9.weights": state["0.weights"]})
    with pytest.raises(ValueError, match=r"weights has shape \(3, 16\), expected"):
        xact.Dense(2, 16).load_state_dict(
            {"weights": np.zeros((3, 16)), "biases": np.zeros((1, 16))}
        )
    placed = xact.Dense(2, 3, dtype="float32")
    with pytest.raises(TypeError, match="weights is float64 but the layer is float32"):
        placed.load_state_dict(
            {"weights": np.zeros((2, 3)), "biases": np.zeros((1, 3))}
        )
    with pytest.raises(TypeError, match="must be real floating"):
        xact.Dense(2, 3).load_state_dict(
            {"weights": np.zeros((2, 3), int), "biases": np.zeros((1, 3))}
        )
    with pytest.raises(KeyError, match="no parameters"):
        xact.ReLU().load_state_dict({"weights": np.zeros(1)})


def test_set_parameters_rejects_unknown_names():
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) typo"):
        xact.Dense(2, 3).set_parameters(typo=np.zeros(1))


def _pickles(xp, asarray):
    try:
        pickle.dumps(asarray([1.0], xp.float32))
    except Exception as error:  # any library's own refusal
        pytest.skip(f"this library's arrays do not pickle: {error}")


@pytest.mark.skip_xp_backend(
    Backend.DASK, reason="training is eager; Dask is tested on predict"
)
@pytest.mark.skip_xp_backend(
    Backend.CUBED, reason="training is eager; Cubed is tested on predict"
)
def test_trained_objects_pickle_and_deepcopy(xp, library, asarray, device):
    _pickles(xp, asarray)
    X, ns, _ = _inputs(asarray, xp)
    _, y = xact.datasets.spiral(40, 3, seed=0)
    y = ns.asarray(np.asarray(y), device=array_api_compat.device(X))
    model = _model().to(xp=ns, device=device, dtype="float32")
    optimizer = xact.optim.Adam(0.01)
    model.fit(X, y, loss="categorical_crossentropy", optimizer=optimizer, epochs=2)
    expected = to_numpy(model.predict(X))
    for clone_model, clone_optimizer in (
        pickle.loads(pickle.dumps((model, optimizer))),
        copy.deepcopy((model, optimizer)),
    ):
        np.testing.assert_array_equal(to_numpy(clone_model.predict(X)), expected)
        # the optimizer's state followed its layers into the copy
        for layer, clone in zip(model.layers, clone_model.layers, strict=True):
            state = optimizer._state.get(layer, {})
            copied = clone_optimizer._state.get(clone, {})
            assert sorted(copied) == sorted(state)
            for key, value in state.items():
                np.testing.assert_array_equal(to_numpy(copied[key]), to_numpy(value))
        assert any(optimizer._state.get(layer) for layer in model.layers)
        reference = copy.deepcopy((model, optimizer))
        for m, o in ((clone_model, clone_optimizer), reference):
            m.fit(X, y, loss="categorical_crossentropy", optimizer=o, epochs=1)
        np.testing.assert_allclose(
            to_numpy(clone_model.predict(X)),
            to_numpy(reference[0].predict(X)),
            rtol=1e-6,
            atol=1e-7,
        )


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_activation_layer_pickles(name):
    layer = LAYERS[name]()
    layer(np.ones((2, 4)))
    clone = pickle.loads(pickle.dumps(layer))
    assert repr(clone) == repr(layer)
    np.testing.assert_array_equal(clone(np.ones((2, 4))), layer(np.ones((2, 4))))
    copy.deepcopy(layer).backward(np.ones_like(layer.output))


def test_one_optimizer_for_models_of_changing_width():
    """State belongs to the layer: a new layer that reuses a collected one's
    id starts fresh (it used to inherit the old state and fail to broadcast)."""
    X, y = xact.datasets.spiral(30, 3, seed=0)
    optimizer = xact.optim.Adam(0.02)
    for width in (8, 16, 8, 32, 8):
        model = xact.Sequential(
            [
                xact.Dense(2, width, seed=1),
                xact.ReLU(),
                xact.Dense(width, 3, seed=2),
                xact.Softmax(),
            ]
        )
        history = model.fit(
            X, y, loss="categorical_crossentropy", optimizer=optimizer, epochs=2
        )
        assert np.isfinite(history["loss"]).all()
        del model
        gc.collect()
    assert len(optimizer._state) == 0  # nothing kept for collected layers


def test_optimizer_state_follows_a_moved_model():
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    X, y = xact.datasets.spiral(30, 3, seed=0)
    model = _model()
    optimizer = xact.optim.Adam(0.02)
    model.fit(X, y, loss="categorical_crossentropy", optimizer=optimizer, epochs=2)
    model.to(xp=torch)
    history = model.fit(
        torch.asarray(X),
        torch.asarray(y),
        loss="categorical_crossentropy",
        optimizer=optimizer,
        epochs=2,
    )
    assert np.isfinite(history["loss"]).all()
    state = optimizer._state[model.layers[0]]
    assert all(isinstance(v, torch.Tensor) for v in state.values())
