"""Augmentation of training images by small shifts: more rows of the same classes, made once at load time.

A digit moved one pixel is still the same digit; a network that has seen such copies depends less on
where in the frame a stroke falls.  ``data.shift=k`` adds, for each training image and each
d = 1 … k, four copies moved d pixels up, down, left and right (4k copies, so (1 + 4k)·m rows).  The
pixels that a shift uncovers repeat the image's edge.  The test rows are never augmented.  The copies
are made before standardization, in a fixed order, so a run (and its resume) sees the same rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DataError


def shifted_copies(x: Tensor, y: Tensor, image_shape, pixels: int) -> tuple[Tensor, Tensor]:
    """x (m, C·H·W), y (m,) -> ((1 + 4·pixels)·m rows: x first, then each shift's copies, y repeated).

    ``image_shape``: (C, H, W) or (H, W) of a row; every shift must leave part of the image in frame."""
    if pixels == 0:
        return x, y
    if image_shape is None:
        raise DataError(
            "data.shift needs images: rows of a table have no pixels to shift "
            "(set data.image_shape "
            "for flattened pixels)"
        )
    channels, height, width = (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)
    if pixels >= min(height, width):
        raise DataError(
            f"data.shift={pixels} moves a {height}×{width} image out of its frame "
            f"(at most {min(height, width) - 1})"
        )
    images = x.reshape(-1, channels, height, width)
    # replicate-pad by `pixels` on every side, then cut the frame at an offset: a shift with edge fill
    padded = F.pad(images, (pixels, pixels, pixels, pixels), mode="replicate")
    copies = [images]
    for d in range(1, pixels + 1):
        for dy, dx in ((d, 0), (-d, 0), (0, d), (0, -d)):  # down, up, right, left
            top, left = pixels - dy, pixels - dx
            copies.append(padded[:, :, top : top + height, left : left + width])
    rows = torch.cat(copies).reshape(-1, x.shape[1])
    return rows.contiguous(), y.repeat(len(copies))
