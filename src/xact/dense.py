"""Dense (fully connected) layer: ``output = inputs @ weights + biases``."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from ._caches import cached, keep, used
from ._namespace import (
    Array,
    Namespace,
    array_device,
    as_namespace,
    asarray_as,
    default_float,
    ensure_array,
    is_traced,
    namespace_of,
    namespace_of_array,
    outside_traces,
    resolve,
    shape_of,
    to_host,
)
from ._public import public_names
from ._validate import positive_integer


def _dtype_name(dtype: Any) -> str:
    return str(getattr(dtype, "name", None) or dtype).rsplit(".", 1)[-1]


__all__ = ["INITIALIZERS", "Dense"]


def _glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def _he_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    return rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in)


def _he_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / n_in)
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def _small_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """The seed notebook's ``0.01 * np.random.randn(n_inputs, n_neurons)``."""
    return 0.01 * rng.standard_normal((n_in, n_out))


INITIALIZERS = {
    "glorot_uniform": _glorot_uniform,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "small_normal": _small_normal,
}


class Dense:
    """Fully connected layer.

    Parameters
    ----------
    n_inputs, n_neurons : int
        ``weights`` has shape ``(n_inputs, n_neurons)``, ``biases`` ``(1, n_neurons)``.
    seed : int, optional
        Seed of ``numpy.random.default_rng``: the same seed gives the same
        initial values on every backend.
    xp, device, dtype : optional
        Where the parameters live. Without them they take the namespace, device
        and floating dtype of the first input the layer sees.
    weight_init : {"glorot_uniform", "he_normal", "he_uniform", "small_normal"}
        Glorot uniform by default (Keras's choice); ``"small_normal"`` is the
        seed notebook's ``0.01 * randn``. Biases start at zero.

    Examples
    --------
    >>> import numpy as np, xact
    >>> dense = xact.Dense(2, 3, seed=0)
    >>> dense(np.ones((4, 2))).shape
    (4, 3)
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        *,
        seed: int | None = None,
        xp: Any = None,
        device: Any = None,
        dtype: Any = None,
        weight_init: str = "glorot_uniform",
    ) -> None:
        self.n_inputs = positive_integer("Dense", "n_inputs", n_inputs)
        self.n_neurons = positive_integer("Dense", "n_neurons", n_neurons)
        if weight_init not in INITIALIZERS:
            raise ValueError(
                f"xact.Dense: unknown weight_init {weight_init!r}; "
                f"choose from {', '.join(INITIALIZERS)}"
            )
        rng = np.random.default_rng(seed)
        self._host_weights = INITIALIZERS[weight_init](
            rng, self.n_inputs, self.n_neurons
        )
        self.weight_init = weight_init
        self.weights: Array | None = None
        self.biases: Array | None = None
        self.inputs: Array | None = None
        self.output: Array | None = None
        self.dweights: Array | None = None
        self.dbiases: Array | None = None
        self.dinputs: Array | None = None
        self._xp: Namespace | None = None
        if xp is not None or device is not None or dtype is not None:
            self.to(xp=xp if xp is not None else np, device=device, dtype=dtype)

    def __repr__(self) -> str:
        return f"Dense({self.n_inputs}, {self.n_neurons})"

    parameter_names = ("weights", "biases")

    @property
    def parameters(self) -> dict[str, Array]:
        """The trainable arrays by name (empty before they are placed)."""
        if self.weights is None:
            return {}
        return {"weights": self.weights, "biases": self.biases}

    @property
    def gradients(self) -> dict[str, Array]:
        """The gradients of the last backward pass, by parameter name."""
        return {"weights": self.dweights, "biases": self.dbiases}

    def set_parameters(self, **values: Array) -> None:
        """Replace parameters by name (optimizers call this; never in place)."""
        unknown = set(values) - {"weights", "biases"}
        if unknown:
            raise TypeError(
                f"xact.Dense.set_parameters: unknown parameter(s) "
                f"{', '.join(sorted(unknown))}; it has weights and biases"
            )
        for name, value in values.items():
            setattr(self, name, value)

    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this layer: ``Dense(**config)``."""
        return {
            "n_inputs": self.n_inputs,
            "n_neurons": self.n_neurons,
            "weight_init": self.weight_init,
        }

    def state_dict(self) -> dict[str, Array]:
        """``{"weights": ..., "biases": ...}``, the arrays themselves (placed
        on NumPy first if the layer has not seen an input yet)."""
        if self.weights is None:
            self.to()
        return {"weights": self.weights, "biases": self.biases}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set ``weights`` and ``biases`` from arrays of any library.

        Names, shapes and dtypes are checked: a placed layer keeps its
        library, device and dtype and takes only arrays of that dtype (move
        it with :meth:`to` first); an unplaced one takes the state's.
        """
        name = "xact.Dense.load_state_dict"
        shapes = {
            "weights": (self.n_inputs, self.n_neurons),
            "biases": (1, self.n_neurons),
        }
        missing, unexpected = shapes.keys() - state.keys(), state.keys() - shapes.keys()
        if missing or unexpected:
            raise KeyError(
                f"{name}: missing {sorted(missing) or 'nothing'}, "
                f"unexpected {sorted(unexpected) or 'nothing'}"
            )
        values = {}
        for key, shape in shapes.items():
            value = state[key]
            xp = namespace_of(value)
            if xp is None:
                xp, value = as_namespace(np), np.asarray(value)
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"{name}: {key} has shape {tuple(value.shape)}, expected {shape}"
                )
            if not xp.isdtype(value.dtype, "real floating"):
                raise TypeError(
                    f"{name}: {key} must be real floating, got {value.dtype}"
                )
            if self.weights is not None and _dtype_name(value.dtype) != _dtype_name(
                self.weights.dtype
            ):
                raise TypeError(
                    f"{name}: {key} is {_dtype_name(value.dtype)} but the layer is "
                    f"{_dtype_name(self.weights.dtype)}; use dense.to(dtype=...) first"
                )
            values[key] = (xp, value)
        if self.weights is None:
            xp, weights = values["weights"]
            self._host_weights = to_host(weights)
            self.to(xp=xp, device=array_device(weights), dtype=weights.dtype)
        assert self.weights is not None
        assert self._xp is not None
        device, dtype = array_device(self.weights), self.weights.dtype
        for key, (_, value) in values.items():
            placed = asarray_as(self._xp, to_host(value), dtype, device)
            setattr(self, key, placed)

    # pickle and deepcopy: the namespace travels by name
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_xp"] = None if self._xp is None else self._xp.__name__
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        module = state.get("_xp")
        state["_xp"] = (
            None if module is None else as_namespace(importlib.import_module(module))
        )
        self.__dict__.update(state)

    def to(self, *, xp: Any = None, device: Any = None, dtype: Any = None) -> Dense:
        """Place (or move) the parameters on a namespace, device and dtype.

        Values are kept; moving between libraries goes through the host.
        """
        target: Namespace = as_namespace(xp) if xp is not None else self._xp
        if target is None:
            target = as_namespace(np)
        if device is None and self.weights is not None and target is self._xp:
            device = array_device(self.weights)  # a dtype change stays on the device
        if dtype is None and self.weights is not None:
            # keep the precision: float64 parameters stay float64 in the target
            name = str(self.weights.dtype).rsplit(".", 1)[-1]
            dtype = getattr(target, name, None)
        if dtype is None:
            dtype = default_float(target, device)
        if isinstance(dtype, str):
            dtype = getattr(target, dtype)
        if not target.isdtype(dtype, "real floating"):
            raise TypeError(f"xact.Dense: dtype must be real floating, got {dtype}")
        weights = self._host_weights if self.weights is None else to_host(self.weights)
        biases = (
            np.zeros((1, self.n_neurons))
            if self.biases is None
            else to_host(self.biases)
        )
        self.weights = asarray_as(target, weights, dtype, device)
        self.biases = asarray_as(target, biases, dtype, device)
        self._xp = target
        return self

    def _check(self, x: Array, xp: Namespace, name: str) -> None:
        if self.weights is None:
            # concrete parameters even when the first input is a JAX tracer
            with outside_traces(xp):
                device = None if is_traced(x) else array_device(x)
                self.to(xp=xp, device=device, dtype=x.dtype)
        assert self.weights is not None
        if xp is not self._xp:
            raise TypeError(
                f"xact.Dense.{name}: the input is a {type(x).__module__} array but the "
                f"parameters are {type(self.weights).__module__} arrays; "
                f"use dense.to(xp=...) to move them"
            )
        if not is_traced(x) and array_device(x) != array_device(self.weights):
            raise ValueError(
                f"xact.Dense.{name}: the input is on {array_device(x)} but the "
                f"parameters are on {array_device(self.weights)}; "
                f"use dense.to(device=...) to move them"
            )

    def forward(self, inputs: Any) -> Array:
        """``inputs @ weights + biases`` for inputs of shape (N, n_inputs)."""
        xp, (x,) = resolve("Dense.forward", inputs)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"xact.Dense.forward: expected inputs of shape (N, {self.n_inputs}), "
                f"got {tuple(x.shape)}"
            )
        self._check(x, xp, "forward")
        assert self.weights is not None  # placed by _check
        if x.dtype != self.weights.dtype:
            # PyTorch's rule: no silent downcast (or upcast) of the input
            raise TypeError(
                f"xact.Dense.forward: the input is {_dtype_name(x.dtype)} but the "
                f"parameters are {_dtype_name(self.weights.dtype)}; convert the "
                f"input, or move the layer with dense.to(dtype=...)"
            )
        output = xp.matmul(x, self.weights) + self.biases
        keep(self, x, output)
        return output

    __call__ = forward

    def backward(self, dvalues: Any) -> Array:
        """Set ``dweights``, ``dbiases`` and ``dinputs``; return ``dinputs``."""
        inputs, _ = cached(self, dvalues, "Dense.backward")
        xp, (d,) = resolve("Dense.backward", dvalues)
        self._check(d, xp, "backward")
        if shape_of(d) != (shape_of(inputs)[0], self.n_neurons):
            raise ValueError(
                f"xact.Dense.backward: dvalues has shape {tuple(d.shape)}, "
                f"the output has shape {(inputs.shape[0], self.n_neurons)}"
            )
        dweights = xp.matmul(xp.matrix_transpose(inputs), d)
        dbiases = xp.sum(d, axis=0, keepdims=True)
        dinputs = xp.matmul(d, xp.matrix_transpose(self.weights))
        if is_traced(dinputs):  # a layer's state never holds a tracer
            used(self)
        else:
            self.dweights, self.dbiases, self.dinputs = dweights, dbiases, dinputs
        return dinputs

    def loss(self, y_true: Any, y_pred: Any) -> tuple[Array, Array]:
        """Categorical cross-entropy of probabilities: ``(mean, per_sample)``.

        The seed notebook's call; labels may be indices (N,), one-hot rows
        (N, C), or a (1, N) / (N, 1) index array.
        """
        from .losses import categorical_crossentropy

        per_sample = categorical_crossentropy(y_true, y_pred, reduction="none")
        xp = namespace_of_array(per_sample)
        return ensure_array(xp, xp.mean(per_sample)), per_sample


__dir__ = public_names(__all__)
