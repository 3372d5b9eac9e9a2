"""A convolutional network built from the hand-written parts of ``conv.py`` and ``functional.py``.

For an image x (N, C, H, W) = A[0] and blocks l = 1 … B (``channels`` = (c_1, …, c_B)):

    Z[l] = W[l] ⋆ A[l−1] + b[l]                    (N, c_l, H_l, W_l), W[l]: (c_l, c_{l−1}, k, k); padding
                                                   ⌊k/2⌋ keeps H and W for odd k
    A[l] = pool(g(Z[l]))                           2×2 max or average pooling (halves H and W), or none

then the dense head on the flattened A[B] (N, c_B·H_B·W_B): the MLP's hidden layers, each
Linear → g, and the output layer (one neuron for 2 classes, K for K), and

    J = (1/m) Σ ℓ(z, y) + (l2 / 2m)·(Σₗ ‖W[l]‖² over the convolutions and the dense layers)

Backward, every line the hand-written formula of its part (``conv.py``'s module docstring):
dZ[l] from the pool's backward and g′, dW[l] = A[l−1] ⋆ dZ[l], db[l] = Σ dZ[l],
dA[l−1] = dZ[l] ⋆ᵀ W[l].  ``cost(x, y).backward()`` runs them through the autograd Functions.

``CNN.cost_and_grads`` calls the same formulas directly, without an autograd graph
(``cnn_fast_path.py``): the trainer's fast path, measured by ``benchmarks/cnn_time.py`` against stock
``nn.Conv2d`` + autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from . import cnn_fast_path, conv
from . import functional as LF
from .classifier import Classifier
from .mlp import Linear, MLPKeys

POOLS = ("max", "avg", "none")
CNN_INITS = ("uniform", "xavier", "he")


def default_init(activation: str) -> str:
    """He (Kaiming normal) for relu, Xavier (Glorot uniform) for tanh and sigmoid: each keeps the
    activations' variance from layer to layer for its nonlinearity."""
    return "he" if activation == "relu" else "xavier"


class Conv2d(nn.Module):
    """Y = W ⋆ X + b through ``functional.conv2d`` (the hand-written backward), 'same' padding ⌊k/2⌋.

    Shape: x (N, in_channels, H, W) -> (N, out_channels, H, W) for odd k; ``weight``
    (out_channels, in_channels, k, k) and ``bias`` (out_channels,), as ``nn.Conv2d``.
    Its owner sets the values (``CNN.reset_parameters``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, device=None, dtype=None):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.padding = kernel_size // 2
        factory = {"device": device, "dtype": dtype}
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape, **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory))

    def forward(self, x: Tensor) -> Tensor:
        return LF.conv2d(x, self.weight, self.bias, 1, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}"
        )


class CNNKeys(MLPKeys):
    """The ``model.*`` keys a CNN reads: its convolution blocks', and its dense head's (the MLP's own)."""

    channels: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [16, 32],
        description="each convolution block's output channels, e.g. `[16, 32]`",
        min_length=1,
        json_schema_extra={"expected": "a non-empty list of integers >= 1", "kind": "a list of integers"},
    )
    kernel_size: int = Field(3, description="k of the k×k convolutions, padded by ⌊k/2⌋", ge=1, le=15)
    pool: Literal["max", "avg", "none"] = Field(
        "max",
        description="2×2 pooling after each block (while the image is 2 pixels or more): "
        "`max`, `avg`, `none`",
    )


