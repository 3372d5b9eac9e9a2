"""The default feature network: one layer of random filters at several scales, after Ustyuzhaninov,
Brendel, Gatys & Bethge (2016), "Texture synthesis using shallow convolutional networks with random
filters".

Each scale is a bank of ``width`` random k×k filters on the RGB image, then a ReLU; its Gram matrix is
one style term and its output one content layer.  Filters of 3 to 55 px see everything from grain
to the arrangement of whole petals; the large ones run with a stride (about k/8) so that every scale
costs about the same, which keeps 55 px filters affordable on a CPU: a 55 px filter's response
barely changes from one pixel to the next, so striding it loses little of its Gram matrix.

Filters are N(0, 1/(3·k²)) (unit variance per output for unit-variance input) from the run's seed,
so a run is reproduced by its config.  Why these choices: README, "Art".
"""

from __future__ import annotations

import torch

from .layers import Branch, Conv, FeatureNetwork, ReLU

# (kernel, stride) per scale: 3 to 55 px, about the same cost per scale.
SCALES = ((3, 1), (5, 1), (11, 2), (23, 4), (37, 6), (55, 8))
# Imagenet's statistics, so that a [0, 1] image is centred as VGG's inputs are.
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def random_multiscale_network(
    seed: int, width: int = 64, scales=SCALES, content_scales: int = 2
) -> FeatureNetwork:
    """``width`` filters per scale; the ``content_scales`` largest scales are the content layers."""
    gen = torch.Generator().manual_seed(seed)
    branches, names = [], []
    for kernel, stride in scales:
        weight = torch.randn(width, 3, kernel, kernel, generator=gen) / (3 * kernel * kernel) ** 0.5
        name = f"random{kernel}"
        branches.append(Branch([Conv(weight, None, stride, kernel // 2), ReLU()], {name: 1}))
        names.append(name)
    return FeatureNetwork(
        branches,
        style_layers=names,
        content_layers=names[-content_scales:],
        mean=torch.tensor(MEAN),
        std=torch.tensor(STD),
    )
