"""The losses of style transfer (Gatys, Ecker & Bethge), each with its backward written out.

For the features F of one layer, shape (N, C, H, W), read as N matrices F (C, M) with M = H·W:

Gram matrix (which features fire together, wherever they are in the picture):

    G = F Fᵀ / (C·M)                                          (N, C, C)
    dF = (dG + dGᵀ) F / (C·M)

Style loss against a target Gram matrix A (a constant: the style image's):

    E = Σ ‖G − A‖²  (summed over the batch and both indices)
    dG = 2 (G − A)

Content loss against target features P (a constant: the content image's):

    L = ½ ‖F − P‖²
    dF = F − P

Total variation of an image X (N, C, H, W), the squared differences of neighbours:

    T = Σ (X[.., i+1, j] − X[.., i, j])² + Σ (X[.., i, j+1] − X[.., i, j])²
    dX = 2·(Dᵥᵀ Dᵥ X + Dₕᵀ Dₕ X), each pixel getting its differences with its up, down, left and right
    neighbours (fewer at the border).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import autograd_switch


def gram_forward(features: Tensor) -> Tensor:
    """G = F Fᵀ / (C·M).  features (N, C, H, W) -> (N, C, C)."""
    n, c = features.shape[:2]
    rows = features.reshape(n, c, -1)
    return rows @ rows.transpose(1, 2) / (c * rows.shape[-1])


def gram_backward(grad_gram: Tensor, features: Tensor) -> Tensor:
    """dF = (dG + dGᵀ) F / (C·M).  -> (N, C, H, W)."""
    n, c = features.shape[:2]
    rows = features.reshape(n, c, -1)
    grad = ((grad_gram + grad_gram.transpose(1, 2)) / (c * rows.shape[-1])) @ rows  # scale the (C, C) side
    return grad.reshape(features.shape)


class GramFunction(torch.autograd.Function):
    """G = F Fᵀ / (C·H·W) with dF = (dG + dGᵀ) F / (C·H·W)."""

    @staticmethod
    def forward(features: Tensor) -> Tensor:
        return gram_forward(features)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad_gram: Tensor):
        (features,) = ctx.saved_tensors
        return gram_backward(grad_gram, features) if ctx.needs_input_grad[0] else None


def style_loss_forward(gram: Tensor, target: Tensor) -> Tensor:
    """E = Σ ‖G − A‖².  (N, C, C), (N or 1, C, C) -> ()."""
    return (gram - target).pow(2).sum()


def style_loss_backward(gram: Tensor, target: Tensor) -> Tensor:
    """dG = 2 (G − A); with ``gram_backward``, dF = 4 (G − A) F / (C·M), as G − A is symmetric."""
    return 2 * (gram - target)


def content_loss_forward(features: Tensor, target: Tensor) -> Tensor:
    """L = ½ ‖F − P‖².  Same shapes -> ()."""
    return 0.5 * (features - target).pow(2).sum()


def content_loss_backward(features: Tensor, target: Tensor) -> Tensor:
    """dF = F − P."""
    return features - target


class StyleLossFunction(torch.autograd.Function):
    """E = Σ ‖G − A‖² with dG = 2 (G − A); A is a constant."""

    @staticmethod
    def forward(gram: Tensor, target: Tensor) -> Tensor:
        return style_loss_forward(gram, target)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        gram, target = ctx.saved_tensors
        return (style_loss_backward(gram, target) * grad_loss if ctx.needs_input_grad[0] else None), None


class ContentLossFunction(torch.autograd.Function):
    """L = ½ ‖F − P‖² with dF = F − P; P is a constant."""

    @staticmethod
    def forward(features: Tensor, target: Tensor) -> Tensor:
        return content_loss_forward(features, target)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        features, target = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        return content_loss_backward(features, target) * grad_loss, None


def total_variation_forward(image: Tensor) -> Tensor:
    """T = Σ squared vertical and horizontal neighbour differences.  (N, C, H, W) -> ()."""
    down = image[..., 1:, :] - image[..., :-1, :]
    right = image[..., :, 1:] - image[..., :, :-1]
    return down.pow(2).sum() + right.pow(2).sum()


def total_variation_backward(image: Tensor) -> Tensor:
    """dX = 2·(each pixel's difference with every neighbour), summed: -> (N, C, H, W)."""
    down = image[..., 1:, :] - image[..., :-1, :]
    right = image[..., :, 1:] - image[..., :, :-1]
    grad = torch.zeros_like(image)
    grad[..., 1:, :] += 2 * down
    grad[..., :-1, :] -= 2 * down
    grad[..., :, 1:] += 2 * right
    grad[..., :, :-1] -= 2 * right
    return grad


class TotalVariationFunction(torch.autograd.Function):
    """T = Σ (neighbour differences)², with its backward from the same differences."""

    @staticmethod
    def forward(image: Tensor) -> Tensor:
        return total_variation_forward(image)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        (image,) = ctx.saved_tensors
        return total_variation_backward(image) * grad_loss if ctx.needs_input_grad[0] else None


# --------------------------------------------------------------------------
# the wrappers (stock PyTorch ops under functional.plain_autograd())
# --------------------------------------------------------------------------


def gram_matrix(features: Tensor) -> Tensor:
    """G = F Fᵀ / (C·H·W).  features (N, C, H, W) -> (N, C, C)."""
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return gram_forward(features)
    return autograd_switch._apply(GramFunction, features)


def style_loss(gram: Tensor, target: Tensor) -> Tensor:
    """Σ ‖G − A‖² against the constant target Gram matrix A.  (N, C, C), (N or 1, C, C) -> ()."""
    target = target.detach()
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return (gram - target).pow(2).sum()
    return autograd_switch._apply(StyleLossFunction, gram, target.expand_as(gram))


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """½ ‖F − P‖² against the constant target features P.  Same shapes -> ()."""
    target = target.detach()
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return 0.5 * (features - target).pow(2).sum()
    return autograd_switch._apply(ContentLossFunction, features, target)


def total_variation(image: Tensor) -> Tensor:
    """Σ squared differences of vertical and horizontal neighbours.  (N, C, H, W) -> ()."""
    if autograd_switch._PLAIN_AUTOGRAD.get():
        return total_variation_forward(image)
    return autograd_switch._apply(TotalVariationFunction, image)
