"""Optimizers that update parameters functionally (new arrays, never in place).

Each optimizer works on layers exposing ``parameters`` and ``gradients``
(dicts of arrays by name) and ``set_parameters(**arrays)``, as
:class:`xact.Dense` does. State (momenta, caches) is created with
``zeros_like`` of the parameters, so it lives on their device; nothing here
syncs with the host. Learning-rate decay follows the seed material:
``lr / (1 + decay * iterations)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ._namespace import Array, array_device, namespace_of_array, to_host
from ._public import public_names
from ._validate import real_parameter

__all__ = ["OPTIMIZERS", "SGD", "Adagrad", "Adam", "Optimizer", "RMSprop", "get"]


class Optimizer:
    """Base class: learning-rate decay, iteration count and per-layer state."""

    def __init__(self, learning_rate: float, decay: float = 0.0) -> None:
        name = type(self).__name__
        self.learning_rate = real_parameter(
            name, "learning_rate", learning_rate, positive=True
        )
        self.decay = real_parameter(name, "decay", decay, nonnegative=True)
        self.iterations = 0
        # state belongs to the layer it updates: held weakly, so a collected
        # layer takes its state with it (never inherited through a reused id)
        self._state: weakref.WeakKeyDictionary[Any, dict[str, Array]] = (
            weakref.WeakKeyDictionary()
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_state"] = list(self._state.items())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        pairs = state.pop("_state")
        self.__dict__.update(state)
        self._state = weakref.WeakKeyDictionary(pairs)

    @property
    def current_learning_rate(self) -> float:
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def step(self, layers: Any) -> None:
        """Update every layer that has parameters, then count one iteration."""
        for layer in layers:
            parameters = getattr(layer, "parameters", None)
            if parameters:
                self.update(layer)
        self.iterations += 1

    def update(self, layer: Any) -> None:
        state = self._state.get(layer)
        if state is None:
            state = self._state[layer] = {}
        new = {}
        for name, value in layer.parameters.items():
            self._follow(state, name, value, layer)
            gradient = layer.gradients[name]
            if gradient is None:
                raise RuntimeError(
                    f"xact.{type(self).__name__}: {type(layer).__name__} has no "
                    f"gradient for {name}; call backward first"
                )
            new[name] = self._updated(name, value, gradient, state)
        layer.set_parameters(**new)

    def _follow(
        self, state: dict[str, Any], name: str, value: Array, layer: Any
    ) -> None:
        """Move the state of parameter ``name`` to where ``value`` now lives
        (after ``model.to(...)``); a changed shape is an error."""
        xp = namespace_of_array(value)
        for key, array in state.items():
            if key != name and not key.startswith(f"{name}."):
                continue
            if isinstance(array, float):
                continue
            if tuple(array.shape) != tuple(value.shape):
                raise ValueError(
                    f"xact.{type(self).__name__}: {type(layer).__name__}.{name} has "
                    f"shape {tuple(value.shape)} but this optimizer's state for it "
                    f"has {tuple(array.shape)}"
                )
            moved = namespace_of_array(array) is not xp
            if moved or array_device(array) != array_device(value):
                state[key] = xp.asarray(to_host(array), device=array_device(value))
            if state[key].dtype != value.dtype:
                state[key] = xp.astype(state[key], value.dtype)

    def _updated(
        self, name: str, value: Array, gradient: Array, state: dict[str, Array]
    ) -> Array:
        raise NotImplementedError


def _rms_step(
    value: Array, gradient: Array, cache: Array, learning_rate: float, epsilon: float
) -> Array:
    """``value - lr * gradient / (sqrt(cache) + epsilon)`` (Adagrad, RMSprop)."""
    xp = namespace_of_array(value)
    return value - learning_rate * gradient / (xp.sqrt(cache) + epsilon)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum.

    ``v = momentum * v - lr * g``; ``w = w + v`` (``w - lr * g`` without momentum).
    """

    def __init__(
        self, learning_rate: float = 1.0, *, decay: float = 0.0, momentum: float = 0.0
    ) -> None:
        super().__init__(learning_rate, decay)
        self.momentum = real_parameter("SGD", "momentum", momentum, below_one=True)

    def _updated(self, name, value, gradient, state):  # type: ignore[no-untyped-def]
        lr = self.current_learning_rate
        if self.momentum == 0.0:
            return value - lr * gradient
        velocity = state.get(name)
        if velocity is None:
            velocity = namespace_of_array(value).zeros_like(value)
        velocity = self.momentum * velocity - lr * gradient
        state[name] = velocity
        return value + velocity


