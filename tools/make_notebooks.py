"""Write notebooks/*.ipynb (outputs cleared) from the cells below.

    python tools/make_notebooks.py

Edit the cells here, not the .ipynb files, so the notebooks stay reviewable.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1] / "notebooks"

SELECT_BACKEND = """\
import numpy as np
import xact

# XACT_BACKEND if set, else CuPy when a CUDA device is usable, else NumPy:
# the same notebook runs unchanged on a GPU machine.
backend, xp = xact.backends.select()
print(f"xact {xact.__version__} on backend: {backend}")"""

ACTIVATIONS = [
    new_markdown_cell(
        "# Activations, from scratch and with xact\n\n"
        "The walkthrough of the original teaching notebook — softmax, ReLU, "
        "sigmoid, tanh, leaky ReLU, a Dense layer and the cross-entropy loss on "
        "the spiral data — with its two bugs fixed: the hand formula for tanh "
        "and the loss cell that crashed on the label shape."
    ),
    new_code_cell(SELECT_BACKEND),
    new_markdown_cell(
        "## Softmax from scratch\n\n"
        "The textbook formula $e^{x_i} / \\sum_j e^{x_j}$ overflows as soon as a "
        "logit passes ~710 (float64): `exp(1000)` is `inf` and `inf/inf` is NaN."
    ),
    new_code_cell("""\
def naive_softmax(x):
    e = np.exp(x)
    return e / e.sum()

print(naive_softmax(np.array([5.0, 2.0, 0.0, -2.0])))   # fine: [0.945683 0.047083 0.006372 0.000862]
with np.errstate(over="ignore", invalid="ignore"):
    print(naive_softmax(np.array([1000.0, 0.0])))       # [nan  0.]: overflow"""),
    new_markdown_cell(
        "Subtracting the maximum first changes nothing mathematically and keeps "
        "every exponent ≤ 0. xact goes one step further: the rounding of "
        "`x - max` is carried into `exp` (TwoSum), so each probability is "
        "accurate to a few ULP however far it is from the maximum."
    ),
    new_code_cell("""\
def stable_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()

print(stable_softmax(np.array([1000.0, 0.0])))
for logits in ([5, 2, 0, -2], [4.8, 1.21, 2.385], [-2, -1, 0], [1, 2, 3], [0.5, 1.0, 1.5]):
    print(logits, "->", xact.softmax(xp.asarray(logits, dtype=xp.float64)))"""),
    new_markdown_cell("## ReLU, sigmoid, tanh and leaky ReLU"),
    new_code_cell("""\
x = xp.asarray([-1.0, 0.0, 1.0, 2.0])
print("relu      ", xact.relu(x))        # [0, 0, 1, 2]
print("sigmoid   ", xact.sigmoid(x))     # [0.268941, 0.5, 0.731059, 0.880797]
print("tanh      ", xact.tanh(x))        # [-0.761594, 0, 0.761594, 0.964028]
print("leaky_relu", xact.leaky_relu(x))  # [-0.01, 0, 1, 2]"""),
    new_markdown_cell(
        "The original notebook computed tanh by hand as "
        "`(tanh - 1) / (tanh + 1)`, which is not tanh. The correct hand formula "
        "is $\\tanh x = \\frac{e^{2x} - 1}{e^{2x} + 1}$ (for large $|x|$ write "
        "it in $e^{-2|x|}$ to avoid overflow):"
    ),
    new_code_cell("""\
def hand_tanh(x):
    e = np.exp(-2 * np.abs(x))            # never overflows
    return np.sign(x) * (1 - e) / (1 + e)

values = np.array([-1.0, 0.0, 1.0, 2.0, 30.0])
print(hand_tanh(values))
print(np.max(np.abs(hand_tanh(values) - np.tanh(values))))   # agrees with np.tanh"""),
    new_markdown_cell(
        "## A Dense layer and the loss on the spiral data\n\n"
        "The original's last cell called `dense.loss(np.array([y]), predictions)`: "
        "wrapping the labels in a list gives shape (1, 300), and the loss crashed. "
        "xact accepts an unambiguous (1, N) index array and gives the same value "
        "as for `y` itself."
    ),
    new_code_cell("""\
X, y = xact.datasets.create_spiral_dataset(100, 3, seed=0, xp=xp)
dense = xact.Dense(2, 3, seed=0, weight_init="small_normal")   # the seed's 0.01 * randn
predictions = xact.softmax(dense.forward(X))
print(predictions[:5])

mean_loss, per_sample = dense.loss(xp.stack([y]), predictions)  # np.array([y]): shape (1, 300)
print("loss with labels of shape (1, 300):", float(mean_loss))
print("loss with labels of shape (300,):  ", float(dense.loss(y, predictions)[0]))"""),
    new_markdown_cell(
        "## Every activation and its derivative\n\n"
        "Derivatives come from each layer's analytic `backward` (PyTorch's "
        "conventions at the kinks)."
    ),
    new_code_cell("""\
import xact.plotting
figure = xact.plotting.plot_activations()"""),
]

SPIRAL = [
    new_markdown_cell(
        "# Training on the spiral data\n\n"
        "`Dense(2, 64) → ReLU → Dense(64, 3) → Softmax`, Adam, on the classic "
        "three-arm spiral — on the best backend available."
    ),
    new_code_cell(SELECT_BACKEND),
    new_code_cell("""\
import time

X, y = xact.datasets.spiral(100, 3, seed=0, xp=xp)
# fit is eager: on Dask or Cubed, train on the NumPy data (predict stays lazy below)
lazy = backend in ("dask", "cubed")
X_train, y_train = (X.compute(), y.compute()) if lazy else (X, y)
model = xact.Sequential([
    xact.Dense(2, 64, seed=1), xact.ReLU(),
    xact.Dense(64, 3, seed=2), xact.Softmax(),
])
start = time.perf_counter()
history = model.fit(X_train, y_train, loss="categorical_crossentropy",
                    optimizer=xact.optim.Adam(0.02, decay=1e-4), epochs=1000)
print(f"accuracy {history['accuracy'][-1]:.3f}, loss {history['loss'][-1]:.4f}, "
      f"{time.perf_counter() - start:.1f} s on {backend}")
if lazy:
    model.to(xp=xp)  # parameters as lazy arrays: predict builds a graph"""),
    new_code_cell("""\
import matplotlib.pyplot as plt
import xact.plotting

figure = xact.plotting.plot_decision_regions(model, X, y, xp=xp,
                                             title=f"decision regions ({backend})")
plt.figure(figsize=(6, 3))
plt.plot(history["loss"], label="loss")
plt.plot(history["accuracy"], label="accuracy")
plt.xlabel("epoch")
plt.legend()
plt.show()"""),
]


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    for name, cells in (("activations", ACTIVATIONS), ("spiral_training", SPIRAL)):
        notebook = new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(notebook, ROOT / f"{name}.ipynb")


if __name__ == "__main__":
    main()
