"""Which rows iteration ``it`` steps on: every row, or mini-batch ``it`` of a seeded epoch order.

Each epoch's order depends only on (seed, epoch), so a resumed run draws the same batches
as one that never stopped.  Under torchrun every worker draws the one process's row
numbers and keeps its own slice of each batch; streamed rows are batched block by block.
"""

from __future__ import annotations

import math

import torch

from ..data.streaming import BlockBatches, is_stream
from ..errors import ConfigError
from .reduced_model import local_batch


class Batches:
    """``batch(it)`` -> (x, y, sample weights or None) for step ``it``.

    x: (m, n) rows on the run's device (or a stream); y: (m,) targets; weights: (m,) or None;
    m_total: every worker's training rows; batch_size: None is the full batch."""

    def __init__(
        self,
        x,
        y,
        weights,
        m_total: int,
        batch_size: int | None,
        seed: int,
        shard=None,
        distributed: bool = False,
    ):
        self.x, self.y, self.weights = x, y, weights
        self.m_total, self.batch_size, self.seed, self.shard = m_total, batch_size, seed, shard
        self.stream = None  # mini-batches of streamed data: blocks, then rows within a block
        if is_stream(x) and batch_size is not None:
            if distributed:
                raise ConfigError(
                    "streamed data (data.stream, or larger than data.memory_limit) under torchrun "
                    "trains full-batch: use gd, newton or lbfgs without train.batch_size"
                )
            self.stream = BlockBatches(x, batch_size, seed)
        self._epoch: tuple[int, torch.Tensor] | None = None  # (epoch, its row order)

    def batch(self, it: int):
        if self.batch_size is None:
            return self.x, self.y, self.weights
        if self.stream is not None:
            x, rows = self.stream.batch(it)
            return x, self.y[rows], None if self.weights is None else self.weights[rows]
        rows = self._rows(it)
        return self.x[rows], self.y[rows], None if self.weights is None else self.weights[rows]

    def _rows(self, it: int) -> torch.Tensor:
        m, size = self.m_total, self.batch_size
        epoch, index = divmod(it, math.ceil(m / size))
        if self._epoch is None or self._epoch[0] != epoch:
            device = self.y.device
            gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch = (epoch, torch.randperm(m, generator=gen, device=device))
        rows = self._epoch[1][index * size : (index + 1) * size]
        if self.shard is not None:  # this worker's slice of the one process's batch
            rows = local_batch(rows, self.shard.train_start, self.x.shape[0])
        return rows
