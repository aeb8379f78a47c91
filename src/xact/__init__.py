"""xact: accurate activation functions for every Array API library.

Every function resolves the array namespace from its input at call time, so
the same call runs on NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict and
returns an array of the caller's library, device and floating dtype.
"""

from . import backends, datasets, losses, metrics, optim
from ._public import public_names
from ._registry import get, names
from ._run.fast import fast_paths_enabled, use_fast_paths
from .activations import (
    celu,
    elu,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    log_sigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softplus,
    softsign,
    squareplus,
    tanh,
    tanh_shrink,
)
from .dense import Dense
from .layers import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    HardShrink,
    HardSigmoid,
    HardSwish,
    HardTanh,
    Identity,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    SoftShrink,
    Softsign,
    Squareplus,
    Tanh,
    TanhShrink,
)
from .model import Sequential
from .saving import load
from .softmax import log_softmax, logsumexp, softmax, softmin

__version__ = "0.1.0"

# Aliases users bring from PyTorch, JAX and Keras.
swish = silu
hard_silu = hard_swish

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Dense",
    "HardShrink",
    "HardSigmoid",
    "HardSwish",
    "HardTanh",
    "Identity",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SoftShrink",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softsign",
    "Squareplus",
    "Tanh",
    "TanhShrink",
    "__version__",
    "backends",
    "celu",
    "datasets",
    "elu",
    "fast_paths_enabled",
    "gelu",
    "get",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "load",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "losses",
    "metrics",
    "mish",
    "names",
    "optim",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "use_fast_paths",
]

__dir__ = public_names(__all__)
