"""Convolution, pooling and flatten, each with its backward written by hand.

Shapes: x (N, C, H, W), weight (O, C, kh, kw), bias (O,), y (N, O, H', W') with, per
spatial dimension (stride s, padding p, dilation d, kernel k),

    H' = ⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1.

Convolution (a cross-correlation, as ``torch.nn.functional.conv2d``), X zero-padded by p:

    Y[n,o,i,j] = Σ_c,u,v W[o,c,u,v] · X[n, c, s·i + d·u − p, s·j + d·v − p] + b[o]      Y = W ⋆ X + b

Backward, each sum read the other way round:

    dX = dY ⋆ᵀ W        the transposed convolution of dY with W (same s, p, d), cut to (H, W)
    dW = X ⋆ dY         dW[o,c,u,v] = Σ_n,i,j dY[n,o,i,j] · X[n, c, s·i + d·u − p, s·j + d·v − p]
    db = Σ_n,i,j dY     summed over batch and space

Max pooling (k × k windows, stride s, X padded with −∞): Y[n,c,i,j] is the largest entry of
its window; dX receives dY at that entry and 0 elsewhere, summed where windows overlap.
Tie rule, as PyTorch's: the first maximum in row-major window order (top row first, left to
right) is the arg-max; a NaN in a window is its maximum.

Average pooling (padding counted, as PyTorch's default ``count_include_pad=True``):
Y[n,c,i,j] = (1/(kh·kw)) Σ over the window of X padded with 0; backward spreads dY/(kh·kw)
over each window: dX = dY ⋆ᵀ 1/(kh·kw), a transposed convolution per channel.

Flatten: (N, C, H, W) -> (N, C·H·W), a view; backward reshapes dY back.

Primitives are ``conv2d``, ``conv_transpose2d``, ``max_pool2d`` (forward and arg-max) and
scatter-add; no autograd runs inside a backward.  Under ``functional.plain_autograd()`` the
wrappers run the stock ``torch.nn.functional`` ops instead, so ``torch_logreg.nn.gradcheck``
holds these backwards against autograd for any model built from them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair

from .functional import _PLAIN_AUTOGRAD, _apply


def _output_padding(input_size, grad_size, kernel, stride, padding, dilation) -> tuple[int, int]:
    """The rows and columns a transposed convolution adds at the end so dX has x's (H, W):
    the forward's floor dropped up to s − 1 of them."""
    return tuple(
        n - ((g - 1) * s - 2 * p + d * (k - 1) + 1)
        for n, g, k, s, p, d in zip(input_size, grad_size, kernel, stride, padding, dilation)
    )


# --------------------------------------------------------------------------
# Formulas (no autograd)
# --------------------------------------------------------------------------


def conv2d_forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation) -> Tensor:
    """Y = W ⋆ X + b.  x (N, C, H, W), weight (O, C, kh, kw), bias (O,) -> (N, O, H', W')."""
    return F.conv2d(x, weight, bias, _pair(stride), _pair(padding), _pair(dilation))


def conv2d_backward(
    grad_y: Tensor, x: Tensor, weight: Tensor, stride, padding, dilation,
    need_x: bool = True, need_weight: bool = True, need_bias: bool = True,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """dX = dY ⋆ᵀ W, dW = X ⋆ dY, db = Σ_n,i,j dY.  grad_y (N, O, H', W') -> (N, C, H, W), (O, C, kh, kw), (O,).

    dW is a convolution too: with the batch as the channels to sum over, Xᵀ (C, N, H, W) is
    correlated with dYᵀ (O, N, H', W') as the kernel, stride and dilation trading places;
    the result (C, O, ≥kh, ≥kw) is cut to the kernel's size (the floor of H' may leave a
    row more) and transposed.  A gradient that is not needed is None and never computed.
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    kernel = weight.shape[2:]
    dx = dweight = dbias = None
    if need_x:
        extra = _output_padding(x.shape[2:], grad_y.shape[2:], kernel, stride, padding, dilation)
        dx = F.conv_transpose2d(grad_y, weight, None, stride, padding, extra, 1, dilation)
    if need_weight:
        correlation = F.conv2d(x.transpose(0, 1), grad_y.transpose(0, 1), None, dilation, padding, stride)
        dweight = correlation[:, :, : kernel[0], : kernel[1]].transpose(0, 1)
    if need_bias:
        dbias = grad_y.sum((0, 2, 3))
    return dx, dweight, dbias


def max_pool2d_forward(x: Tensor, kernel_size, stride, padding) -> tuple[Tensor, Tensor]:
    """(Y, arg-max).  x (N, C, H, W) -> Y (N, C, H', W') and the flat index h·W + w of each
    window's maximum in x (int64, same shape); ties go to the first in row-major order."""
    return F.max_pool2d(x, kernel_size, stride, padding, return_indices=True)


def max_pool2d_backward(grad_y: Tensor, indices: Tensor, input_shape) -> Tensor:
    """dX: dY added at each window's arg-max, 0 elsewhere.  grad_y, indices (N, C, H', W') -> (N, C, H, W).

    Added, not written: windows that overlap (stride < kernel) can share one arg-max.
    """
    n, c, h, w = input_shape
    dx = grad_y.new_zeros(n, c, h * w)
    dx.scatter_add_(2, indices.flatten(2), grad_y.flatten(2))
    return dx.view(n, c, h, w)


def avg_pool2d_forward(x: Tensor, kernel_size, stride, padding) -> Tensor:
    """Y = window mean over X padded with 0 (padding counted).  x (N, C, H, W) -> (N, C, H', W')."""
    return F.avg_pool2d(x, kernel_size, stride, padding)


def avg_pool2d_backward(grad_y: Tensor, input_shape, kernel_size, stride, padding) -> Tensor:
    """dX = dY ⋆ᵀ 1/(kh·kw): each dY spread evenly over its window.  grad_y (N, C, H', W') -> (N, C, H, W).

    Channels ride in the batch (N·C, 1, H', W'), so one (1, 1, kh, kw) kernel serves them all.
    """
    kernel, stride, padding = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = input_shape
    spread = grad_y.new_full((1, 1, *kernel), 1.0 / (kernel[0] * kernel[1]))
    extra = _output_padding((h, w), grad_y.shape[2:], kernel, stride, padding, (1, 1))
    flat = grad_y.reshape(n * c, 1, *grad_y.shape[2:])
    return F.conv_transpose2d(flat, spread, None, stride, padding, extra).view(n, c, h, w)


# --------------------------------------------------------------------------
# autograd Functions: forward and backward side by side, backward = the formulas
# --------------------------------------------------------------------------


class Conv2dFunction(torch.autograd.Function):
    """Y = W ⋆ X + b with the hand-written backward of ``conv2d_backward``."""

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation) -> Tensor:
        return conv2d_forward(x, weight, bias, stride, padding, dilation)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, stride, padding, dilation = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        ctx.geometry = stride, padding, dilation

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grads = conv2d_backward(grad_y, x, weight, *ctx.geometry, need_x, need_weight, need_bias and ctx.has_bias)
        return *grads, None, None, None


