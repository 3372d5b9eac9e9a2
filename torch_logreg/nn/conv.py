"""Convolution and pooling, each with its backward written out, for the networks of the document's last
section.

Shapes: x (N, C, H, W), weight (O, C, kh, kw), bias (O,), y (N, O, H', W') with
H' = ⌊(H + 2p − d·(kh − 1) − 1) / s⌋ + 1 (and the same for W').

Convolution, Y = W ⋆ X + b (a cross-correlation, as ``torch.nn.functional.conv2d``):

    Y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v W[o, c, u, v] · X[n, c, s·i + d·u − p, s·j + d·v − p]

    dX = the transposed convolution of dY with W        (each input pixel collects what it fed)
    dW[o, c, u, v] = Σ_n Σ_i Σ_j dY[n, o, i, j] · X[n, c, s·i + d·u − p, s·j + d·v − p]
                                                        (the correlation of X with dY: for each kernel
                                                        cell (u, v), dYᵀ times the X it multiplied)
    db[o] = Σ_n Σ_i Σ_j dY[n, o, i, j]

Max pooling: Y[n, c, i, j] = max over the window; dX gets dY at the arg-max of each window and 0
elsewhere.  Ties: the first maximum in row-major order within the window takes the whole gradient
(as PyTorch), so the gradient is a subgradient.  Overlapping windows add their shares.

Average pooling: Y = the window's mean over kh·kw cells (padding counts as zeros, PyTorch's default
``count_include_pad=True``); dX spreads dY / (kh·kw) over every cell of each window.

Flatten: (N, C, H, W) -> (N, C·H·W), a view; its backward is the reverse view.

The primitives are ``conv2d``, ``conv_transpose2d``, ``max_pool2d``'s indices and, for dW, matmul on
the unfolded X (as ``linear`` uses matmul): no autograd inside any backward.  The formulas themselves
live in ``conv_formulas.py`` (importable from here); the Functions below and the CNN's graph-free
``cost_and_grads`` both call them.  Under ``functional.plain_autograd()`` the
wrappers run stock PyTorch ops instead, so ``nn.gradcheck`` can hold these against autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair

from . import autograd_switch
from .conv_formulas import (  # noqa: F401  (the formulas are importable from here, beside their Functions)
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward_bias,
    conv2d_backward_input,
    conv2d_backward_weight,
    conv2d_forward,
    conv2d_patches,
    max_pool2d_backward,
    max_pool2d_forward,
)


class Conv2dFunction(torch.autograd.Function):
    """Y = W ⋆ X + b, with dX, dW and db written out (see the module docstring)."""

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation) -> Tensor:
        return conv2d_forward(x, weight, bias, stride, padding, dilation)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, stride, padding, dilation = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias, ctx.geometry = bias is not None, (stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.geometry
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_x = (
            conv2d_backward_input(grad_y, weight, x.shape[-2:], stride, padding, dilation) if need_x else None
        )
        grad_weight = (
            conv2d_backward_weight(grad_y, x, weight.shape[-2:], stride, padding, dilation)
            if need_weight
            else None
        )
        grad_bias = conv2d_backward_bias(grad_y) if need_bias and ctx.has_bias else None
        return grad_x, grad_weight, grad_bias, None, None, None


class MaxPool2dFunction(torch.autograd.Function):
    """Y = the window's maximum; dX = dY routed to each window's first arg-max."""

    @staticmethod
    def forward(x: Tensor, kernel, stride, padding) -> tuple[Tensor, Tensor]:
        return max_pool2d_forward(x, kernel, stride, padding)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x = inputs[0]
        _, indices = output
        ctx.save_for_backward(indices)
        ctx.input_shape = x.shape
        ctx.mark_non_differentiable(indices)

    @staticmethod
    def backward(ctx, grad_y: Tensor, grad_indices: Tensor | None = None):
        (indices,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        return max_pool2d_backward(grad_y, indices, ctx.input_shape), None, None, None


class AvgPool2dFunction(torch.autograd.Function):
    """Y = the window's mean over kh·kw cells; dX = dY / (kh·kw) spread over every cell of its window."""

    @staticmethod
    def forward(x: Tensor, kernel, stride, padding) -> Tensor:
        return avg_pool2d_forward(x, kernel, stride, padding)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kernel, stride, padding = inputs
        ctx.input_shape, ctx.geometry = x.shape, (kernel, stride, padding)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        kernel, stride, padding = ctx.geometry
        return avg_pool2d_backward(grad_y, ctx.input_shape, kernel, stride, padding), None, None, None


class FlattenFunction(torch.autograd.Function):
    """(N, C, H, W) -> (N, C·H·W); backward: the reverse view."""

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.input_shape = inputs[0].shape

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        return grad_y.reshape(ctx.input_shape) if ctx.needs_input_grad[0] else None


# --------------------------------------------------------------------------
# the wrappers: torch.nn.functional's names and signatures
# --------------------------------------------------------------------------


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1) -> Tensor:
    """Y = W ⋆ X + b.  x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O,) -> (N, O, H', W').  groups = 1."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    return autograd_switch._apply(Conv2dFunction, x, weight, bias, stride, padding, dilation)


def _pool_geometry(kernel_size, stride, padding):
    kernel = _pair(kernel_size)
    return kernel, kernel if stride is None else _pair(stride), _pair(padding)


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """The maximum of each kernel_size window (stride defaults to kernel_size).

    (N, C, H, W) -> (N, C, H', W')."""
    kernel, stride, padding = _pool_geometry(kernel_size, stride, padding)
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return F.max_pool2d(x, kernel, stride, padding)
    if not torch.is_grad_enabled():
        return F.max_pool2d(x, kernel, stride, padding)
    return MaxPool2dFunction.apply(x, kernel, stride, padding)[0]


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """The mean of each kernel_size window (stride defaults to kernel_size).

    (N, C, H, W) -> (N, C, H', W')."""
    kernel, stride, padding = _pool_geometry(kernel_size, stride, padding)
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return F.avg_pool2d(x, kernel, stride, padding)
    return autograd_switch._apply(AvgPool2dFunction, x, kernel, stride, padding)


def flatten(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C·H·W): the step from the convolutional stack to the dense head."""
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return torch.flatten(x, 1)
    return autograd_switch._apply(FlattenFunction, x)
