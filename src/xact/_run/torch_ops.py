"""xact's registered PyTorch operators, for ``torch.compile``.

Under ``torch.compile`` a NumPy round trip cannot be traced, and autograd
of the traced math would differentiate the composition of torch
operations. So each elementwise function enters the graph as one operator,
``xact::value``, whose derivative is a second one, ``xact::vjp`` (both
``torch.library.custom_op``, with a fake implementation for tracing, the
derivative registered with ``register_autograd`` and a vmap rule). Their
implementations are the eager routes of :mod:`xact._run.fast`: the kernels
where they serve, else the math and its analytic vector-Jacobian product.

The operators are registered outside any trace (PyTorch cannot register
while Dynamo traces): by ``import xact`` where torch is imported already,
else right after ``import torch`` finishes (:func:`register_after_import`,
a finder on ``sys.meta_path`` that removes itself), and at the first eager
call on a tensor. Should registering fail, the composed math runs.

Parameters cross the operator's schema as ``numbers`` (the float
parameters, in the catalogue's order) and ``text`` (gelu's
``approximate``, else empty).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
import threading
from typing import Any

from .._math.catalogue import definition
from .._namespace import in_compute_dtype

__all__ = ["decode", "encode", "ready", "register", "register_after_import"]

_LOCK = threading.Lock()
_OPERATORS: dict[str, Any] = {}


def ready() -> bool:
    """Whether the operators are registered."""
    return "value" in _OPERATORS


def encode(function: str, params: dict[str, Any]) -> tuple[list[float], str]:
    """``params`` as the operators' ``numbers`` and ``text``."""
    numbers = [float(v) for v in params.values() if not isinstance(v, str)]
    text = "".join(v for v in params.values() if isinstance(v, str))
    return numbers, text


def decode(function: str, numbers: list[float], text: str) -> dict[str, Any]:
    """The parameters ``encode`` gave ``numbers`` and ``text`` for."""
    given = iter(numbers)
    return {
        key: text if isinstance(default, str) else next(given)
        for key, default in definition(function).defaults.items()
    }


def value(x: Any, function: str, numbers: list[float], text: str) -> Any:
    """``xact::value``: ``function`` of ``x``."""
    return _OPERATORS["value"](x, function, numbers, text)


_FAILED: list[BaseException] = []  # a registration that failed: not again


def register() -> None:
    """Register ``xact::value`` and ``xact::vjp`` once (outside a trace).
    Where PyTorch refuses, the composed math runs under torch.compile."""
    if ready() or _FAILED:
        return
    with _LOCK:
        if ready() or _FAILED:
            return
        try:
            _OPERATORS.update(_define())
        except Exception as error:  # an older or stripped PyTorch
            _FAILED.append(error)


class _AfterTorch(importlib.abc.MetaPathFinder):
    """Registers the operators once ``import torch`` has finished."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "torch":
            return None
        # the real finders find torch (this one stands aside meanwhile); it
        # leaves sys.meta_path once torch has run, not at a mere find_spec
        index = sys.meta_path.index(self) if self in sys.meta_path else 0
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(index, self)
        loader = getattr(spec, "loader", None)
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module: Any) -> None:
            run(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            register()  # never raises: a failure leaves the composed math

        # a loader that refuses the attribute: torch imports as it is
        with contextlib.suppress(AttributeError, TypeError):
            loader.exec_module = exec_module  # type: ignore[union-attr]
        return spec


def register_after_import() -> None:
    """Register now if torch is imported, else once ``import torch`` ends."""
    if "torch" in sys.modules:
        register()
    elif not any(isinstance(f, _AfterTorch) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterTorch())


def _define() -> dict[str, Any]:
    import torch

    from . import fast

    def _torch() -> Any:
        return fast._namespace("torch")

    # the schemas written out: annotations are strings here (PEP 563)
    @torch.library.custom_op(
        "xact::value",
        mutates_args=(),
        schema="(Tensor x, str function, float[] numbers, str text) -> Tensor",
    )
    def value_op(
        x: torch.Tensor, function: str, numbers: list[float], text: str
    ) -> torch.Tensor:
        params = decode(function, numbers, text)
        y = fast.value(_torch(), function, definition(function).math, x, params)
        # a new, contiguous tensor, as the fake implementation says
        return y.clone() if y is x else y.contiguous()

    @value_op.register_fake
    def _(x: torch.Tensor, function: str, numbers: list[float], text: str) -> Any:
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    @torch.library.custom_op(
        "xact::vjp",
        mutates_args=(),
        schema="(Tensor x, Tensor d, str function, float[] numbers, str text)"
        " -> Tensor",
    )
    def vjp_op(
        x: torch.Tensor,
        d: torch.Tensor,
        function: str,
        numbers: list[float],
        text: str,
    ) -> torch.Tensor:
        params = decode(function, numbers, text)
        (x32, d32), rounded_back = in_compute_dtype(_torch(), x, d)
        generic = definition(function).vjp
        result = fast.vjp(_torch(), function, generic, x32, None, d32, params)
        return rounded_back(result).contiguous()  # type: ignore[no-any-return]

    @vjp_op.register_fake
    def _(
        x: torch.Tensor, d: torch.Tensor, function: str, numbers: list[float], text: str
    ) -> Any:
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    def value_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, *arguments = inputs
        ctx.save_for_backward(x)
        ctx.arguments = arguments

    def value_backward(ctx: Any, d: Any) -> tuple[Any, None, None, None]:
        (x,) = ctx.saved_tensors
        return vjp_op(x, d, *ctx.arguments), None, None, None

    def vjp_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, d, *arguments = inputs
        ctx.save_for_backward(x, d)
        ctx.arguments = arguments

    def vjp_backward(ctx: Any, g: Any) -> tuple[Any, Any, None, None, None]:
        # d * f'(x) is linear in d; its derivative in x, d * f''(x), is
        # autograd of xact's analytic derivative (the double backward; a
        # third derivative through the operator is not supported: the graph
        # below starts from a detached x)
        x, d = ctx.saved_tensors
        function, numbers, text = ctx.arguments
        params = decode(function, numbers, text)
        higher = torch.is_grad_enabled()  # create_graph asked for
        with torch.enable_grad():
            at = x.detach().requires_grad_(True)
            first = definition(function).vjp(_torch(), at, None, d, **params)
            (gx,) = torch.autograd.grad(first, at, g, create_graph=higher)
        return gx, vjp_op(x, g, function, numbers, text), None, None, None

    value_op.register_autograd(value_backward, setup_context=value_context)
    vjp_op.register_autograd(vjp_backward, setup_context=vjp_context)

    # elementwise: a batch dimension is one more dimension of the operands
    def value_vmap(info: Any, in_dims: tuple[Any, ...], x: Any, *rest: Any) -> Any:
        return value_op(x, *rest), in_dims[0]

    def vjp_vmap(
        info: Any, in_dims: tuple[Any, ...], x: Any, d: Any, *rest: Any
    ) -> Any:
        x_dim, d_dim = in_dims[0], in_dims[1]
        if x_dim is None:
            x, x_dim = x.unsqueeze(d_dim).expand_as(d), d_dim
        elif d_dim is None:
            d = d.unsqueeze(x_dim).expand_as(x)
        elif d_dim != x_dim:
            d = d.movedim(d_dim, x_dim)
        return vjp_op(x.contiguous(), d.contiguous(), *rest), x_dim

    value_op.register_vmap(value_vmap)
    vjp_op.register_vmap(vjp_vmap)
    return {"value": value_op, "vjp": vjp_op}
