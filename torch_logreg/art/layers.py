"""Feature networks as lists of layers that run forward and backward by hand, without autograd.

A layer's ``forward(x)`` returns its output and what its backward needs; ``backward(dy, saved)``
returns dx from the formulas of ``torch_logreg.nn`` (``conv2d_backward_input``, ``relu_backward``,
the pooling backwards).  ``stock(x)`` is the same layer in plain PyTorch (``F.conv2d`` …) for
autograd: the gradient check and the benchmark hold the hand-written path against it.

A ``FeatureNetwork`` is one or more branches from the image, each a chain of layers with named
taps (the layers whose outputs the losses read).  ``features(image)`` runs the chains and keeps
a tape; ``image_gradient(tape, grads)`` walks each chain back from its deepest tap, adding the
gradient of every tap as it passes it, and sums the branches: dL/d image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn import conv
from ..nn.functional import relu_backward


@dataclass
class Conv:
    """Y = W ⋆ X + b (cross-correlation, zero padding).  weight (O, C, k, k), bias (O,) or None."""

    weight: Tensor
    bias: Tensor | None = None
    stride: int = 1
    padding: int = 0

    def forward(self, x: Tensor):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding), x.shape[-2:]

    def backward(self, grad_y: Tensor, input_size) -> Tensor:
        def pair(v):
            return (v, v)

        return conv.conv2d_backward_input(
            grad_y, self.weight, input_size, pair(self.stride), pair(self.padding), (1, 1)
        )

    def stock(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class ReLU:
    """a = max(z, 0); dz = da where a > 0."""

    def forward(self, x: Tensor):
        out = torch.relu(x)
        return out, out

    def backward(self, grad_y: Tensor, out: Tensor) -> Tensor:
        return relu_backward(grad_y, out)

    def stock(self, x: Tensor) -> Tensor:
        return torch.relu(x)


@dataclass
class Pool:
    """2×2 (``kernel``) max or average pooling, stride = kernel."""

    kind: str = "avg"
    kernel: int = 2

    def forward(self, x: Tensor):
        k = (self.kernel, self.kernel)
        if self.kind == "max":
            y, indices = F.max_pool2d(x, k, k, 0, return_indices=True)
            return y, (x.shape, indices)
        return F.avg_pool2d(x, k, k, 0), (x.shape, None)

    def backward(self, grad_y: Tensor, saved) -> Tensor:
        shape, indices = saved
        k = (self.kernel, self.kernel)
        if self.kind == "max":
            return conv.max_pool2d_backward(grad_y, indices, shape)
        return conv.avg_pool2d_backward(grad_y, shape, k, k, (0, 0))

    def stock(self, x: Tensor) -> Tensor:
        pool = F.max_pool2d if self.kind == "max" else F.avg_pool2d
        return pool(x, self.kernel, self.kernel)


@dataclass
class Branch:
    """A chain of layers from the image; ``taps`` names the layers (by index) whose outputs are features."""

    layers: list
    taps: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.depth = max(self.taps.values()) + 1 if self.taps else 0  # layers past the last tap never run


class FeatureNetwork:
    """Branches from one image; feature names are unique across branches."""

    def __init__(
        self,
        branches: list[Branch],
        style_layers: list[str],
        content_layers: list[str],
        mean: Tensor,
        std: Tensor,
    ):
        self.branches, self.style_layers, self.content_layers = branches, style_layers, content_layers
        self.mean, self.std = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)  # input normalisation

    def to(self, dtype: torch.dtype | None = None, device=None) -> FeatureNetwork:
        """The weights and the input normalisation in ``dtype`` and/or on ``device``, in place."""
        for branch in self.branches:
            for layer in branch.layers:
                if isinstance(layer, Conv):
                    layer.weight = layer.weight.to(device=device, dtype=dtype)
                    layer.bias = None if layer.bias is None else layer.bias.to(device=device, dtype=dtype)
        self.mean, self.std = (
            self.mean.to(device=device, dtype=dtype),
            self.std.to(device=device, dtype=dtype),
        )
        return self

    def features(self, image: Tensor) -> tuple[dict[str, Tensor], list]:
        """image (1, 3, H, W) in [0, 1] -> ({name: (1, C, h, w)}, the tape for ``image_gradient``)."""
        x0 = (image - self.mean) / self.std
        features, tape = {}, []
        for branch in self.branches:
            x, saved = x0, []
            for index, layer in enumerate(branch.layers[: branch.depth]):
                x, keep = layer.forward(x)
                saved.append(keep)
                for name, tap in branch.taps.items():
                    if tap == index:
                        features[name] = x
            tape.append(saved)
        return features, tape

    def image_gradient(self, tape: list, grads: dict[str, Tensor]) -> Tensor:
        """dL/d image, from dL/d feature for the features in ``grads`` (the others get none)."""
        total = None
        for branch, saved in zip(self.branches, tape):
            used = [index for name, index in branch.taps.items() if name in grads]
            if not used:
                continue
            grad = None
            for index in range(max(used), -1, -1):
                for name, tap in branch.taps.items():
                    if tap == index and name in grads:
                        grad = grads[name] if grad is None else grad + grads[name]
                grad = branch.layers[index].backward(grad, saved[index])
            total = grad if total is None else total + grad
        return total / self.std

    def stock_features(self, image: Tensor) -> dict[str, Tensor]:
        """The same features from plain PyTorch ops, for autograd (the check and the benchmark)."""
        x0 = (image - self.mean) / self.std
        features = {}
        for branch in self.branches:
            x = x0
            for index, layer in enumerate(branch.layers[: branch.depth]):
                x = layer.stock(x)
                features.update({name: x for name, tap in branch.taps.items() if tap == index})
        return features