class CNN(Classifier):
    r"""x -> [Conv2d -> g -> pool] × len(channels) -> flatten -> [Linear -> g] × len(hidden) -> Linear.

    Args:
        in_features: C·H·W, the pixels of one image (the data's row length).
        image_shape: (C, H, W), or (H, W) for one channel: how a row of pixels is an image.
        channels: each convolution block's output channels, e.g. ``(16, 32)``; non-empty, each >= 1.
        kernel_size: k of every k×k convolution (odd keeps H and W), >= 1.
        pool: ``"max"`` or ``"avg"`` (2×2, stride 2, after each block while H and W are >= 2), or ``"none"``.
        hidden: the dense head's hidden widths, e.g. ``(64,)``; empty: the output layer alone
            (softmax regression on the features).
        num_classes: 2 (one output neuron, sigmoid) or K >= 3 (K neurons, softmax).
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``, after every convolution and hidden layer.
        l2: the L2 penalty on every weight (convolution kernels and dense matrices, never a bias).
        init: ``"he"``, ``"xavier"`` or ``"uniform"`` (``nn.Conv2d``'s and ``nn.Linear``'s own);
            None picks He for relu and Xavier otherwise.
        check_grad: recompute the gradients of every ``cost`` call with plain autograd and
            raise ``GradientMismatchError`` if they differ (slow; for debugging).

    Shape:
        x: (N, C, H, W), or (N, C·H·W) rows viewed as images; y: (N,) class indices;
        ``forward`` returns logits (N,) for 2 classes, (N, K) for K.

    Examples::

        >>> model = CNN(64, (1, 8, 8), channels=(4,), hidden=(), num_classes=10)
        >>> model(torch.zeros(5, 1, 8, 8)).shape, model(torch.zeros(5, 64)).shape
        (torch.Size([5, 10]), torch.Size([5, 10]))
    """

    name = "cnn"
    default_init = "he"
    layered = True
    help = "`cnn` (`model.channels` convolution blocks, then `model.hidden` layers; images)"
    keys = CNNKeys
    init_help = "`he` (relu) or `xavier`"

    def __init__(
        self,
        in_features: int,
        image_shape: Sequence[int],
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        pool: str = "max",
        hidden: Sequence[int] = (64,),
        num_classes: int = 2,
        activation: str = "relu",
        l2: float = 0.0,
        init: str | None = None,
        check_grad: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(in_features, num_classes, l2, check_grad)
        self.image_shape = _image_shape(image_shape, self.in_features)
        self.channels = _widths(channels, "model.channels", allow_empty=False)
        self.hidden = _widths(hidden, "model.hidden", allow_empty=True)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1:
            raise ValueError(f"model.kernel_size must be an integer >= 1, got {kernel_size!r}")
        if pool not in POOLS:
            raise ValueError(f"model.pool must be one of {', '.join(POOLS)}, got {pool!r}")
        if activation not in LF.ACTIVATIONS:
            raise ValueError(
                f"model.activation must be one of {', '.join(LF.ACTIVATIONS)}, got {activation!r}"
            )
        init = default_init(activation) if init is None else init
        if init not in CNN_INITS:
            raise ValueError(f"model.init must be one of {', '.join(CNN_INITS)} for a cnn, got {init!r}")
        self.kernel_size, self.pool, self.activation, self.init = kernel_size, pool, activation, init

        factory = {"device": device, "dtype": dtype}
        in_channels, height, width = self.image_shape
        self.pooled = []  # whether block l pools: a 1-pixel side has no 2×2 window left
        for index, out_channels in enumerate(self.channels, start=1):
            self.add_module(f"conv{index}", Conv2d(in_channels, out_channels, kernel_size, **factory))
            height, width = (side + 2 * (kernel_size // 2) - kernel_size + 1 for side in (height, width))
            pools = pool != "none" and height >= 2 and width >= 2
            if pools:
                height, width = height // 2, width // 2
            self.pooled.append(pools)
            in_channels = out_channels
        self.flat_features = in_channels * height * width
        widths = (self.flat_features, *self.hidden, self.out_features)
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            self.add_module(f"dense{index}", Linear(fan_in, fan_out, **factory))
        self.reset_parameters()

    @classmethod
    def from_config(cls, model_config, sample_shape: tuple[int, ...], num_classes: int) -> CNN:
        if len(sample_shape) != 3:
            raise ValueError(
                f"model.name=cnn needs images, but each sample has shape {list(sample_shape)}: "
                f"set "
                f"data.image_shape (e.g. [1, 8, 8]) for a file of flattened pixels, or use a "
                f"folder of images or data.name=digits"
            )
        return cls(
            math.prod(sample_shape),
            sample_shape,
            tuple(model_config.channels),
            model_config.kernel_size,
            model_config.pool,
            tuple(model_config.hidden),
            num_classes,
            model_config.activation,
            model_config.l2,
            model_config.init,
        )

    def constructor_args(self) -> dict:
        return {
            "in_features": self.in_features,
            "image_shape": list(self.image_shape),
            "channels": list(self.channels),
            "kernel_size": self.kernel_size,
            "pool": self.pool,
            "hidden": list(self.hidden),
            "num_classes": self.num_classes,
            "activation": self.activation,
            "l2": self.l2,
            "init": self.init,
        }

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(C, H, W): one sample is an image (a row of C·H·W pixels is viewed as one)."""
        return self.image_shape

    @property
    def convolutions(self) -> list[Conv2d]:
        return [module for module in self.children() if isinstance(module, Conv2d)]

    @property
    def dense_layers(self) -> list[Linear]:
        """The head's layers in order, the output layer last."""
        return [module for module in self.children() if isinstance(module, Linear)]

    def first_layer_filters(self) -> Tensor:
        """The first convolution's kernels, (c_1, C, k, k): what TensorBoard shows of the filters."""
        return self.convolutions[0].weight

    def reset_parameters(self) -> None:
        """Weights by ``self.init`` with fan_in = c·k·k for a kernel (as ``nn.init`` computes it), biases 0;
        ``uniform`` is ``nn.Conv2d``'s and ``nn.Linear``'s own U(±1/√fan_in) for both."""
        with torch.no_grad():
            for layer in [*self.convolutions, *self.dense_layers]:
                if self.init == "uniform":
                    bound = 1.0 / math.sqrt(layer.weight[0].numel())
                    layer.weight.uniform_(-bound, bound)
                    layer.bias.uniform_(-bound, bound)
                    continue
                if self.init == "xavier":
                    nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(self.activation))
                else:  # "he"
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                layer.bias.zero_()

    def images(self, x: Tensor) -> Tensor:
        """x as (N, C, H, W): rows (N, C·H·W) are viewed by ``image_shape``; images pass as they are."""
        return x.view(x.shape[0], *self.image_shape) if x.dim() == 2 else x

    def features(self, x: Tensor) -> Tensor:
        """The convolution blocks' output, flattened.  x (N, C, H, W) or (N, C·H·W) -> (N, flat_features)."""
        a = self.images(x)
        for layer, pools in zip(self.convolutions, self.pooled):
            a = LF.activation(self.activation, layer(a))  # (N, c_l, H_l, W_l)
            if pools:
                a = conv.max_pool2d(a, 2) if self.pool == "max" else conv.avg_pool2d(a, 2)
        return conv.flatten(a)

    def forward(self, x: Tensor) -> Tensor:
        """Logits.  x: (N, C, H, W) or (N, C·H·W) -> (N,) for 2 classes, (N, K) for K."""
        *hidden_layers, output_layer = self.dense_layers
        a = self.features(x)
        for layer in hidden_layers:
            a = LF.activation(self.activation, layer(a))
        z = output_layer(a)
        return z.squeeze(-1) if self.out_features == 1 else z

    def penalty(self, rows) -> Tensor:
        """(l2 / 2·rows)·Σ ‖W‖² over every kernel and dense weight (no bias).  -> ()."""
        layers = [*self.convolutions, *self.dense_layers]
        return sum(LF.l2_penalty(layer.weight, self.l2, rows) for layer in layers)

    def cost_and_grads(
        self,
        x: Tensor,
        y: Tensor,
        *,
        sample_weight: Tensor | None = None,
        rows=None,
        l2_rows=None,
        with_cost: bool = False,
    ) -> tuple[Tensor | None, tuple[Tensor, ...]]:
        """(J or None, the gradients in ``parameters()`` order) without autograd; y as ``loss.targets``
        gives.  ``rows`` divides the loss sum and ``l2_rows`` the L2 term, as in ``cost``."""
        return cnn_fast_path.cost_and_grads(
            self, x, y, sample_weight=sample_weight, rows=rows, l2_rows=l2_rows, with_cost=with_cost
        )

    def extra_repr(self) -> str:
        return (
            f"image_shape={list(self.image_shape)}, channels={list(self.channels)}, "
            f"kernel_size={self.kernel_size}, pool={self.pool!r}, hidden={list(self.hidden)}, "
            f"num_classes={self.num_classes}, activation={self.activation!r}, l2={self.l2}, "
            f"init={self.init!r}"
        )


def _image_shape(shape, in_features: int) -> tuple[int, int, int]:
    """(C, H, W) from (C, H, W) or (H, W), or ValueError naming ``data.image_shape``."""
    problem = f"data.image_shape must be [C, H, W] or [H, W] of integers >= 1, got {shape!r}"
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) not in (2, 3):
        raise ValueError(problem)
    if any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in shape):
        raise ValueError(problem)
    shape = (1, *shape) if len(shape) == 2 else tuple(shape)
    if math.prod(shape) != in_features:
        raise ValueError(
            f"data.image_shape {list(shape)} has {math.prod(shape)} pixels, but each row has "
            f"{in_features} features"
        )
    return shape


def _widths(widths, key: str, allow_empty: bool) -> tuple[int, ...]:
    """``widths`` as a tuple of ints >= 1, or ValueError naming ``key``."""
    problem = f"{key} must be a {'' if allow_empty else 'non-empty '}list of integers >= 1, got {widths!r}"
    not_a_list = isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence)
    if not_a_list or (not widths and not allow_empty):
        raise ValueError(problem)
    if any(isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in widths):
        raise ValueError(problem)
    return tuple(int(width) for width in widths)
