"""Elementwise activation functions: the public, validating layer.

Every function takes an array of any Array API library (or a Python number or
sequence, converted with NumPy) and returns an array of the same shape, library,
device and floating dtype. Integer and boolean input becomes the namespace's
default floating dtype; half precision is computed in float32 and rounded back.
The math lives in :mod:`xact._math.elementwise`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._math import elementwise as m
from ._namespace import (
    Array,
    finfo_of,
    in_compute_dtype,
    resolve_one,
)
from ._public import public_names
from ._run.fast import LANE_TYPES, evaluate, lane
from ._run.fast import value as routed_value
from ._validate import axis_index, real_parameter

__all__ = [
    "celu",
    "elu",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_swish",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log_sigmoid",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softplus",
    "softsign",
    "squareplus",
    "tanh",
    "tanh_shrink",
]


def apply_elementwise(
    name: str,
    math: Callable[..., Array],
    x: Any,
    *,
    elementwise: bool = True,
    **params: Any,
) -> Array:
    """Resolve ``x``, widen half precision, check that the parameters are
    numbers of the dtype computed in, apply ``math(xp, x, **params)`` (on the
    backend's fast path, :mod:`xact._run.fast`)."""
    if type(x) in LANE_TYPES and elementwise:
        result = lane(name, x, params)
        if result is not None:
            return result
    xp, given = resolve_one(name, x)
    (x,), rounded_back = in_compute_dtype(xp, given)
    check_representable(name, params, finfo_of(xp, x.dtype), x.dtype)
    if elementwise:  # the kernels round once to the given dtype, half included
        return routed_value(xp, name, math, given, params)
    return rounded_back(evaluate(xp, math, (x,), params, elementwise=False))


def check_representable(
    fname: str, params: dict[str, Any], info: Any, dtype: Any
) -> None:
    """A float parameter must be 0 or a normal number of the dtype computed in.

    Parameters are exact values; one that the dtype cannot hold (1e39 in
    float32, a subnormal) cannot be honoured there, so it is a ``ValueError``
    rather than an inf, a NaN or a silent loss of bits.
    """
    smallest, largest = float(info.smallest_normal), float(info.max)
    for pname, value in params.items():
        if not isinstance(value, float) or value == 0.0:
            continue
        if not smallest <= abs(value) <= largest:
            raise ValueError(
                f"xact.{fname}: {pname}={value!r} is not a normal number of "
                f"{dtype_name(dtype)} (magnitude {smallest:.3g} to {largest:.3g}), "
                f"the dtype it is computed in"
            )


def dtype_name(dtype: Any) -> str:
    """``float32`` for any library's float32 dtype object."""
    name = getattr(dtype, "name", None) or str(dtype)
    return str(name).rsplit(".", 1)[-1]


def relu(x: Any, /) -> Array:
    r"""Rectified linear unit.

    .. math:: \mathrm{relu}(x) = \max(x, 0)

    Returns an array of the same shape, dtype and device as `x`; NaN
    propagates; the derivative at 0 is taken as 0 (PyTorch, JAX).

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    return apply_elementwise("relu", m.relu_math, x)


def relu6(x: Any, /) -> Array:
    r"""ReLU capped at 6.

    .. math:: \mathrm{relu6}(x) = \min(\max(x, 0), 6)

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.relu6(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """
    return apply_elementwise("relu6", m.relu6_math, x)


def leaky_relu(x: Any, /, *, negative_slope: float = 0.01) -> Array:
    r"""Leaky ReLU.

    .. math:: x \text{ if } x > 0 \text{ else } \mathrm{negative\_slope}\cdot x

    Parameters
    ----------
    x : array
    negative_slope : float, default 0.01
        Slope for negative input; the derivative at 0 uses it (PyTorch).

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.leaky_relu(np.array([-1.0, 0.0, 2.0]))
    array([-0.01,  0.  ,  2.  ])
    """
    slope = real_parameter("leaky_relu", "negative_slope", negative_slope)
    return apply_elementwise("leaky_relu", m.leaky_relu_math, x, negative_slope=slope)


def elu(x: Any, /, *, alpha: float = 1.0) -> Array:
    r"""Exponential linear unit (Clevert et al., 2015).

    .. math:: x \text{ if } x > 0 \text{ else } \alpha (e^x - 1)

    Notes
    -----
    ``expm1`` of ``min(x, 0)``, so the discarded branch never overflows.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.elu(np.array([-1.0, 2.0]))
    array([-0.63212056,  2.        ])
    """
    a = real_parameter("elu", "alpha", alpha)
    return apply_elementwise("elu", m.elu_math, x, alpha=a)


def selu(x: Any, /) -> Array:
    r"""Scaled ELU (Klambauer et al., 2017).

    .. math:: \lambda\,\mathrm{elu}(x, \alpha),\ \alpha = 1.6732632423543772,
        \ \lambda = 1.0507009873554805

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.selu(np.array([-1.0, 1.0]))
    array([-1.11133074,  1.05070099])
    """
    return apply_elementwise("selu", m.selu_math, x)


def celu(x: Any, /, *, alpha: float = 1.0) -> Array:
    r"""Continuously differentiable ELU (Barron, 2017).

    .. math:: \max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))

    `alpha` must be > 0.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.celu(np.array([-1.0, 1.0]), alpha=2.0)
    array([-0.78693868,  1.        ])
    """
    a = real_parameter("celu", "alpha", alpha, positive=True)
    return apply_elementwise("celu", m.celu_math, x, alpha=a)


def gelu(x: Any, /, *, approximate: str = "none") -> Array:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016).

    .. math:: x\,\Phi(x) = \frac{x}{2}\,\mathrm{erfc}(-x/\sqrt2)

    ``approximate="tanh"``:
    :math:`\frac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715 x^3)))`.

    Notes
    -----
    erfc (not 1 + erf) for the negative tail, with ``x/√2`` carried as an exact
    pair because erfc multiplies its rounding by about ``2 z²``. The tanh form
    is evaluated as ``x·sigmoid(2y)`` with ``2y`` carried as a pair.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.gelu(np.array([-1.0, 1.0]))
    array([-0.15865525,  0.84134475])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"xact.gelu: approximate must be 'none' or 'tanh', got {approximate!r}"
        )
    return apply_elementwise("gelu", m.gelu_math, x, approximate=approximate)


def silu(x: Any, /) -> Array:
    r"""Sigmoid linear unit, also called swish (Ramachandran et al., 2017).

    .. math:: x\,\sigma(x)

    Notes
    -----
    Where ``e^x`` is subnormal but ``x e^x`` is not, it is computed as
    ``(x h) h`` with ``h = e^{x/2}``; ``silu(-inf) = 0``.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.silu(np.array([-1.0, 1.0]))
    array([-0.26894142,  0.73105858])
    """
    return apply_elementwise("silu", m.silu_math, x)


def mish(x: Any, /) -> Array:
    r"""Mish (Misra, 2019).

    .. math:: x \tanh(\mathrm{softplus}(x))

    Notes
    -----
    ``tanh(softplus(x)) = n/(n+2)``, ``n = e^x(e^x+2)``, rewritten in ``e^{-x}``
    for ``x > 0``: no cancellation, no overflow.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.mish(np.array([-1.0, 1.0]))
    array([-0.30340146,  0.86509839])
    """
    return apply_elementwise("mish", m.mish_math, x)


def softplus(x: Any, /, *, beta: float = 1.0) -> Array:
    r"""Softplus, exact everywhere (no threshold cut-off).

    .. math:: \frac{1}{\beta}\log(1 + e^{\beta x})

    Notes
    -----
    ``(max(βx, 0) + log1p(e^{-|βx|}))/β`` with ``βx`` carried as a pair.
    `beta` must be nonzero.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.softplus(np.array([-1.0, 0.0, 1.0]))
    array([0.31326169, 0.69314718, 1.31326169])
    """
    b = real_parameter("softplus", "beta", beta, nonzero=True)
    return apply_elementwise("softplus", m.softplus_math, x, beta=b)


def softsign(x: Any, /) -> Array:
    r"""Softsign.

    .. math:: \frac{x}{1 + |x|}

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.softsign(np.array([-1.0, 3.0]))
    array([-0.5 ,  0.75])
    """
    return apply_elementwise("softsign", m.softsign_math, x)


def sigmoid(x: Any, /) -> Array:
    r"""Logistic sigmoid.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

    Notes
    -----
    ``e = exp(-|x|)``, then ``1/(1+e)`` or ``e/(1+e)``: never overflows.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.sigmoid(np.array([-1.0, 0.0, 1.0]))
    array([0.26894142, 0.5       , 0.73105858])
    """
    return apply_elementwise("sigmoid", m.sigmoid_math, x)


def log_sigmoid(x: Any, /) -> Array:
    r"""Logarithm of the sigmoid.

    .. math:: \log\sigma(x) = -\mathrm{softplus}(-x)

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.log_sigmoid(np.array([0.0]))
    array([-0.69314718])
    """
    return apply_elementwise("log_sigmoid", m.log_sigmoid_math, x)


def hard_sigmoid(x: Any, /) -> Array:
    r"""Hard sigmoid.

    .. math:: \mathrm{relu6}(x + 3)/6

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.hard_sigmoid(np.array([-4.0, 0.0, 4.0]))
    array([0. , 0.5, 1. ])
    """
    return apply_elementwise("hard_sigmoid", m.hard_sigmoid_math, x)


def hard_swish(x: Any, /) -> Array:
    r"""Hard swish (Howard et al., 2019), also called hard SiLU.

    .. math:: x\,\mathrm{relu6}(x + 3)/6

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.hard_swish(np.array([-4.0, 1.0, 4.0]))
    array([0.        , 0.66666667, 4.        ])
    """
    return apply_elementwise("hard_swish", m.hard_swish_math, x)


def hard_tanh(x: Any, /, *, min_val: float = -1.0, max_val: float = 1.0) -> Array:
    r"""Hard tanh: clip to ``[min_val, max_val]``.

    .. math:: \min(\max(x, \mathrm{min\_val}), \mathrm{max\_val})

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.hard_tanh(np.array([-2.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """
    lo = real_parameter("hard_tanh", "min_val", min_val)
    hi = real_parameter("hard_tanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(
            f"xact.hard_tanh: min_val must be <= max_val, got {min_val!r} > {max_val!r}"
        )
    return apply_elementwise("hard_tanh", m.hard_tanh_math, x, min_val=lo, max_val=hi)


def tanh(x: Any, /) -> Array:
    r"""Hyperbolic tangent.

    .. math:: \tanh x = \frac{e^x - e^{-x}}{e^x + e^{-x}}

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.tanh(np.array([0.0, 1.0]))
    array([0.        , 0.76159416])
    """
    return apply_elementwise("tanh", m.tanh_math, x)


def tanh_shrink(x: Any, /) -> Array:
    r"""Tanh shrink.

    .. math:: x - \tanh x

    Notes
    -----
    For ``|x| < 2`` Lambert's continued fraction gives ``x q/(1+q)`` with no
    cancellation (the direct difference loses all digits near 0).

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.tanh_shrink(np.array([1e-3]))
    array([3.333332e-10])
    """
    return apply_elementwise("tanh_shrink", m.tanh_shrink_math, x)


def hard_shrink(x: Any, /, *, lambd: float = 0.5) -> Array:
    r"""Hard shrink.

    .. math:: x \text{ if } |x| > \lambda \text{ else } 0

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.hard_shrink(np.array([-1.0, 0.2, 0.7]))
    array([-1. ,  0. ,  0.7])
    """
    lam = real_parameter("hard_shrink", "lambd", lambd, nonnegative=True)
    return apply_elementwise("hard_shrink", m.hard_shrink_math, x, lambd=lam)


def soft_shrink(x: Any, /, *, lambd: float = 0.5) -> Array:
    r"""Soft shrink.

    .. math:: x - \lambda\,\mathrm{sign}(x) \text{ if } |x| > \lambda \text{ else } 0

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.soft_shrink(np.array([-1.0, 0.2, 0.75]))
    array([-0.5 ,  0.  ,  0.25])
    """
    lam = real_parameter("soft_shrink", "lambd", lambd, nonnegative=True)
    return apply_elementwise("soft_shrink", m.soft_shrink_math, x, lambd=lam)


def squareplus(x: Any, /, *, b: float = 4.0) -> Array:
    r"""Squareplus (Barron, 2021).

    .. math:: \frac{x + \sqrt{x^2 + b}}{2}

    Notes
    -----
    ``b / (2(√(x²+b) - x))`` for ``x < 0`` (no cancellation) and ``hypot`` for
    the root (no overflow). `b` must be >= 0.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.squareplus(np.array([-1.0, 0.0, 1.0]))
    array([0.61803399, 1.        , 1.61803399])
    """
    bb = real_parameter("squareplus", "b", b, nonnegative=True)
    return apply_elementwise("squareplus", m.squareplus_math, x, b=bb)


def identity(x: Any, /) -> Array:
    r"""Identity (as an activation).

    .. math:: x

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.identity(np.array([1, 2]))
    array([1., 2.])
    """
    return apply_elementwise("identity", m.identity_math, x)


def glu(x: Any, /, *, axis: int = -1) -> Array:
    r"""Gated linear unit (Dauphin et al., 2017).

    .. math:: a \odot \sigma(b), \quad (a, b) \text{ the two halves of } x
        \text{ along } axis

    The length of `x` along `axis` must be even; the result has half of it.

    Examples
    --------
    >>> import numpy as np, xact
    >>> xact.glu(np.array([1.0, 2.0, 0.0, 0.0]))
    array([0.5, 1. ])
    """
    _, array = resolve_one("glu", x)
    if array.ndim == 0:
        raise ValueError("xact.glu: expected at least one dimension, got a 0-d array")
    index = axis_index("glu", axis, array.ndim)
    length = array.shape[index]
    if length is not None and length == length and length % 2:
        raise ValueError(
            f"xact.glu: the length along axis {axis} must be even, got shape "
            f"{tuple(array.shape)}"
        )
    return apply_elementwise("glu", m.glu_math, array, elementwise=False, axis=index)


__dir__ = public_names(__all__)
