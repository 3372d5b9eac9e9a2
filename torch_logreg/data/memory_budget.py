"""How much memory the data may take: ``data.memory_limit``, the memory available, the block size.

Streaming starts when ``data.stream=true`` or when the training rows would not fit in the
limit (default: half the available memory); the block size is chosen from the limit so
that the blocks in memory at once (``BLOCKS_IN_MEMORY``) stay within it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..errors import ConfigError
from .npy_file import NpyFile

UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1 << 40,
}
# Resident blocks: two read buffers, the converted block, and the model's work on it.
BLOCKS_IN_MEMORY = 8
MIN_BLOCK_ROWS = 256


def parse_size(value) -> int:
    """Bytes from an int or a text such as ``512MiB``, ``2GiB``, ``1.5GB``, ``1000000``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in UNITS:
        raise ConfigError(f"data.memory_limit must be bytes or a size such as 512MiB or 2GiB, got {value!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_memory(device: torch.device) -> int:
    """Bytes free on ``device``: a CUDA device's free memory, else the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return available_memory()


def memory_limit(data) -> int:
    """``data.memory_limit`` in bytes; null is half the available memory."""
    value = getattr(data, "memory_limit", None)
    return parse_size(value) if value is not None else available_memory() // 2


def wants_streaming(data, files: list[NpyFile], dtype_bytes: int) -> bool:
    """data.stream, or the rows in the training dtype would exceed data.memory_limit."""
    if getattr(data, "stream", False):
        return True
    in_memory = sum(f.rows * (f.columns - 1) for f in files) * dtype_bytes
    return in_memory > memory_limit(data)


def block_rows_for(data, files: list[NpyFile]) -> int:
    row_bytes = max(f.columns for f in files) * 8
    return max(MIN_BLOCK_ROWS, memory_limit(data) // (BLOCKS_IN_MEMORY * row_bytes))
