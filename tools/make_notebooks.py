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
        "A small network, `Dense(2, 64) → ReLU → Dense(64, 3) → Softmax`, learns "
        "to tell apart the three arms of a spiral, trained with Adam — on the "
        "best backend available. Each step below says what it does and why."
    ),
    new_code_cell(SELECT_BACKEND),
    new_markdown_cell(
        "## The data\n\n"
        "Three arms of 100 points each. For arm $k$: "
        "$r = \\mathrm{linspace}(0, 1)$, "
        "$t = \\mathrm{linspace}(4k, 4(k+1)) + 0.2\\,\\mathcal{N}(0, 1)$ and "
        "$X = (r \\sin 2.5t,\\ r \\cos 2.5t)$: each arm winds around the origin "
        "and the arms interleave. The label $y$ is the arm, an integer 0, 1 or 2.\n\n"
        "The random numbers come from a seeded NumPy generator and are then moved "
        "to the backend, so the same seed gives the same points everywhere; the "
        "picture draws the NumPy copy."
    ),
    new_code_cell("""\
import matplotlib.pyplot as plt

X, y = xact.datasets.spiral(100, 3, seed=0, xp=xp)
print("X:", tuple(X.shape), X.dtype, "  y:", tuple(y.shape), y.dtype)
# fit is eager: on Dask or Cubed, train on the NumPy data (predict stays lazy below)
lazy = backend in ("dask", "cubed")
X_train, y_train = (X.compute(), y.compute()) if lazy else (X, y)

X_host, y_host = xact.datasets.spiral(100, 3, seed=0)   # the same points, in NumPy
plt.figure(figsize=(4, 4))
for k in range(3):
    plt.scatter(X_host[y_host == k, 0], X_host[y_host == k, 1], s=10, color=f"C{k}", label=f"class {k}")
plt.gca().set_aspect("equal")
plt.legend(loc="upper right")
plt.title("the spiral data")
plt.show()"""),
    new_markdown_cell(
        "## Why a linear model cannot do it\n\n"
        "A linear classifier, `Dense(2, 3) → Softmax`, scores each class with "
        "$w_k \\cdot x + b_k$ and picks the largest score. The set where one "
        "linear score beats the others is an intersection of half-planes: a "
        "convex wedge. Each arm of the spiral wraps around the other two, so no "
        "three convex pieces hold the three arms: a linear model can only cut the "
        "plane like a pie. Trained the same way as the network below (for fewer "
        "epochs: it stops improving early), compare its accuracy with a uniform "
        "guess and with the network's:"
    ),
    new_code_cell("""\
linear = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
linear_history = linear.fit(X_train, y_train, loss="categorical_crossentropy",
                            optimizer=xact.optim.Adam(0.02, decay=1e-4), epochs=300)
print(f"linear model: {linear_history['accuracy'][-1]:.1%} of the points right, "
      f"loss {linear_history['loss'][-1]:.4f} (a uniform guess: 1 in 3)")"""),
    new_markdown_cell(
        "## The model\n\n"
        "`Dense(2, 64)` maps each point to 64 features, $xW_1 + b_1$; `ReLU` "
        "keeps the positive part, $\\max(0, \\cdot)$, which bends the plane along "
        "64 lines; `Dense(64, 3)` mixes them into three class scores (logits); "
        "`Softmax` turns the logits into probabilities, "
        "$p_c = e^{z_c} / \\sum_j e^{z_j}$. Only the Dense layers have "
        "parameters: an $n_\\text{in} \\times n_\\text{out}$ weight matrix and "
        "$n_\\text{out}$ biases each. The seeds fix the initial weights (the same "
        "on every backend)."
    ),
    new_code_cell("""\
model = xact.Sequential([
    xact.Dense(2, 64, seed=1), xact.ReLU(),
    xact.Dense(64, 3, seed=2), xact.Softmax(),
])
model.summary()"""),
    new_markdown_cell(
        "## Loss, gradient and optimizer\n\n"
        "**Loss.** The categorical cross-entropy is the mean over the $N$ points "
        "of $-\\log p_{i, y_i}$, the negative log of the probability the model "
        "gives to the right class (clipped at $10^{-7}$, as Keras does, so a "
        "confident mistake costs a large but finite amount). A model that knows "
        "nothing gives every class $1/3$: a loss of $\\ln 3$.\n\n"
        "**Fused gradient.** Backpropagating through the loss and then through "
        "softmax separately would divide by $p$ and then multiply by softmax's "
        "Jacobian $\\mathrm{diag}(p) - pp^\\top$. The two together simplify to "
        "$$\\frac{\\partial L}{\\partial z} = \\frac{p - t}{N},$$ with $t$ the "
        "one-hot target. `fit` sees that the last layer is `Softmax` and the loss "
        "`categorical_crossentropy` and uses this directly: no division by a "
        "clipped probability, no Jacobian product.\n\n"
        "**Adam** keeps, per parameter, running means of the gradient $g$ and of "
        "$g^2$, $m \\leftarrow \\beta_1 m + (1-\\beta_1) g$ and "
        "$v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2$ ($\\beta_1 = 0.9$, "
        "$\\beta_2 = 0.999$), corrects their start-up bias, "
        "$\\hat m = m / (1-\\beta_1^t)$ and $\\hat v = v / (1-\\beta_2^t)$, and "
        "steps by $\\eta\\,\\hat m / (\\sqrt{\\hat v} + \\epsilon)$: every parameter "
        "moves by at most about $\\eta$, whatever the scale of its gradient. The learning "
        "rate decays as $\\eta_t = \\eta_0 / (1 + \\mathrm{decay} \\cdot t)$, here "
        "$\\eta_0 = 0.02$ and decay $10^{-4}$, for smaller steps late in training. "
        "Without `batch_size`, one epoch is one step on all 300 points."
    ),
    new_code_cell("""\
import time

optimizer = xact.optim.Adam(0.02, decay=1e-4)
start = time.perf_counter()
history = model.fit(X_train, y_train, loss="categorical_crossentropy",
                    optimizer=optimizer, epochs=1000)
print(f"accuracy {history['accuracy'][-1]:.3f}, loss {history['loss'][-1]:.4f}, "
      f"{time.perf_counter() - start:.1f} s on {backend}")
print(f"learning rate after {optimizer.iterations} steps: {optimizer.current_learning_rate:.4f}")
if lazy:
    model.to(xp=xp)  # parameters as lazy arrays: predict builds a graph"""),
    new_markdown_cell(
        "## The training curves\n\n"
        "The history holds, per epoch, the mean loss and the fraction of points "
        "classified right. The loss starts near $\\ln 3$ (at the start the logits "
        "are small and the probabilities almost uniform) and falls, steeply at "
        "first and then slowly, as the network follows the arms further; the "
        "accuracy rises from about one in three. The first and last epochs are "
        "printed above the plot."
    ),
    new_code_cell("""\
import math

print(f"epoch 1: loss {history['loss'][0]:.4f} (ln 3 = {math.log(3):.4f}), "
      f"accuracy {history['accuracy'][0]:.3f}")
print(f"epoch {len(history['loss'])}: loss {history['loss'][-1]:.4f}, "
      f"accuracy {history['accuracy'][-1]:.3f}")
import xact.plotting

figure = xact.plotting.plot_history(history, title=f"training on {backend}")"""),
    new_markdown_cell(
        "## The decision regions\n\n"
        "Every point of a fine grid over the plane goes through `model.predict`, "
        "on the model's backend, and is coloured by its most probable class; the "
        "data is drawn on top. Where the linear model could only cut the plane "
        "into wedges, the network's regions follow the arms; points on the wrong "
        "side of a boundary are the ones it still gets wrong."
    ),
    new_code_cell("""\
import xact.plotting

figure = xact.plotting.plot_decision_regions(model, X, y, xp=xp,
                                             title=f"decision regions ({backend})")"""),
    new_markdown_cell(
        "## The same notebook on other backends\n\n"
        "`xact.backends.select()` takes `XACT_BACKEND` if it is set, else CuPy "
        "when a CUDA device is usable, else NumPy, and every array above is made "
        "with `xp=xp`: data, parameters, gradients and Adam's state live on that "
        "backend (on the GPU with CuPy). Start "
        "Jupyter with, for example, `XACT_BACKEND=torch` or `XACT_BACKEND=jax`. "
        "JAX computes in float32 unless float64 is switched on: "
        "`xact.backends.select(enable_x64=True)` does that for the whole process.\n\n"
        "Dask and Cubed are lazy: nothing is computed until asked. Training needs "
        "numbers at every epoch (the history), so on those two the notebook trains "
        "on the computed NumPy copy of the data, then `model.to(xp=xp)` turns the "
        "parameters into lazy arrays. `predict` then builds a graph over the grid, "
        "and the decision-region plot computes it."
    ),
]

