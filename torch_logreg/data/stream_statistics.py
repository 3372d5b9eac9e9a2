"""The two passes over streamed rows before training: the label column, and the standardization statistics.

Both read the files block by block (``streaming.RowStream``).  The label pass also checks that every
feature is finite, as the in-memory reader does; the statistics are combined with Chan's formula,
across blocks and then across torchrun's workers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .npy_file import NpyFile
from .streaming import RowStream


def label_column(files: list[NpyFile], block_rows: int) -> np.ndarray:
    """The label column of every row of ``files``, in one pass that also checks every feature is finite,
    naming the file, row and column of the first that is not, as the in-memory reader does (streamed
    data would otherwise reach training and be reported as a divergence)."""
    everything = RowStream(files, np.ones(sum(f.rows for f in files), dtype=bool), block_rows)
    labels, row = [], 0
    for features, block_labels in everything.columns_blocks():
        if not np.isfinite(features).all():
            _refuse_non_finite(everything, features, row)
        labels.append(block_labels.copy())  # views of reused buffers
        row += len(block_labels)
    return np.concatenate(labels)


def _refuse_non_finite(stream: RowStream, features: np.ndarray, first_row: int) -> None:
    block_row, column = np.argwhere(~np.isfinite(features))[0]
    row = first_row + int(block_row)
    index = int(np.searchsorted(stream.starts, row, side="right")) - 1
    raise DataError(
        f"{stream.files[index].path}: row index {row - int(stream.starts[index])}, column index "
        f"{int(column)} (from 0): {features[block_row, column]} is not finite"
    )


def streamed_statistics(stream: RowStream, group) -> tuple[Tensor, Tensor]:
    """mean, std (n,) of every worker's stream rows: one pass here (which may fail on one worker
    alone, so it runs as an agreed phase), then Chan's formula across the workers."""
    count, mean, m2 = group.agree(local_statistics, stream)
    device = getattr(group, "device", torch.device("cpu"))  # NCCL reduces CUDA tensors only

    def reduced(tensor: Tensor) -> Tensor:
        return group.all_reduce(tensor.to(device)).cpu()

    # Across the workers: Σ n_w·mean_w gives the mean; Σ [M2_w + n_w (mean_w − mean)²] gives M2.
    flat = reduced(torch.cat([torch.tensor([count], dtype=torch.float64), mean * count]))
    everyone = flat[0]
    global_mean = flat[1:] / everyone
    m2 = reduced(m2 + count * (mean - global_mean) ** 2)
    std = torch.sqrt(m2 / everyone)
    return global_mean, torch.where(std > 0, std, torch.ones_like(std))


def local_statistics(stream: RowStream) -> tuple[float, Tensor, Tensor]:
    """(count, mean (n,), M2 (n,)) of the stream's rows in one pass, Chan's formula across blocks."""
    count = 0.0
    mean = torch.zeros(stream.n, dtype=torch.float64)
    m2 = torch.zeros(stream.n, dtype=torch.float64)
    for features, _ in stream.columns_blocks():
        block = torch.from_numpy(features).double()
        if not torch.isfinite(block).all():
            raise DataError(f"{stream.files[0].path}: the data holds a value that is not finite")
        b = float(len(block))
        block_mean = block.mean(0)
        block_m2 = ((block - block_mean) ** 2).sum(0)
        delta = block_mean - mean
        total = count + b
        mean = mean + delta * (b / total)
        m2 = m2 + block_m2 + delta**2 * (count * b / total)
        count = total
    return count, mean, m2
