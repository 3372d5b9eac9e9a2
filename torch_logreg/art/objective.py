"""What the image minimizes, and its gradient with respect to the image, by hand.

For the image x (1, 3, H, W) in [0, 1], style layers l = 1..L and content layers k:

    J(x) = style_weight   · (1/L) Σ_l Σ ‖G_l(x) − A_l‖²          A_l = Σ_s β_s G_l(style_s)
         + content_weight · Σ_k ½ ‖F_k(x) − P_k‖² / |F_k|         P_k = F_k(content)
         + tv_weight      · TV(x) / (H·W)

G is the Gram matrix G = F Fᵀ/(C·H·W) (already independent of the image size); the content and TV
terms are divided by their number of entries so that one set of weights serves every ``size``.
β are the ``style_blend`` weights, normalised to sum to 1.

The gradient: dF_l = gram_backward(style_loss_backward(G_l, A_l), F_l) = 4 (G_l − A_l) F_l/(C·H·W),
dF_k = (F_k − P_k)/|F_k|, summed per layer and carried back to the image through the network's
hand-written layers (``FeatureNetwork.image_gradient``), plus the TV term's own gradient.  No
autograd: ``stock_loss`` is the same objective in plain PyTorch, which autograd differentiates for
the check (``art.check_grad``) and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..nn import style_losses as losses
from .layers import FeatureNetwork


@dataclass
class Weights:
    content: float
    style: float
    tv: float


class Objective:
    """J(x) and dJ/dx for one network, its targets and the weights."""

    def __init__(
        self,
        network: FeatureNetwork,
        weights: Weights,
        styles: list[Tensor],
        blend: list[float],
        content: Tensor | None = None,
    ):
        self.network, self.weights = network, weights
        total = float(sum(blend))
        self.grams: dict[str, Tensor] = {}
        with torch.no_grad():
            for style, beta in zip(styles, blend):
                features, _ = network.features(style)
                for name in network.style_layers:
                    gram = losses.gram_forward(features[name]) * (beta / total)
                    self.grams[name] = gram if name not in self.grams else self.grams[name] + gram
            self.content: dict[str, Tensor] = {}
            if content is not None and weights.content > 0:
                features, _ = network.features(content)
                self.content = {name: features[name] for name in network.content_layers}

    def loss_and_grad(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """(J, {"style", "content", "tv": the unweighted terms}, dJ/dx (1, 3, H, W)); no autograd graph."""
        with torch.no_grad():
            features, tape = self.network.features(image)
            grads, style, content = {}, image.new_zeros(()), image.new_zeros(())
            per_layer = self.weights.style / len(self.grams)
            for name, target in self.grams.items():
                gram = losses.gram_forward(features[name])
                style = style + losses.style_loss_forward(gram, target)
                grad_gram = losses.style_loss_backward(gram, target) * per_layer  # (1, C, C): cheap to scale
                grads[name] = losses.gram_backward(grad_gram, features[name])
            for name, target in self.content.items():
                size = target.numel()
                content = content + losses.content_loss_forward(features[name], target) / size
                grad = losses.content_loss_backward(features[name], target).mul_(self.weights.content / size)
                grads[name] = grads[name] + grad if name in grads else grad
            pixels = image.shape[-1] * image.shape[-2]
            tv = losses.total_variation_forward(image) / pixels
            grad_image = self.network.image_gradient(tape, grads)
            if self.weights.tv > 0:
                grad_image = grad_image + losses.total_variation_backward(image) * (self.weights.tv / pixels)
            style = style / len(self.grams)
            total = self.weights.style * style + self.weights.content * content + self.weights.tv * tv
        return total, {"style": style, "content": content, "tv": tv}, grad_image

    def stock_loss(self, image: Tensor) -> Tensor:
        """J(x) from plain PyTorch ops (``F.conv2d``, matmul), for autograd to differentiate."""
        features = self.network.stock_features(image)
        style = sum(
            ((_stock_gram(features[name]) - target) ** 2).sum() for name, target in self.grams.items()
        )
        total = self.weights.style * style / len(self.grams)
        for name, target in self.content.items():
            content = 0.5 * ((features[name] - target) ** 2).sum() / target.numel()
            total = total + self.weights.content * content
        if self.weights.tv > 0:
            tv = (torch.diff(image, dim=2) ** 2).sum() + (torch.diff(image, dim=3) ** 2).sum()
            total = total + self.weights.tv * tv / (image.shape[-1] * image.shape[-2])
        return total


def _stock_gram(features: Tensor) -> Tensor:
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def autograd_gradient(objective: Objective, image: Tensor) -> Tensor:
    """dJ/dx by autograd through ``stock_loss``: the reference for ``art.check_grad``."""
    with torch.enable_grad():
        x = image.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(objective.stock_loss(x), x)
    return grad
