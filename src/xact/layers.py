"""Layer objects: one per activation, with an analytic backward pass.

``layer(x)`` / ``layer.forward(x)`` returns the output and keeps ``inputs`` and
``output``; ``layer.backward(dvalues)`` returns the gradient with respect to the
input (the vector-Jacobian product) and keeps it as ``dinputs``. The classes
are thin: the function and its backward come from the registry
(:data:`xact._registry.ACTIVATIONS`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._caches import cached, keep, used
from ._namespace import (
    Array,
    in_compute_dtype,
    is_traced,
    resolve,
    shape_of,
)
from ._public import public_names
from ._registry import ACTIVATIONS, entry
from ._run.fast import rows_vjp, vjp

# the registry names the layer classes, in table order
__all__ = ["LAYERS", "Activation", *(entry.layer for entry in ACTIVATIONS)]


class Activation:
    """Base class of the activation layers; subclasses name their function."""

    function_name: ClassVar[str]
    parameter_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self._entry = entry(self.function_name)
        unknown = set(options) - set(self._entry.defaults)
        if unknown:
            allowed = ", ".join(self._entry.defaults) or "no options"
            raise TypeError(
                f"xact.{type(self).__name__}: unexpected option(s) "
                f"{', '.join(sorted(unknown))}; it takes {allowed}"
            )
        self.options: dict[str, Any] = {**self._entry.defaults, **options}
        # validate the options now, with the function's own checks, on a
        # probe with as many dimensions as the axis needs
        probe = np.zeros(1)
        if self._entry.along_axis:
            axis = self.options["axis"]
            dims = axis + 1 if isinstance(axis, int) and axis >= 0 else 2
            if isinstance(axis, int) and axis < 0:
                dims = -axis
            if dims > 64:  # NumPy's limit, and the probe's
                raise ValueError(
                    f"xact.{type(self).__name__}: axis {axis} is out of range "
                    f"for any array (at most 64 dimensions)"
                )
            # two elements along the axis (GLU halves it), one elsewhere: a
            # probe of (2,) * dims was 2**dims elements (axis=21: 270 MB)
            shape = [1] * max(dims, 2)
            if isinstance(axis, int):
                shape[axis] = 2
            probe = np.zeros(tuple(shape))
        self._entry.function(probe, **self.options)
        self.inputs: Array | None = None
        self.output: Array | None = None
        self.dinputs: Array | None = None

    def __repr__(self) -> str:
        changed = {
            k: v for k, v in self.options.items() if v != self._entry.defaults[k]
        }
        arguments = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({arguments})"

    # pickle and deepcopy: the registry entry is looked up again on load
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_entry"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._entry = entry(self.function_name)

    def config(self) -> dict[str, Any]:
        """The options that rebuild this layer: ``type(layer)(**config)``."""
        return dict(self.options)

    def state_dict(self) -> dict[str, Array]:
        """Activation layers have no parameters: ``{}``."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Accepts only ``{}`` (activation layers have no parameters)."""
        if state:
            raise KeyError(
                f"xact.{type(self).__name__}.load_state_dict: the layer has no "
                f"parameters, got {', '.join(sorted(state))}"
            )

    def forward(self, x: Any) -> Array:
        """Apply the activation; keep ``inputs`` and ``output``."""
        output = self._entry.function(x, **self.options)
        keep(self, x, output)
        return output

    __call__ = forward

    def backward(self, dvalues: Any) -> Array:
        """Gradient with respect to the input of the last forward; kept as
        ``dinputs``. Same shape, dtype and device as that input's output,
        whatever the dtype of ``dvalues`` (as PyTorch's autograd gives)."""
        name = f"{type(self).__name__}.backward"
        inputs, output = cached(self, dvalues, name)
        xp, (x, y, d) = resolve(name, inputs, output, dvalues)
        if shape_of(d) != shape_of(y):
            raise ValueError(
                f"xact.{name}: dvalues has shape {tuple(d.shape)}, "
                f"the output has shape {tuple(y.shape)}"
            )
        if d.dtype != y.dtype:  # the gradient takes the (floating) input's dtype
            d = xp.astype(d, y.dtype)
        (y, x, d), rounded_back = in_compute_dtype(xp, y, x, d)
        options = dict(self.options)
        scalar = self._entry.along_axis and x.ndim == 0
        if scalar:  # a 0-d input: one element
            x, y, d = (xp.reshape(a, (1,)) for a in (x, y, d))
        if "axis" in options:
            options["axis"] = options["axis"] % x.ndim
        if self._entry.along_axis:
            axis = options.pop("axis")
            dinputs = rows_vjp(xp, self._entry.name, self._entry.vjp, x, y, d, axis)
            if scalar:
                dinputs = xp.reshape(dinputs, ())
        else:
            dinputs = vjp(xp, self._entry.name, self._entry.vjp, x, y, d, options)
        dinputs = rounded_back(dinputs)
        if is_traced(dinputs):  # a layer's state never holds a tracer
            used(self)
        else:
            self.dinputs = dinputs
        return dinputs


def _layer(class_name: str, function_name: str) -> type[Activation]:
    doc = (
        f"Layer for :func:`xact.{function_name}` with its analytic backward pass.\n\n"
        f"Options (keyword-only) as for :func:`xact.{function_name}`: "
        f"{', '.join(entry(function_name).defaults) or 'none'}."
    )
    return type(
        class_name, (Activation,), {"function_name": function_name, "__doc__": doc}
    )


ReLU = _layer("ReLU", "relu")
ReLU6 = _layer("ReLU6", "relu6")
LeakyReLU = _layer("LeakyReLU", "leaky_relu")
ELU = _layer("ELU", "elu")
SELU = _layer("SELU", "selu")
CELU = _layer("CELU", "celu")
GELU = _layer("GELU", "gelu")
SiLU = _layer("SiLU", "silu")
Mish = _layer("Mish", "mish")
Softplus = _layer("Softplus", "softplus")
Softsign = _layer("Softsign", "softsign")
Sigmoid = _layer("Sigmoid", "sigmoid")
LogSigmoid = _layer("LogSigmoid", "log_sigmoid")
HardSigmoid = _layer("HardSigmoid", "hard_sigmoid")
HardSwish = _layer("HardSwish", "hard_swish")
HardTanh = _layer("HardTanh", "hard_tanh")
Tanh = _layer("Tanh", "tanh")
TanhShrink = _layer("TanhShrink", "tanh_shrink")
HardShrink = _layer("HardShrink", "hard_shrink")
SoftShrink = _layer("SoftShrink", "soft_shrink")
Squareplus = _layer("Squareplus", "squareplus")
Identity = _layer("Identity", "identity")
Softmax = _layer("Softmax", "softmax")
LogSoftmax = _layer("LogSoftmax", "log_softmax")
Softmin = _layer("Softmin", "softmin")
GLU = _layer("GLU", "glu")

LAYERS: dict[str, type[Activation]] = {e.layer: globals()[e.layer] for e in ACTIVATIONS}

__dir__ = public_names(__all__)
