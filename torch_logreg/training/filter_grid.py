"""The first convolution's kernels as one picture: what each filter of a model of images looks for.

Each kernel (C, k, k) is scaled to [0, 1] on its own (its smallest weight black, its largest white), shown
in colour when it reads 3 channels and in grey otherwise (the mean over its channels), enlarged with
nearest-neighbour pixels so a 3×3 kernel is visible, and laid out in rows of ``columns`` with a 1-pixel gap.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def filter_grid(weight: torch.Tensor, columns: int = 8, cell: int = 32) -> np.ndarray:
    """weight (O, C, k, k) -> an (H, W, 3) uint8 picture of the O kernels."""
    kernels = weight.detach().double().cpu()
    if kernels.shape[1] != 3:
        kernels = kernels.mean(1, keepdim=True)
    flat = kernels.reshape(kernels.shape[0], -1)
    low, high = flat.min(1).values, flat.max(1).values
    scaled = (kernels - low[:, None, None, None]) / (high - low).clamp_min(1e-12)[:, None, None, None]
    k_h, k_w = kernels.shape[-2:]
    zoom = max(1, cell // max(k_h, k_w))
    tiles = scaled.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3).expand(-1, 3, -1, -1)  # (O, 3, h, w)
    count, (h, w) = tiles.shape[0], tiles.shape[-2:]
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    picture = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, 3), 0.5)  # grey gaps between kernels
    for index, tile in enumerate(tiles.numpy()):
        top, left = 1 + (index // columns) * (h + 1), 1 + (index % columns) * (w + 1)
        picture[top : top + h, left : left + w] = tile.transpose(1, 2, 0)
    return np.round(picture * 255).astype(np.uint8)