class Adagrad(Optimizer):
    """Adagrad: ``c += g**2``; ``w -= lr * g / (sqrt(c) + epsilon)``."""

    def __init__(
        self, learning_rate: float = 1.0, *, decay: float = 0.0, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = real_parameter("Adagrad", "epsilon", epsilon, positive=True)

    def _updated(self, name, value, gradient, state):  # type: ignore[no-untyped-def]
        cache = state.get(name, 0.0) + gradient * gradient
        state[name] = cache
        return _rms_step(
            value, gradient, cache, self.current_learning_rate, self.epsilon
        )


class RMSprop(Optimizer):
    """RMSprop: ``c = rho c + (1 - rho) g**2``; ``w -= lr g / (sqrt(c) + eps)``."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        *,
        decay: float = 0.0,
        epsilon: float = 1e-7,
        rho: float = 0.9,
    ) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = real_parameter("RMSprop", "epsilon", epsilon, positive=True)
        self.rho = real_parameter("RMSprop", "rho", rho, below_one=True)

    def _updated(self, name, value, gradient, state):  # type: ignore[no-untyped-def]
        cache = self.rho * state.get(name, 0.0) + (1.0 - self.rho) * gradient * gradient
        state[name] = cache
        return _rms_step(
            value, gradient, cache, self.current_learning_rate, self.epsilon
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        *,
        decay: float = 0.0,
        epsilon: float = 1e-7,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
    ) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = real_parameter("Adam", "epsilon", epsilon, positive=True)
        self.beta_1 = real_parameter("Adam", "beta_1", beta_1, below_one=True)
        self.beta_2 = real_parameter("Adam", "beta_2", beta_2, below_one=True)

    def _updated(self, name, value, gradient, state):  # type: ignore[no-untyped-def]
        xp = namespace_of_array(value)
        momentum = state.get(f"{name}.m", xp.zeros_like(value))
        cache = state.get(f"{name}.v", xp.zeros_like(value))
        momentum = self.beta_1 * momentum + (1.0 - self.beta_1) * gradient
        cache = self.beta_2 * cache + (1.0 - self.beta_2) * gradient * gradient
        state[f"{name}.m"], state[f"{name}.v"] = momentum, cache
        t = self.iterations + 1
        corrected_momentum = momentum / (1.0 - self.beta_1**t)
        corrected_cache = cache / (1.0 - self.beta_2**t)
        return value - self.current_learning_rate * corrected_momentum / (
            xp.sqrt(corrected_cache) + self.epsilon
        )


OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def get(optimizer: Optimizer | str, where: str = "optim.get") -> Optimizer:
    """An optimizer, or a new one with its defaults from a name (any case).

    ``get("adam")`` is ``Adam()``: learning rate 0.001, like Keras; ``"sgd"``
    and ``"adagrad"`` keep this library's default of 1.0.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        kind = OPTIMIZERS.get(optimizer.lower())
        if kind is None:
            raise ValueError(
                f"xact.{where}: unknown optimizer {optimizer!r}; "
                f"known: {', '.join(OPTIMIZERS)}"
            )
        return kind()
    raise TypeError(
        f"xact.{where}: optimizer must be an Optimizer or a name, got {optimizer!r}"
    )


__dir__ = public_names(__all__)
