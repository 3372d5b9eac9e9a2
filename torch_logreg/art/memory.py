"""Refuse a size that would not fit in memory, before the run starts, in one line."""

from __future__ import annotations

import os

from ..errors import ConfigError
from . import images
from .config import ArtConfig
from .random_net import SCALES
from .vgg19 import LAYOUT

COPIES = 4  # each feature map lives as its output, its saved copy for the backward, its gradient, a temporary


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo, else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def floats_per_pixel(config: ArtConfig) -> float:
    """Feature-map entries per input pixel of the chosen network."""
    if config.network == "random":
        return 3 + sum(config.width / stride**2 for _, stride in SCALES)
    shrink, total = 1, 3.0
    for item in LAYOUT:
        if item == "M":
            shrink *= 4
        else:
            total += 2 * item / shrink  # the convolution's output and its ReLU's
    return total


def needed_bytes(config: ArtConfig, style_pictures, content_picture) -> int:
    """A generous estimate of the largest evaluation's memory: every picture at its size, features, grads."""
    sides = [(content_picture if content_picture is not None else style_pictures[0], config.size)]
    sides += [(picture, round(config.size * config.style_scale)) for picture in style_pictures]
    pixels = max(w * h for w, h in (images.fitted(picture.size, side) for picture, side in sides))
    itemsize = 8 if config.dtype == "float64" else 4
    return int(pixels * floats_per_pixel(config) * itemsize * COPIES)


def check_memory(config: ArtConfig, style_pictures, content_picture) -> None:
    needed, available = needed_bytes(config, style_pictures, content_picture), available_bytes()
    if needed > available:
        raise ConfigError(
            f"art.size={config.size} (art.style_scale={config.style_scale}) needs about "
            f"{needed / 2**30:.1f} GiB for the feature maps, more than the "
            f"{available / 2**30:.1f} GiB of memory available; choose a smaller art.size"
        )
