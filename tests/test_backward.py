"""Backward passes of every layer: central finite differences (float64) on every
backend, equality with torch.autograd of PyTorch's own functions, and the
kink conventions under autodiff of xact's forward."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import to_numpy
from xact._registry import ACTIVATIONS
from xact.layers import LAYERS

# these checks also run with the fast paths off (the numpy:generic,
# torch:generic and jax:generic backends, and "generic" where no backend)
ON_THE_GENERIC_PATH_TOO = True

# every layer with its defaults, plus one setting of each option
SETTINGS = [(e.name, {}) for e in ACTIVATIONS] + [
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 0.5}),
    ("celu", {"alpha": 2.0}),
    ("gelu", {"approximate": "tanh"}),
    ("softplus", {"beta": 2.0}),
    ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}),
    ("hard_shrink", {"lambd": 1.0}),
    ("soft_shrink", {"lambd": 1.0}),
    ("squareplus", {"b": 1.0}),
    ("softmax", {"axis": 0}),
    ("log_softmax", {"axis": 0}),
    ("softmin", {"axis": 0}),
    ("glu", {"axis": 0}),
]
IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}"
    for name, o in SETTINGS
]
LAYER_OF = {e.name: LAYERS[e.layer] for e in ACTIVATIONS}


def _smooth_inputs() -> np.ndarray:
    """Points away from every kink (finite differences need a neighbourhood)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-5.0, 5.0, size=(4, 6))
    kinks = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 6.0])
    for kink in np.concatenate([kinks, -kinks]):
        close = np.abs(x - kink) < 1e-3
        x[close] += 0.01
    return x


def _layer_and_input(asarray, name, options):
    return LAYER_OF[name](**options), asarray(_smooth_inputs())


@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=IDS)
def test_backward_matches_finite_differences(xp, asarray, name, options):
    layer, x = _layer_and_input(asarray, name, options)
    y = layer(x)
    rng = np.random.default_rng(11)
    d = rng.standard_normal(tuple(y.shape))
    dinputs = to_numpy(layer.backward(asarray(d)))
    function = getattr(xact, name)
    host = _smooth_inputs()
    step = 1e-6
    # every one-entry perturbation at once, stacked on a new leading axis:
    # two calls instead of two per entry (Cubed runs each call as a plan)
    steps = step * np.eye(host.size).reshape(host.size, *host.shape)
    stacked = dict(options)
    if stacked.get("axis", -1) >= 0:
        stacked["axis"] += 1
    delta = to_numpy(function(asarray(host + steps), **stacked)) - to_numpy(
        function(asarray(host - steps), **stacked)
    )
    expected = (delta * d).reshape(host.size, -1).sum(axis=1).reshape(host.shape)
    expected /= 2 * step
    np.testing.assert_allclose(dinputs, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=IDS)
def test_backward_keeps_dtype_device_and_state(xp, asarray, name, options):
    for dtype in (xp.float32, xp.float64):
        layer, x = _layer_and_input(asarray, name, options)
        x = xp.astype(x, dtype)
        y = layer(x)
        assert layer.inputs is x
        assert layer.output is y
        d = xp.ones_like(y)
        dinputs = layer.backward(d)
        assert layer.dinputs is dinputs
        assert dinputs.dtype == dtype
        assert tuple(dinputs.shape) == tuple(x.shape)
        assert array_api_compat.device(dinputs) == array_api_compat.device(x)


@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=IDS)
def test_backward_takes_the_input_dtype_whatever_the_gradients(
    xp, asarray, name, options
):
    # one rule for every layer, as torch.autograd: a float32 input's gradient
    # is float32 for a float64 upstream gradient (the kinks gave float64)
    layer, x = _layer_and_input(asarray, name, options)
    x = xp.astype(x, xp.float32)
    y = layer(x)
    wide = layer.backward(xp.astype(xp.ones_like(y), xp.float64))
    assert wide.dtype == xp.float32
    narrow = layer.backward(xp.ones_like(y))
    np.testing.assert_array_equal(to_numpy(wide), to_numpy(narrow))


def _torch_reference(torch, name, options):
    """PyTorch's own function for each activation (the independent oracle)."""
    F = torch.nn.functional
    axis = options.get("axis", -1)
    table = {
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": lambda x: F.leaky_relu(x, options.get("negative_slope", 0.01)),
        "elu": lambda x: F.elu(x, options.get("alpha", 1.0)),
        "selu": F.selu,
        "celu": lambda x: F.celu(x, options.get("alpha", 1.0)),
        "gelu": lambda x: F.gelu(x, approximate=options.get("approximate", "none")),
        "silu": F.silu,
        "mish": F.mish,
        "softplus": lambda x: F.softplus(
            x, beta=options.get("beta", 1.0), threshold=1e4
        ),
        "softsign": F.softsign,
        "sigmoid": torch.sigmoid,
        "log_sigmoid": F.logsigmoid,
        "hard_sigmoid": F.hardsigmoid,
        "hard_swish": F.hardswish,
        "hard_tanh": lambda x: F.hardtanh(
            x, options.get("min_val", -1.0), options.get("max_val", 1.0)
        ),
        "tanh": torch.tanh,
        "tanh_shrink": F.tanhshrink,
        "hard_shrink": lambda x: F.hardshrink(x, options.get("lambd", 0.5)),
        "soft_shrink": lambda x: F.softshrink(x, options.get("lambd", 0.5)),
        # no torch function: the definition, in torch
        "squareplus": lambda x: (x + torch.sqrt(x * x + options.get("b", 4.0))) / 2,
        "identity": lambda x: x,
        "softmax": lambda x: F.softmax(x, dim=axis),
        "log_softmax": lambda x: F.log_softmax(x, dim=axis),
        "softmin": lambda x: F.softmin(x, dim=axis),
        "glu": lambda x: F.glu(x, dim=axis),
    }
    return table[name]