ACCURACY = [
    new_markdown_cell(
        "# Accuracy and speed, on the best backend available\n\n"
        "What xact is for, in two pictures: how far from the exact value xact, "
        "PyTorch and JAX land for GELU, SiLU, softplus and softmax in float32, "
        "and how xact's speed compares with the native kernels (`xact bench`). "
        "On a machine with a CUDA GPU and CuPy, xact's side runs on the GPU."
    ),
    new_code_cell(SELECT_BACKEND),
    new_markdown_cell(
        "xact returns arrays of the backend's library. To compare them with "
        "mpmath and draw them they are copied to NumPy: CuPy arrays with `.get()` "
        "(from the GPU), Dask and Cubed arrays by computing them; the others "
        "(NumPy, PyTorch on the CPU, JAX, array-api-strict) convert with "
        "`np.asarray`."
    ),
    new_code_cell("""\
def to_numpy(a):
    \"\"\"A NumPy copy, on the host, of an array of the selected backend.\"\"\"
    if backend == "cupy":
        return a.get()
    if backend in ("dask", "cubed"):
        a = a.compute()
    return np.asarray(a)"""),
    new_markdown_cell(
        "## What a ULP error is\n\n"
        "A float32 number has a 24-bit significand: between $2^e$ and "
        "$2^{e+1}$ consecutive float32 numbers are $2^{e-23}$ apart. That gap is "
        "one *unit in the last place* (ULP) there. The error of a result, in "
        "ULP, is $|\\text{result} - \\text{exact}|$ divided by the ULP of the "
        "exact value. The best a float32 result can be is the exact value "
        "rounded to the nearest float32: at most 0.5 ULP (correct rounding). A "
        "result of 0 where the exact value is a normal number is off by "
        "$2^{23}$ to $2^{24}$ ULP: no digit is right.\n\n"
        "The exact values come from mpmath with 60 significant digits, from the "
        "definitions xact's test suite uses (`tests/oracle.py`): "
        "$\\mathrm{gelu}(x) = \\tfrac{x}{2}\\,\\mathrm{erfc}(-x/\\sqrt2)$, "
        "$\\mathrm{silu}(x) = x / (1 + e^{-x})$, "
        "$\\mathrm{softplus}(x) = \\log(1 + e^x)$, "
        "$\\mathrm{softmax}(x)_i = e^{x_i} / \\sum_j e^{x_j}$. Each is kept as a "
        "pair of float64 numbers, hi + lo, so that the difference with a float32 "
        "result is itself exact enough. Points where the exact value is not a "
        "normal float32 (zero, subnormal, beyond the largest float) are left "
        "out, as in the tests."
    ),
    new_code_cell("""\
import time

import mpmath

mpf = mpmath.mpf
FLOAT32 = np.finfo(np.float32)
DIGITS = 60


def sigmoid_exact(x):
    return 1 / (1 + mpmath.exp(-x))


def softplus_exact(x):
    # log(1 + e^x), written so that e^x never overflows mpmath's exponent range
    return mpmath.log1p(mpmath.exp(x)) if x <= 0 else x + mpmath.log1p(mpmath.exp(-x))


EXACT = {
    "gelu": lambda x: x / 2 * mpmath.erfc(-x / mpmath.sqrt(2)),   # x Φ(x)
    "silu": lambda x: x * sigmoid_exact(x),
    "softplus": softplus_exact,
}


def split(values):
    \"\"\"mpmath values as (hi, lo, exponent, normal): hi + lo in float64, the
    binary exponent e of the value (2^e <= |value| < 2^(e+1)), and whether it
    is a normal float32.\"\"\"
    hi = np.array([float(v) for v in values])
    lo = np.array([float(v - mpf(h)) for v, h in zip(values, hi, strict=True)])
    exponent = np.array([int(mpmath.floor(mpmath.log(abs(v), 2))) if v else 0 for v in values])
    smallest, largest = mpf(float(FLOAT32.smallest_normal)), mpf(float(FLOAT32.max))
    normal = np.array([smallest <= abs(v) <= largest for v in values])
    return hi, lo, exponent, normal


def exact_elementwise(name, xs):
    with mpmath.workdps(DIGITS):
        return split([EXACT[name](mpf(float(x))) for x in xs])


def exact_softmax(logits):
    \"\"\"Softmax of each row, flattened.\"\"\"
    with mpmath.workdps(DIGITS):
        values = []
        for row in logits:
            powers = [mpmath.exp(mpf(float(v))) for v in row]
            total = mpmath.fsum(powers)
            values += [p / total for p in powers]
        return split(values)


def ulp_errors(result, exact):
    \"\"\"|result - exact| in float32 ULP of the exact value, 2^(e - 23);
    NaN where the exact value is not a normal float32, inf where the result
    is not finite.\"\"\"
    hi, lo, exponent, normal = exact
    result = np.asarray(result, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        errors = np.ldexp(np.abs((result - hi) - lo), (23 - exponent).astype(np.int32))
    errors = np.where(np.isfinite(result), errors, np.inf)
    return np.where(normal, errors, np.nan)"""),
    new_markdown_cell(
        "## The inputs\n\n"
        "For the elementwise functions, 2001 evenly spaced float32 points over the "
        "range where the exact value is a normal float32 and something happens: "
        "GELU's left tail ends where $x\\Phi(x)$ leaves the float32 range, SiLU's "
        "and softplus's where $e^x$ does. For softmax, 125 rows of 16 logits "
        "drawn uniformly from $[-50, 50]$ (seeded), so that within a row "
        "$x - \\max(x)$ spans most of the range where $e^{x - \\max}$ is still a "
        "normal float32."
    ),
    new_code_cell("""\
RANGES = {"gelu": (-14.0, 6.0), "silu": (-100.0, 20.0), "softplus": (-100.0, 20.0)}
inputs = {name: np.linspace(low, high, 2001, dtype=np.float32)
          for name, (low, high) in RANGES.items()}
inputs["softmax"] = np.random.default_rng(0).uniform(-50, 50, (125, 16)).astype(np.float32)

start = time.perf_counter()
exact = {name: exact_elementwise(name, inputs[name]) for name in RANGES}
exact["softmax"] = exact_softmax(inputs["softmax"])
print(f"exact values of {sum(x.size for x in inputs.values())} points "
      f"in {time.perf_counter() - start:.1f} s")"""),
    new_markdown_cell(
        "## The libraries compared\n\n"
        "xact on the selected backend (on CuPy: the inputs go to the GPU with "
        "`xp.asarray`, the results come back with `.get()`), and, when they are "
        "installed, PyTorch's `torch.nn.functional` (on a CUDA device when "
        "PyTorch sees one) and `jax.nn` under `jax.jit` on JAX's default device. "
        "All in float32. JAX's `gelu` defaults to the tanh approximation; it is "
        "asked for the exact one (`approximate=False`), which is what "
        "`xact.gelu` and PyTorch's `gelu` compute by default. A library that is "
        "not installed is named and skipped."
    ),
    new_code_cell("""\
import os

LIBRARIES = {}


def on_xact(function):
    return lambda a: to_numpy(function(xp.asarray(a)))


LIBRARIES[f"xact ({backend})"] = {name: on_xact(getattr(xact, name)) for name in inputs}

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("PyTorch is not installed: its curves are skipped")
else:
    torch_device = "cuda" if torch.cuda.is_available() else "cpu"

    def on_torch(function):
        return lambda a: function(torch.from_numpy(a).to(torch_device)).cpu().numpy()

    LIBRARIES[f"PyTorch ({torch_device})"] = {
        "gelu": on_torch(F.gelu),
        "silu": on_torch(F.silu),
        "softplus": on_torch(F.softplus),
        "softmax": on_torch(lambda t: torch.softmax(t, dim=-1)),
    }

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share a GPU with CuPy
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    print("JAX is not installed: its curves are skipped")
else:
    def on_jax(function):
        compiled = jax.jit(function)
        return lambda a: np.asarray(compiled(jnp.asarray(a)))

    LIBRARIES[f"JAX ({jax.default_backend()})"] = {
        "gelu": on_jax(lambda v: jax.nn.gelu(v, approximate=False)),
        "silu": on_jax(jax.nn.silu),
        "softplus": on_jax(jax.nn.softplus),
        "softmax": on_jax(lambda v: jax.nn.softmax(v, axis=-1)),
    }

print("compared:", ", ".join(LIBRARIES))"""),
    new_markdown_cell(
        "## The errors\n\n"
        "The table gives each library's largest error over the points counted "
        "(those where the exact value is a normal float32); the plots show every "
        "point, on a logarithmic axis. Softmax errors are drawn against "
        "$x - \\max(x)$ of the row, the quantity its error depends on. The dashed "
        "line is what xact's test suite asserts: 4 ULP for the elementwise "
        "functions over the whole float32 range, 8 ULP per softmax element "
        "(asserted for logits in $[-20, 20]$; here they reach $\\pm 50$). Errors "
        "below $10^{-3}$ ULP are drawn at $10^{-3}$ (a log axis has no 0). Where "
        "PyTorch and JAX return the same values, JAX's points (drawn last) cover "
        "PyTorch's."
    ),
    new_code_cell("""\
errors = {label: {name: ulp_errors(function(inputs[name]), exact[name])
                  for name, function in table.items()}
          for label, table in LIBRARIES.items()}

width = max(len(label) for label in errors) + 2
print("largest error, float32 ULP")
print(f"{'function':10}{'points':>7}" + "".join(f"{label:>{width}}" for label in errors))
for name in inputs:
    counted = int(np.sum(exact[name][3]))
    print(f"{name:10}{counted:>7}" + "".join(f"{np.nanmax(e[name]):>{width}.3g}" for e in errors.values()))"""),
    new_code_cell("""\
import matplotlib.pyplot as plt

BOUND = {"gelu": 4, "silu": 4, "softplus": 4, "softmax": 8}
logits = inputs["softmax"]
figure, axes = plt.subplots(2, 2, figsize=(12, 8), sharey=True)
for axis, name in zip(axes.ravel(), inputs, strict=True):
    x = (logits - logits.max(axis=-1, keepdims=True)).ravel() if name == "softmax" else inputs[name]
    for label, table in errors.items():
        axis.semilogy(x, np.maximum(table[name], 1e-3), ".", markersize=2, label=label)
    axis.axhline(BOUND[name], color="k", linestyle="--", linewidth=0.8,
                 label="bound of xact's tests (4 ULP, softmax 8)")
    axis.set_title(f"{name}, float32")
    axis.set_xlabel("x - max(x) in the row" if name == "softmax" else "x")
    axis.set_ylabel("error (ULP)")
figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center",
              ncol=len(errors) + 1, markerscale=5)
figure.tight_layout(rect=(0, 0.05, 1, 1))
plt.show()"""),
    new_markdown_cell(
        "## What the plots show\n\n"
        "- **xact** stays under the dashed line at every point. On NumPy, PyTorch "
        "and CuPy (and JAX with float64 switched on) xact computes a float32 "
        "input in float64 and rounds once, so its error is at most 0.5 ULP: the "
        "correctly rounded result. Elsewhere it may compute in float32 with "
        "error-free sums and products instead; the tests hold both ways to the "
        "same bound.\n"
        "- **GELU.** PyTorch computes $\\tfrac{x}{2}(1 + \\mathrm{erf}(x/\\sqrt2))$: "
        "for negative $x$, $1 + \\mathrm{erf}$ cancels, the error climbs by orders "
        "of magnitude as $x$ decreases and the result becomes 0 while the exact "
        "value is still a normal float32. JAX uses $\\mathrm{erfc}$, which does "
        "not cancel, but $\\mathrm{erfc}$ multiplies the rounding error of "
        "$x/\\sqrt2$ by about $x^2$: its error grows steadily along the tail, and "
        "at the far end $\\mathrm{erfc}$ itself falls below the normal float32 "
        "range before $x\\Phi(x)$ does (XLA on the CPU flushes subnormal numbers "
        "to zero). xact carries the rounding of $x/\\sqrt2$ into $\\mathrm{erfc}$.\n"
        "- **SiLU.** Far left, the exact value $x e^x$ is tiny but still normal. "
        "PyTorch's $x / (1 + e^{-x})$ overflows $e^{-x}$ to infinity and returns "
        "0; JAX's $x \\cdot \\mathrm{sigmoid}(x)$ returns 0 from a slightly larger "
        "$x$ on, where $\\mathrm{sigmoid}(x)$ would become subnormal (flushed to "
        "zero by XLA on the CPU). Both lose every digit there.\n"
        "- **Softplus** is the control: all three libraries use a stable formula "
        "and stay close to the exact value; xact's curve sits at correct rounding "
        "where it computes in float64.\n"
        "- **Softmax.** PyTorch and JAX compute $e^{x - \\max}$ after rounding "
        "$x - \\max$ to float32. Where that subtraction is not exact, its "
        "rounding error (up to half an ULP of $x - \\max$) is an absolute error "
        "in the argument of $e^{\\cdot}$, which becomes the same relative error "
        "in its result: the upper band of their points rises with "
        "$|x - \\max|$. Where the subtraction happens to be exact, their points "
        "stay low. xact computes $x - \\max$ as an exact pair hi + lo (TwoSum) "
        "and uses $e^{hi}(1 + lo)$.\n\n"
        "What is described here is what the CPU kernels do; on a GPU the native "
        "curves come from the GPU kernels, and the table says what ran."
    ),
    new_markdown_cell(
        "## Speed: `xact bench`\n\n"
        "Accuracy has a price in operations. `xact.bench.run` is the measurement "
        "behind the `xact bench` command (`xact bench --size 100000 --json "
        "bench.json` writes the same rows to a file): per function, it times "
        "xact's forward pass (the function) and backward pass (the layer's "
        "`backward`) against the native kernels doing the same — PyTorch's "
        "`torch.nn.functional` and autograd for NumPy and PyTorch arrays, "
        "`jax.nn` and `jax.grad` under `jax.jit` for JAX arrays — on one array of "
        "random float32 values in $[-8, 8]$. Each time is the minimum of 5 runs "
        "after a warm-up. `xact bench` knows NumPy, PyTorch, JAX and CuPy; on "
        "another backend this notebook times NumPy. On a CPU it runs on a small "
        "array so that the notebook stays fast; on CuPy on a large one, where a "
        "GPU is busy enough to measure."
    ),
    new_code_cell("""\
import xact.bench

bench_backend = backend if backend in ("numpy", "torch", "jax", "cupy") else "numpy"
size = 10_000_000 if bench_backend == "cupy" else 100_000
rows = xact.bench.run(bench_backend, size=size, dtype="float32", repeats=5)
print("\\n".join(xact.bench.header(bench_backend, size, "float32")))


def shown(ratio):
    return "—" if ratio is None else f"{ratio:.2f}x"


print(f"\\n{'function':14}{'forward':>10}{'backward':>10}")
for row in rows:
    print(f"{row.function:14}{shown(row.forward_ratio):>10}{shown(row.backward_ratio):>10}")"""),
    new_markdown_cell(
        "## How to read the ratios\n\n"
        "Each ratio is xact's time divided by the native kernel's: 1 means "
        "the same speed, 2 means xact takes twice as long, below 1 xact is "
        "faster. A dash means there was no native kernel to compare with (the "
        "library is not installed, or has no such function). On a small array "
        "the times are short and include each call's fixed overhead, so the "
        "ratios say more about overhead than about throughput; run `xact bench` "
        "with its default size for that. On a machine shared with other work "
        "the times are noisy: the minimum of the repeats helps, and a ratio far "
        "from its neighbours is worth measuring again."
    ),
    new_code_cell("""\
measured = [row for row in rows if row.forward_ratio is not None]
if not measured:
    print("no native kernels to compare with here: nothing to plot")
else:
    positions = np.arange(len(measured))
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(measured) + 1.5))
    axis.barh(positions - 0.2, [row.forward_ratio for row in measured], 0.4, label="forward")
    axis.barh(positions + 0.2, [row.backward_ratio or np.nan for row in measured], 0.4,
              label="backward")
    axis.axvline(1, color="k", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_yticks(positions, [row.function for row in measured])
    axis.invert_yaxis()
    axis.set_xlabel("time of xact / time of the native kernel (log scale; < 1: xact faster)")
    axis.set_title(f"xact bench: {bench_backend}, {size:,} float32 elements")
    axis.legend()
    figure.tight_layout()
    plt.show()"""),
]


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    for name, cells in (
        ("activations", ACTIVATIONS),
        ("spiral_training", SPIRAL),
        ("gpu_and_accuracy", ACCURACY),
    ):
        notebook = new_notebook(cells=cells)
        for index, cell in enumerate(notebook.cells):
            cell.id = f"{name}-{index:02d}"  # stable ids: regenerating changes nothing
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(notebook, ROOT / f"{name}.ipynb")


if __name__ == "__main__":
    main()
