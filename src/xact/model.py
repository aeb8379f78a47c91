"""Sequential model and its training loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import _model_file
from ._caches import not_keeping
from ._labels import check_labels, class_targets, labels_already_checked
from ._namespace import (
    Array,
    array_device,
    is_lazy,
    is_traced,
    namespace_of_array,
    resolve,
    to_host,
)
from ._public import public_names
from ._validate import positive_integer
from .dense import Dense
from .layers import GLU, Softmax
from .losses import LOSSES, CategoricalCrossentropy, Loss
from .metrics import accuracy
from .optim import Optimizer
from .optim import get as get_optimizer

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

    def summary(
        self,
        input_shape: Sequence[int] | None = None,
        *,
        print_fn: Callable[[str], Any] = print,
    ) -> None:
        """Print a table of the layers, their output shapes and parameter counts.

        Like Keras' ``model.summary()``, the table goes to ``print_fn``. The
        shapes are worked out from the layers' sizes, nothing is computed:
        the input is ``(None, n_inputs)`` of the first Dense layer unless
        ``input_shape`` (without the batch axis) is given.
        """
        shape: list[int | None] | None = None
        if input_shape is not None:
            shape = [None, *(int(n) for n in input_shape)]
        elif isinstance(self.layers[0], Dense):
            shape = [None, self.layers[0].n_inputs]
        rows = [("Layer", "Output shape", "Parameters")]
        total = 0
        for layer in self.layers:
            shape = _output_shape(layer, shape)
            count = _parameter_count(layer)
            total += count
            shown = "?" if shape is None else "(" + ", ".join(map(str, shape)) + ")"
            rows.append((repr(layer), shown, f"{count:,}"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]

        def line(row: tuple[str, str, str]) -> str:
            return (
                f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"
            )

        rule = "-" * len(line(rows[0]))
        body = [line(row) for row in rows[1:]]
        print_fn(
            "\n".join(
                [line(rows[0]), rule, *body, rule, f"Total parameters: {total:,}"]
            )
        )

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

    def save(self, path: Any) -> str:
        """Write the model to ``path`` in the safetensors format: parameters as
        tensors, the architecture in the metadata; :func:`xact.load` reads it
        back onto any backend. ``.safetensors`` is added where the name has
        no suffix; the path written is returned. The new file replaces an old
        one only once it is whole on disk (written beside it, then renamed):
        a crash or a full disk leaves the old model. A missing or unwritable
        folder raises before any work. bfloat16 parameters are refused
        (NumPy, which writes the file, has no bfloat16)."""
        return _model_file.write(self.layers, self.state_dict(), path)

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
        optimizer: Optimizer | str,
        epochs: int,
        batch_size: int | None = None,
        shuffle_seed: int | None = None,
        progress: bool = False,
        validation_data: tuple[Any, Any] | None = None,
    ) -> dict[str, list[float]]:
        """Train; returns the history ``{"loss": [...], "accuracy": [...],
        "seconds": [...]}`` of per-epoch means over the batches.

        ``optimizer`` is an :class:`~xact.optim.Optimizer` or a name
        (``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"``: a new one with its
        defaults, see :func:`xact.optim.get`). With ``validation_data=(X_val,
        y_val)`` the model is evaluated on it after each epoch, adding
        ``"val_loss"`` and ``"val_accuracy"`` to the history.

        One host sync per epoch (for the history), none per batch. With
        ``batch_size`` the rows are shuffled each epoch by
        ``numpy.random.default_rng(shuffle_seed)``; ``progress=True`` shows a
        tqdm bar with loss and accuracy.
        """
        loss = self._loss(loss)
        optimizer = get_optimizer(optimizer, "Sequential.fit")
        epochs = positive_integer("Sequential.fit", "epochs", epochs)
        xp, X, y = self._training_pair(X, y)
        n = X.shape[0]
        size = (
            n
            if batch_size is None
            else positive_integer("Sequential.fit", "batch_size", batch_size)
        )
        validation = None
        if validation_data is not None:
            if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
                raise TypeError(
                    "xact.Sequential.fit: validation_data must be a pair "
                    f"(X_val, y_val), got {type(validation_data).__name__}"
                )
            _, X_val, y_val = self._training_pair(*validation_data, "validation ")
            # the per-sample mean, as the training history reports it
            validation = (X_val, y_val, type(loss)(**loss.options))
        rng = np.random.default_rng(shuffle_seed)
        device = array_device(X)
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        if validation is not None:
            history.update(val_loss=[], val_accuracy=[])
        history["seconds"] = []
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
                totals = [xp.asarray(total_loss) / n, xp.asarray(total_correct) / n]
                if validation is not None:
                    X_val, y_val, val_loss = validation
                    with labels_already_checked(y_val.ndim == 1):
                        totals += _scores(self.predict(X_val), y_val, val_loss)
                summary = to_host(xp.stack(totals))
                for key, value in zip(history, summary, strict=False):
                    history[key].append(float(value))
                history["seconds"].append(time.perf_counter() - start)
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{history['loss'][-1]:.4f}",
                        acc=f"{history['accuracy'][-1]:.3f}",
                        refresh=False,
                    )
        return history

    def _training_pair(self, X: Any, y: Any, role: str = "") -> tuple[Any, Any, Any]:
        """``(xp, X, y)`` checked for training: eager arrays, one label per
        row (a (1, N) row of labels flattened), labels checked once."""
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
                f"xact.Sequential.fit: {role}X has {n} rows but {role}y has shape "
                f"{tuple(y.shape)}"
            )
        if tuple(y.shape) == (1, n):
            y = xp.reshape(y, (n,))
        if y.ndim == 1 and n:
            # the labels are checked once here, not per batch (a host sync)
            with not_keeping():
                classes = self.forward(X[:1, ...]).shape[-1]
            check_labels("Sequential.fit", xp, y, classes)
        return xp, X, y

    def evaluate(self, X: Any, y: Any, *, loss: Loss | str) -> dict[str, float]:
        """Loss and accuracy on ``(X, y)`` as Python floats (one host sync)."""
        scores = _scores(self.forward(X), y, self._loss(loss))
        summary = to_host(namespace_of_array(scores[1]).stack(scores))
        return {"loss": float(summary[0]), "accuracy": float(summary[1])}


def _scores(output: Array, y: Any, loss: Loss) -> list[Array]:
    """The loss and the accuracy of ``output`` against ``y``, as 0-d arrays
    of the output's library (no host sync)."""
    value = loss(y, output)
    xp, (score,) = resolve("Sequential.evaluate", accuracy(y, output))
    return [xp.asarray(value), score]


def _output_shape(
    layer: Any, shape: list[int | None] | None
) -> list[int | None] | None:
    """The output shape of ``layer`` for an input of ``shape`` (None: unknown)."""
    if shape is None:
        return None
    if isinstance(layer, Dense):
        return [*shape[:-1], layer.n_neurons]
    options = getattr(layer, "options", None)
    if options is None:  # a user's layer: its shape is not known
        return None
    if isinstance(layer, GLU):
        axis = options["axis"] % len(shape)
        halved = shape[axis]
        return [
            *shape[:axis],
            None if halved is None else halved // 2,
            *shape[axis + 1 :],
        ]
    return shape


def _parameter_count(layer: Any) -> int:
    """Trainable numbers in ``layer`` (Dense: weights and biases)."""
    if isinstance(layer, Dense):
        return layer.n_inputs * layer.n_neurons + layer.n_neurons
    parameters = getattr(layer, "parameters", None) or {}
    return sum(int(np.prod(p.shape)) for p in parameters.values())


__dir__ = public_names(__all__)