class MaxPool2dFunction(torch.autograd.Function):
    """Y = window max; dX gets dY at each window's arg-max (``max_pool2d_backward``)."""

    @staticmethod
    def forward(x: Tensor, kernel_size, stride, padding) -> Tensor:
        y, indices = max_pool2d_forward(x, kernel_size, stride, padding)
        return y, indices

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, indices = output
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        ctx.input_shape = inputs[0].shape

    @staticmethod
    def backward(ctx, grad_y: Tensor, _grad_indices):
        (indices,) = ctx.saved_tensors
        dx = max_pool2d_backward(grad_y, indices, ctx.input_shape) if ctx.needs_input_grad[0] else None
        return dx, None, None, None


class AvgPool2dFunction(torch.autograd.Function):
    """Y = window mean (padding counted); dX spreads dY/(kh·kw) over each window (``avg_pool2d_backward``)."""

    @staticmethod
    def forward(x: Tensor, kernel_size, stride, padding) -> Tensor:
        return avg_pool2d_forward(x, kernel_size, stride, padding)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kernel_size, stride, padding = inputs
        ctx.input_shape, ctx.geometry = x.shape, (kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        return avg_pool2d_backward(grad_y, ctx.input_shape, *ctx.geometry), None, None, None


class FlattenFunction(torch.autograd.Function):
    """(N, C, H, W) -> (N, C·H·W) as a view; backward reshapes dY to x's shape."""

    @staticmethod
    def forward(x: Tensor, start_dim: int, end_dim: int) -> Tensor:
        return x.flatten(start_dim, end_dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.input_shape = inputs[0].shape

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        return (grad_y.reshape(ctx.input_shape) if ctx.needs_input_grad[0] else None), None, None


# --------------------------------------------------------------------------
# torch.nn.functional's names and signatures
# --------------------------------------------------------------------------


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1) -> Tensor:
    """Y = W ⋆ X + b (groups = 1).  x (N, C, H, W), weight (O, C, kh, kw), bias (O,) -> (N, O, H', W')."""
    if _PLAIN_AUTOGRAD.get():
        return F.conv2d(x, weight, bias, stride, padding, dilation)
    return _apply(Conv2dFunction, x, weight, bias, stride, padding, dilation)


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Window max, stride defaulting to the kernel.  x (N, C, H, W) -> (N, C, H', W')."""
    stride = kernel_size if stride is None else stride
    if _PLAIN_AUTOGRAD.get():
        return F.max_pool2d(x, kernel_size, stride, padding)
    return _apply(MaxPool2dFunction, x, kernel_size, stride, padding)[0]


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Window mean, padding counted, stride defaulting to the kernel.  x (N, C, H, W) -> (N, C, H', W')."""
    stride = kernel_size if stride is None else stride
    if _PLAIN_AUTOGRAD.get():
        return F.avg_pool2d(x, kernel_size, stride, padding)
    return _apply(AvgPool2dFunction, x, kernel_size, stride, padding)


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Dimensions start_dim..end_dim merged into one, by default (N, C, H, W) -> (N, C·H·W), as ``nn.Flatten``."""
    if _PLAIN_AUTOGRAD.get():
        return torch.flatten(x, start_dim, end_dim)
    return _apply(FlattenFunction, x, start_dim, end_dim)
