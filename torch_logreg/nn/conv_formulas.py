"""The formulas of ``conv.py``, without autograd: convolution and pooling forward and backward.

The equations are derived in ``conv.py``'s docstring; its autograd Functions call these in their
backward, and the CNN's graph-free ``cost_and_grads`` (``cnn_fast_path.py``) calls the same ones.
Shapes: x (N, C, H, W), weight (O, C, kh, kw), y (N, O, H', W').  Every function accepts either memory
layout (contiguous or ``torch.channels_last``); a channels-last input gives channels-last results
without copies in between, which is what the fast path runs on (pooling is many times faster there).

Buffers: the ``out`` arguments take a tensor kept from the last step, so that a large result does not
pay its fresh pages again each step; its content is overwritten (a padded buffer's border must be 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def is_channels_last(x: Tensor) -> bool:
    """Whether x (N, C, H, W) is laid out as (N, H, W, C) in memory (and not also as (N, C, H, W))."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def _output_padding(
    input_size: tuple[int, int], output_size: tuple[int, int], kernel, stride, padding, dilation
):
    """The extra rows/columns a transposed convolution needs to give back exactly ``input_size``."""
    return tuple(
        size_in - ((size_out - 1) * s - 2 * p + d * (k - 1) + 1)
        for size_in, size_out, k, s, p, d in zip(input_size, output_size, kernel, stride, padding, dilation)
    )


def conv2d_forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation) -> Tensor:
    """Y = W ⋆ X + b.  (N, C, H, W) -> (N, O, H', W'), in x's memory layout."""
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward_input(grad_y: Tensor, weight: Tensor, input_size, stride, padding, dilation) -> Tensor:
    """dX: the transposed convolution of dY with W.  grad_y (N, O, H', W') -> (N, C, H, W)."""
    extra = _output_padding(input_size, grad_y.shape[-2:], weight.shape[-2:], stride, padding, dilation)
    return F.conv_transpose2d(
        grad_y, weight, stride=stride, padding=padding, output_padding=extra, dilation=dilation
    )


def conv2d_backward_bias(grad_y: Tensor) -> Tensor:
    """db[o] = Σ_n Σ_i Σ_j dY[n, o, i, j].  (N, O, H', W') -> (O,)."""
    return grad_y.sum((0, 2, 3))


def padded_rows(x: Tensor, padding, out: Tensor | None = None) -> Tensor:
    """x with p zero rows and columns around each image, laid out (N, H + 2p_h, W + 2p_w, C).

    ``out``: a buffer of that shape whose border is already 0 (only the inside is written)."""
    n, c, h, w = x.shape
    ph, pw = padding
    if ph == pw == 0 and out is None and is_channels_last(x):
        return x.permute(0, 2, 3, 1)  # already (N, H, W, C) in memory: a view
    if out is None:
        out = x.new_zeros(n, h + 2 * ph, w + 2 * pw, c)
    out[:, ph : ph + h, pw : pw + w].copy_(x.permute(0, 2, 3, 1))
    return out


def conv2d_patches(
    x: Tensor, kernel, output_size, stride, padding, dilation, out: Tensor | None = None, padded=None
) -> Tensor:
    """The unfolded X: P[n, i, j, u, v, c] = X[n, c, s·i + d·u − p, s·j + d·v − p] (0 outside), what
    kernel cell (u, v) multiplies at output position (i, j).  -> (N, H', W', kh, kw, C).

    ``F.unfold``'s values, in the order that makes P one (N·H'·W', kh·kw·C) matrix; one copy of a
    strided view of the padded X.  ``out`` and ``padded`` are buffers for P and for ``padded_rows``."""
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = kernel, output_size, stride, dilation
    source = padded_rows(x, padding, padded)  # (N, H + 2p, W + 2p, C)
    n, c = x.shape[:2]
    along_n, along_h, along_w, along_c = source.stride()
    windows = source.as_strided(  # every window of the padded X, a view
        (n, oh, ow, kh, kw, c),
        (along_n, sh * along_h, sw * along_w, dh * along_h, dw * along_w, along_c),
        source.storage_offset(),
    )
    if out is None:
        return windows.contiguous()
    return out.copy_(windows)


def conv2d_backward_weight(
    grad_y: Tensor, x: Tensor, kernel, stride, padding, dilation, patches: Tensor | None = None
) -> Tensor:
    """dW: the correlation of X with dY.  -> (O, C, kh, kw), contiguous.

    dW[o, c, u, v] = Σ_n Σ_i Σ_j dY[n, o, i, j] · X[n, c, s·i + d·u − p, s·j + d·v − p]
                   = (Pᵀ dY)[(u, v, c), o]    with P = ``conv2d_patches`` as an (N·H'·W', kh·kw·C) matrix
                                              and dY as an (N·H'·W', O) one:
    one matrix product sums over the batch and the positions at once.
    ``patches``: P, when the caller has made it already (into a buffer of its own).
    """
    n, o, oh, ow = grad_y.shape
    c = x.shape[1]
    kh, kw = kernel
    if patches is None:
        patches = conv2d_patches(x, kernel, (oh, ow), stride, padding, dilation)
    dy_rows = grad_y.permute(0, 2, 3, 1).reshape(n * oh * ow, o)  # a view when dY is channels-last
    by_cell = patches.view(n * oh * ow, kh * kw * c).T @ dy_rows  # (kh·kw·C, O)
    return by_cell.view(kh, kw, c, o).permute(3, 2, 0, 1).contiguous()


def max_pool2d_forward(x: Tensor, kernel, stride, padding) -> tuple[Tensor, Tensor]:
    """(Y, indices): each window's maximum and where it is (flat positions in its H·W plane)."""
    return F.max_pool2d(x, kernel, stride, padding, return_indices=True)


def max_pool2d_backward(grad_y: Tensor, indices: Tensor, input_shape, out: Tensor | None = None) -> Tensor:
    """dX: each window's dY added at its arg-max (``indices`` are flat positions in each H·W plane).

    A channels-last dY gives a channels-last dX; ``out``: a buffer of N·C·H·W elements."""
    n, c, h, w = input_shape
    if is_channels_last(grad_y):
        grad_x = grad_y.new_zeros(n, h * w, c) if out is None else out.view(n, h * w, c).zero_()
        grad_x.scatter_add_(
            1, indices.permute(0, 2, 3, 1).reshape(n, -1, c), grad_y.permute(0, 2, 3, 1).reshape(n, -1, c)
        )
        return grad_x.view(n, h, w, c).permute(0, 3, 1, 2)
    grad_x = grad_y.new_zeros(n, c, h * w) if out is None else out.view(n, c, h * w).zero_()
    grad_x.scatter_add_(2, indices.reshape(n, c, -1), grad_y.reshape(n, c, -1))
    return grad_x.view(n, c, h, w)


def avg_pool2d_forward(x: Tensor, kernel, stride, padding) -> Tensor:
    """Y = each window's mean over kh·kw cells (padding counts as zeros)."""
    return F.avg_pool2d(x, kernel, stride, padding)


def avg_pool2d_backward(grad_y: Tensor, input_shape, kernel, stride, padding) -> Tensor:
    """dX: the transposed convolution of dY with a kh×kw kernel of 1/(kh·kw), channel by channel."""
    channels = input_shape[1]
    spread = grad_y.new_full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]))
    extra = _output_padding(input_shape[-2:], grad_y.shape[-2:], kernel, stride, padding, (1, 1))
    return F.conv_transpose2d(
        grad_y, spread, stride=stride, padding=padding, output_padding=extra, groups=channels
    )