def _kink_inputs(options):
    """Smooth points plus every kink of every activation, exactly."""
    lambd = options.get("lambd", 0.5)
    values = [
        0.0,
        3.0,
        -3.0,
        6.0,
        lambd,
        -lambd,
        options.get("min_val", -1.0),
        options.get("max_val", 1.0),
        1.0,
        -1.0,
        2.0,
        -2.0,
    ]
    x = _smooth_inputs()
    x[0, :6] = values[:6]
    x[1, :6] = values[6:]
    return x


@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=IDS)
def test_backward_equals_torch_autograd(name, options):
    """On torch tensors (float64): xact's forward equals PyTorch's function and
    the layer's backward equals torch.autograd of PyTorch's function."""
    torch = pytest.importorskip("torch", reason="the oracle is PyTorch")
    host = _kink_inputs(options)
    x = torch.tensor(host, dtype=torch.float64)
    layer = LAYER_OF[name](**options)
    y = layer(x)
    d = torch.tensor(np.random.default_rng(5).standard_normal(tuple(y.shape)))
    ours = layer.backward(d).numpy()
    leaf = torch.tensor(host, dtype=torch.float64, requires_grad=True)
    reference = _torch_reference(torch, name, options)(leaf)
    np.testing.assert_allclose(
        y.numpy(), reference.detach().numpy(), rtol=1e-10, atol=1e-300
    )
    (theirs,) = torch.autograd.grad(reference, leaf, d)
    # PyTorch's hardsigmoid backward multiplies by a float32 1/6 (2^-25 off);
    # its gelu backward is within 1e-11 (erfc tail).
    rtol = {"hard_sigmoid": 1e-7, "gelu": 1e-10}.get(name, 1e-12)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("autodiff", ["torch", "jax"])
@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=IDS)
def test_autodiff_through_forward_has_the_same_kink_conventions(
    autodiff, name, options
):
    """torch.autograd / jax.grad of xact's forward equals the layer's backward,
    at the kinks too (DESIGN.md: relu'(0) = 0 under both)."""
    host = _kink_inputs(options)
    layer = LAYER_OF[name](**options)
    y = layer(host)
    d_host = np.random.default_rng(5).standard_normal(tuple(y.shape))
    expected = layer.backward(d_host)
    function = getattr(xact, name)
    if autodiff == "torch":
        torch = pytest.importorskip("torch", reason="needs PyTorch")
        leaf = torch.tensor(host, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(
            function(leaf, **options), leaf, torch.tensor(d_host)
        )
        got = grad.numpy()
    else:
        jax = pytest.importorskip("jax", reason="needs JAX")
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        d = jnp.asarray(d_host)
        grad = jax.grad(lambda v: jnp.sum(function(v, **options) * d))(
            jnp.asarray(host)
        )
        got = np.asarray(grad)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_documented_kink_derivatives(xp, asarray):
    x = asarray([0.0, -3.0, 3.0, 6.0, -1.0, 1.0, 0.5, -0.5])
    ones = xp.ones_like(x)

    def grad(layer):
        layer(x)
        return to_numpy(layer.backward(ones))

    np.testing.assert_array_equal(grad(xact.ReLU())[:1], [0.0])
    np.testing.assert_array_equal(grad(xact.LeakyReLU(negative_slope=0.1))[:1], [0.1])
    np.testing.assert_array_equal(grad(xact.HardTanh())[4:6], [0.0, 0.0])
    np.testing.assert_array_equal(grad(xact.ReLU6())[[0, 3]], [0.0, 0.0])
    np.testing.assert_array_equal(grad(xact.HardSigmoid())[1:3], [0.0, 0.0])
    np.testing.assert_array_equal(grad(xact.HardShrink())[6:], [0.0, 0.0])
    np.testing.assert_array_equal(grad(xact.SoftShrink())[6:], [0.0, 0.0])
    # PyTorch's hardswish: slope 0 at -3 and 1 at 3
    np.testing.assert_array_equal(grad(xact.HardSwish())[1:3], [0.0, 1.0])


def test_layer_errors():
    with pytest.raises(TypeError, match=r"xact\.ReLU: unexpected option"):
        xact.ReLU(alpha=1.0)
    with pytest.raises(ValueError, match=r"xact\.celu: alpha must be > 0"):
        xact.CELU(alpha=0.0)
    with pytest.raises(RuntimeError, match=r"xact\.Tanh\.backward: call forward"):
        xact.Tanh().backward(np.ones(2))
    layer = xact.Tanh()
    layer(np.ones(3))
    with pytest.raises(ValueError, match=r"xact\.Tanh\.backward: dvalues has shape"):
        layer.backward(np.ones(2))


def test_layers_follow_the_registry():
    for entry in ACTIVATIONS:
        cls = getattr(xact, entry.layer)
        assert cls is LAYER_OF[entry.name]
        assert cls.function_name == entry.name
        assert entry.layer in xact.__all__
        assert cls().options == dict(entry.defaults)
