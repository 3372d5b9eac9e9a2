"""A CNN the project trained itself (``model.name=cnn``) as the feature network: ``art.network=cnn``.

Each convolution block gives a style layer (its ReLU's output, ``relu1``, ``relu2`` …); the last
is also the content layer.  The image is normalized as the CNN's training images were (its
per-channel standardization).  A CNN of grey images (C = 1) sees the mean of the RGB channels:
its first kernels are spread over the three channels, each a third.  Only a CNN trained on image
files (pixels in [0, 1], a folder of images) fits: one trained on rows of numbers (the digits'
0 to 16) would see every picture at the wrong scale, so it is refused, as ``predict`` refuses it.
"""

from __future__ import annotations

import torch

from ..errors import CheckpointError
from ..saved_model import load_model
from .layers import Branch, Conv, FeatureNetwork, Pool, ReLU
from .vgg19 import WeightsError


def cnn_network(path) -> FeatureNetwork:
    """The hand-written layers of the CNN in the run folder or checkpoint ``path``."""
    try:
        saved = load_model(path)
    except CheckpointError as error:
        raise WeightsError(f"art.weights={path}: {error}") from None
    cnn = saved.model
    if not hasattr(cnn, "convolutions"):
        raise WeightsError(
            f"art.weights={path}: holds a {type(cnn).__name__}, not a CNN (train one with "
            f"model.name=cnn on a folder of images)"
        )
    if cnn.activation != "relu":
        raise WeightsError(
            f"art.weights={path}: the CNN's activation is {cnn.activation}; art's hand-written "
            f"layers take relu CNNs"
        )
    if saved.rows_not_image_files is not None:
        raise WeightsError(
            f"art.weights={path}: the CNN was trained on rows of numbers "
            f"({saved.rows_not_image_files}), not image files in [0, 1]: train it on a folder "
            f"of images"
        )
    channels = cnn.image_shape[0]
    if channels not in (1, 3):
        raise WeightsError(f"art.weights={path}: the CNN takes {channels}-channel images; art's are RGB")
    mean = saved.mean.detach().float().reshape(channels, -1)[:, 0].expand(3)
    std = saved.std.detach().float().reshape(channels, -1)[:, 0].expand(3)
    layers, taps = [], {}
    for index, (conv, pooled) in enumerate(zip(cnn.convolutions, cnn.pooled), start=1):
        weight = conv.weight.detach().float()
        if index == 1 and channels == 1:  # a grey CNN on the RGB mean: Σ_c (W/3)·x_c = W·mean_c(x_c)
            weight = weight.expand(-1, 3, -1, -1) / 3
        layers += [Conv(weight.contiguous(), conv.bias.detach().float(), 1, conv.padding), ReLU()]
        taps[f"relu{index}"] = len(layers) - 1
        if pooled:
            layers.append(Pool(cnn.pool, 2))
    style = list(taps)
    return FeatureNetwork(
        [Branch(layers, taps)], style, style[-1:], mean=torch.as_tensor(mean), std=torch.as_tensor(std)
    )
