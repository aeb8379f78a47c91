"""Sequential model and its training loop."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._caches import not_keeping
from ._labels import check_labels, class_targets, labels_already_checked
from ._namespace import Array, array_device, is_lazy, is_traced, resolve, to_host
from ._validate import positive_integer
from .dense import Dense
from .layers import Softmax
from .losses import LOSSES, CategoricalCrossentropy, Loss
from .metrics import accuracy
from .optim import Optimizer

__all__ = ["Sequential"]


class Sequential:
    """Layers applied in order, trained with :meth:`fit`.

    Examples
    --------
    >>> import xact
    >>> X, y = xact.datasets.spiral(100, 3, seed=0)
    >>> model = xact.Sequential([xact.Dense(2, 64, seed=1), xact.ReLU(),
    ...                          xact.Dense(64, 3, seed=2), xact.Softmax()])
    >>> history = model.fit(X, y, loss="categorical_crossentropy",
    ...                     optimizer=xact.optim.Adam(0.02), epochs=5)
    >>> len(history["loss"])
    5
    """

    def __init__(self, layers: Iterable[Any]) -> None:
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("xact.Sequential: needs at least one layer")
        for layer in self.layers:
            if not (
                callable(getattr(layer, "forward", None)) and hasattr(layer, "backward")
            ):
                raise TypeError(
                    f"xact.Sequential: {layer!r} is not a layer (forward and backward)"
                )

    def __repr__(self) -> str:
        return f"Sequential([{', '.join(map(repr, self.layers))}])"

    def to(
        self, *, xp: Any = None, device: Any = None, dtype: Any = None
    ) -> Sequential:
        """Move every Dense layer's parameters (see :meth:`Dense.to`)."""
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.to(xp=xp, device=device, dtype=dtype)
        return self

    def state_dict(self) -> dict[str, Array]:
        """Every layer's parameters, keyed ``"<index>.<name>"`` (PyTorch's
        convention): ``{"0.weights": ..., "0.biases": ..., "2.weights": ...}``."""
        state = {}
        for index, layer in enumerate(self.layers):
            for name, value in getattr(layer, "state_dict", dict)().items():
                state[f"{index}.{name}"] = value
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set every layer's parameters from a :meth:`state_dict` (arrays of
        any library); a missing or unexpected key is a ``KeyError``."""
        expected = {
            f"{index}.{name}"
            for index, layer in enumerate(self.layers)
            for name in getattr(layer, "parameter_names", ())
        }
        missing, unexpected = expected - state.keys(), state.keys() - expected
        if missing or unexpected:
            raise KeyError(
                f"xact.Sequential.load_state_dict: missing "
                f"{sorted(missing) or 'nothing'}, unexpected "
                f"{sorted(unexpected) or 'nothing'}"
            )
        for index, layer in enumerate(self.layers):
            prefix = f"{index}."
            own = {
                k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)
            }
            if own:
                layer.load_state_dict(own)

    def save(self, path: Any) -> None:
        """Write the model to ``path`` in the safetensors format: parameters as
        tensors, the architecture in the metadata; :func:`xact.load` reads it
        back onto any backend."""
        from .saving import save

        save(self, path)

    def forward(self, x: Any) -> Array:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dvalues: Any, layers: Sequence[Any] | None = None) -> Array:
        """Backpropagate ``dvalues`` (d loss / d output) through the layers."""
        for layer in reversed(self.layers if layers is None else layers):
            dvalues = layer.backward(dvalues)
        return dvalues

    def predict(self, x: Any) -> Array:
        """The model's output (lazy on Dask: nothing is computed). The layers
        keep no caches, so ``jax.jit(model.predict)`` leaves no tracer."""
        with not_keeping():
            return self.forward(x)

    def _loss(self, loss: Loss | str) -> Loss:
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(
                    f"xact.Sequential: unknown loss {loss!r}; "
                    f"known: {', '.join(LOSSES)}"
                )
            return LOSSES[loss]()
        if not isinstance(loss, Loss):
            raise TypeError(
                f"xact.Sequential: loss must be a Loss or a name, got {loss!r}"
            )
        return loss

    def _fused_softmax_crossentropy(self, loss: Loss) -> bool:
        last = self.layers[-1]
        return (
            isinstance(last, Softmax)
            and last.options["axis"] in (-1, 1)
            and isinstance(loss, CategoricalCrossentropy)
        )

    def train_step(self, x: Array, y: Array, loss: Loss, optimizer: Optimizer) -> Array:
        """One forward, backward and update on a batch; returns the loss (0-d)."""
        output = self.forward(x)
        value = loss(y, output)
        if self._fused_softmax_crossentropy(loss):
            # Softmax + categorical cross-entropy: d loss / d logits is
            # (y_pred - y_true)/N, never a division by a clipped probability.
            # d loss / d logits = p * sum(t) - t for any target rows (all-zero,
            # multi-hot, padded); p - t only where each row sums to 1
            xp, (probabilities,) = resolve("Sequential.fit", output)
            targets = class_targets("Sequential.fit", xp, loss.y_true, probabilities)
            scale = probabilities.shape[0] if loss.reduction == "mean" else 1
            mass = xp.sum(targets, axis=-1, keepdims=True)
            gradient = (probabilities * mass - targets) / scale
            self.backward(gradient, self.layers[:-1])
        else:
            self.backward(loss.backward())
        optimizer.step(self.layers)
        return value

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        loss: Loss | str,
        optimizer: Optimizer,
        epochs: int,
        batch_size: int | None = None,
        shuffle_seed: int | None = None,
        progress: bool = False,
    ) -> dict[str, list[float]]:
        """Train; returns the history ``{"loss": [...], "accuracy": [...],
        "seconds": [...]}`` of per-epoch means over the batches.

        One host sync per epoch (for the history), none per batch. With
        ``batch_size`` the rows are shuffled each epoch by
        ``numpy.random.default_rng(shuffle_seed)``; ``progress=True`` shows a
        tqdm bar with loss and accuracy.
        """
        loss = self._loss(loss)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "xact.Sequential.fit: optimizer must be an Optimizer, "
                f"got {optimizer!r}"
            )
        epochs = positive_integer("Sequential.fit", "epochs", epochs)
        xp, (X, y) = resolve("Sequential.fit", X, y, floating=False)
        if is_lazy(xp, X) and not is_traced(X):
            raise TypeError(
                "xact.Sequential.fit: training on Dask (or Cubed) arrays is not "
                "supported (each step would grow the task graph); fit on a NumPy "
                "sample (X.compute()) and predict on the lazy arrays"
            )
        n = X.shape[0]
        if y.shape[0] != n and tuple(y.shape) != (1, n):
            raise ValueError(
                f"xact.Sequential.fit: X has {n} rows but y has shape {tuple(y.shape)}"
            )
        if tuple(y.shape) == (1, n):
            y = xp.reshape(y, (n,))
        size = (
            n
            if batch_size is None
            else positive_integer("Sequential.fit", "batch_size", batch_size)
        )
        if y.ndim == 1 and n:
            # the labels are checked once here, not per batch (a host sync)
            classes = self.forward(X[:1, ...]).shape[-1]
            check_labels("Sequential.fit", xp, y, classes)
        rng = np.random.default_rng(shuffle_seed)
        device = array_device(X)
        history: dict[str, list[float]] = {"loss": [], "accuracy": [], "seconds": []}
        epochs_range: Iterable[int] = range(epochs)
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError as error:
                raise ImportError(
                    "xact.Sequential.fit: progress=True needs tqdm "
                    "(pip install 'xact-activations[progress]')"
                ) from error

            bar = tqdm(epochs_range, desc="fit", unit="epoch")
            epochs_range = bar
        with labels_already_checked(y.ndim == 1):
            for _ in epochs_range:
                start = time.perf_counter()
                total_loss: Array = 0.0
                total_correct: Array = 0.0
                order = rng.permutation(n) if size < n else None
                for first in range(0, n, size):
                    if order is None:
                        xb, yb = X, y
                    else:
                        rows = xp.asarray(order[first : first + size], device=device)
                        xb, yb = xp.take(X, rows, axis=0), xp.take(y, rows, axis=0)
                    count = xb.shape[0]
                    value = self.train_step(xb, yb, loss, optimizer)
                    batch_total = value if loss.reduction == "sum" else value * count
                    total_loss = total_loss + batch_total
                    total_correct = (
                        total_correct + accuracy(yb, self.layers[-1].output) * count
                    )
                summary = to_host(
                    xp.stack([xp.asarray(total_loss), xp.asarray(total_correct)])
                )
                history["loss"].append(float(summary[0]) / n)
                history["accuracy"].append(float(summary[1]) / n)
                history["seconds"].append(time.perf_counter() - start)
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{history['loss'][-1]:.4f}",
                        acc=f"{history['accuracy'][-1]:.3f}",
                        refresh=False,
                    )
        return history

    def evaluate(self, X: Any, y: Any, *, loss: Loss | str) -> dict[str, float]:
        """Loss and accuracy on ``(X, y)`` as Python floats (one host sync)."""
        loss = self._loss(loss)
        output = self.forward(X)
        value = loss(y, output)
        xp, (score,) = resolve("Sequential.evaluate", accuracy(y, output))
        summary = to_host(xp.stack([value, score]))
        return {"loss": float(summary[0]), "accuracy": float(summary[1])}
