"""Whether a model fits in memory, decided before any of it is allocated.

``model.hidden=[20000000000]`` would otherwise ask the allocator for terabytes and end in
a RuntimeError from deep inside ``torch.empty``.  The model is first built on the meta
device (shapes only, no memory), its parameters counted, and the bytes that training needs
at the least (the weights built in float32, then the weights and their gradients in the
training dtype) compared with the memory the device has available.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import ConfigError

# A model whose training needs fewer bytes than this fits on any machine this library runs on.
ALWAYS_FITS_BYTES = 16 << 20


def check_model_fits(
    build,
    model_config,
    sample_shape,
    num_classes: int,
    dtype: torch.dtype,
    device: torch.device,
    available: Callable[[], int],
) -> None:
    """ConfigError naming the key and the bytes when ``build(model_config, sample_shape, K)`` cannot fit
    in ``available()`` bytes; ``build`` is ``models.build_model``, ``sample_shape`` one sample's: (n,) for a
    row, (C, H, W) for an image (or n).  ``available`` is asked only for a model of more than
    ``ALWAYS_FITS_BYTES``: reading the free memory costs more than a small estimator fit's step."""
    shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
    in_features = shape[0] if len(shape) == 1 else "×".join(map(str, shape)) + " pixels of"
    try:
        with torch.device("meta"):
            probe = build(model_config, sample_shape, num_classes)
    except (
        RuntimeError
    ) as error:  # a weight of more than 2⁶³ elements: its size overflows before any allocation
        hidden = getattr(model_config, "hidden", None)
        key = (
            f"model.hidden={list(hidden)}"
            if hidden
            else f"model.name={model_config.name} on {in_features} features and {num_classes} classes"
        )
        raise ConfigError(
            f"{key}: the model's weights are too large to address (more than 2**63 bytes; "
            f"{str(error).splitlines()[0]})"
        ) from None
    count = sum(p.numel() for p in probe.parameters())
    itemsize = torch.empty(0, dtype=dtype).element_size()
    needed = count * 4 + count * itemsize * 2 if device.type == "cpu" else count * itemsize * 2
    if needed <= ALWAYS_FITS_BYTES:
        return
    free = available()
    if needed <= free:
        return
    args = probe.constructor_args() if hasattr(probe, "constructor_args") else {}
    key = (
        f"model.hidden={list(model_config.hidden)}"
        if "hidden" in args
        else f"model.name={model_config.name} on {in_features} features and {num_classes} classes"
    )
    raise ConfigError(
        f"{key}: the model has {count:,} parameters, {count * 4:,} bytes as built in float32; "
        f"training asks for {needed:,} bytes ({_human(needed)}) with the weights and gradients in "
        f"{str(dtype).removeprefix('torch.')}; {device.type} has {_human(free)} available"
    )


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} PB"
