"""Data larger than memory: the rows of ``.npy`` files read block by block, never all at once.

``RowStream`` stands where ``x_train`` (or ``x_test``) would: (m, n) rows of one or more
``.npy`` files (a folder of shards is one table), of which it keeps only a row mask
(the split's training rows, say).  ``blocks()`` reads [first, first + B) rows of a file
with plain ``readinto`` into one of three reused buffers (no memory map: mapped pages
would count in the resident set), keeps the masked rows, converts them to the training
dtype (a float32 file is never copied to float64) and standardizes them, while a
background thread already reads the next block.  Three buffers: the block being
computed on, the next one waiting, the one being read.  Resident memory is then a few
blocks, whatever the file's size.

A full-batch step is a sum over the rows, so gd, newton and lbfgs stream exactly: the
model's sums are taken block by block (``training.reduced_model.ReducedModel``, which also sums
over torchrun's workers) and divided once.  Streaming costs two passes before training
(``stream_statistics.py``): one over the label column to draw the split, one for the
standardization statistics; the statistics are saved in the checkpoint, so a resume skips
that pass.

Streaming starts when ``data.stream=true`` or when the training data would not fit in
``data.memory_limit`` (default: half the available memory); the block size is chosen
from the limit (``memory_budget.py``).  Mini-batch optimizers (sgd, adam) take ``BlockBatches``: the blocks in
a random order, then the rows within a block; not one global permutation.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import torch
from torch import Tensor

# block_rows_for, device_memory, parse_size and wants_streaming are imported as streaming.* by the
# config, the run's assembly, shards and the benchmarks.
from .memory_budget import (  # noqa: F401
    available_memory,
    block_rows_for,
    device_memory,
    parse_size,
    wants_streaming,
)
from .npy_file import NpyFile


class RowStream:
    """Rows of ``files`` (one table, in order) where ``mask`` is True, as (m, n) blocks.

    x ↦ (x − mean)/std in ``dtype`` on ``device``; ``labels`` (m,) are kept in memory.
    """

    def __init__(
        self,
        files: list[NpyFile],
        mask: np.ndarray,
        block_rows: int,
        dtype=torch.float64,
        device=torch.device("cpu"),
        mean: Tensor | None = None,
        std: Tensor | None = None,
    ):
        self.files, self.mask, self.block_rows = files, mask, int(block_rows)
        self.dtype, self.device, self.mean, self.std = dtype, torch.device(device), mean, std
        self.n = files[0].columns - 1
        self.starts = np.cumsum([0] + [f.rows for f in files])

    # ------------------------------------------------------------ what the trainer asks of an x

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.mask.sum()), self.n)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def to(self, device=None, dtype=None) -> "RowStream":
        return RowStream(
            self.files,
            self.mask,
            self.block_rows,
            dtype or self.dtype,
            device or self.device,
            self.mean,
            self.std,
        )

    def contiguous(self) -> "RowStream":
        return self

    def standardized(self, mean: Tensor, std: Tensor) -> "RowStream":
        stream = self.to()
        stream.mean, stream.std = mean, std
        return stream

    # ------------------------------------------------------------ blocks

    def blocks(self):
        """x blocks (b, n) in order, the next one read by a background thread meanwhile."""
        for raw in _prefetched(self._raw_blocks()):
            x = torch.from_numpy(raw).to(device=self.device, dtype=self.dtype)
            if self.mean is not None:
                x = (x - self.mean.to(x)) / self.std.to(x)
            yield x

    def columns_blocks(self):
        """(features, label) numpy blocks of the masked rows in the file's dtype: the statistics pass."""
        for raw in _prefetched(self._raw_blocks(with_label=True)):
            yield raw[:, :-1], raw[:, -1]

    def _raw_blocks(self, with_label: bool = False):
        # Three buffers: the caller's block, the one waiting in the queue, the one being read.
        # A block is yielded as a view of its buffer (no copy), valid until the caller asks for the next.
        buffers = [
            np.empty((self.block_rows, self.files[0].columns), dtype=self.files[0].dtype) for _ in range(3)
        ]
        turn = 0
        for file, start in zip(self.files, self.starts[:-1]):
            if file.dtype != buffers[0].dtype:
                buffers = [np.empty((self.block_rows, file.columns), dtype=file.dtype) for _ in range(3)]
            with open(file.path, "rb", buffering=0) as handle:
                for first in range(0, file.rows, self.block_rows):
                    keep = self.mask[start + first : start + min(first + self.block_rows, file.rows)]
                    if not keep.any():
                        continue
                    rows = file.read(handle, first, buffers[turn])
                    turn = (turn + 1) % len(buffers)
                    chosen = rows[keep] if not keep.all() else rows
                    yield chosen if with_label else chosen[:, :-1]

    def block_table(self) -> list[tuple[int, int, int]]:
        """(file index, first row, rows kept) of each block that holds any of the rows, in order."""
        table = []
        for index, (file, start) in enumerate(zip(self.files, self.starts[:-1])):
            for first in range(0, file.rows, self.block_rows):
                kept = int(self.mask[start + first : start + min(first + self.block_rows, file.rows)].sum())
                if kept:
                    table.append((index, first, kept))
        return table

    def read_block(self, file_index: int, first: int) -> Tensor:
        """The kept rows of one block, (b, n) standardized in the stream's dtype (a copy, safe to keep)."""
        file, start = self.files[file_index], self.starts[file_index]
        buffer = np.empty((min(self.block_rows, file.rows - first), file.columns), dtype=file.dtype)
        with open(file.path, "rb", buffering=0) as handle:
            rows = file.read(handle, first, buffer)
        keep = self.mask[start + first : start + first + len(rows)]
        x = torch.from_numpy(np.ascontiguousarray(rows[keep][:, :-1])).to(
            device=self.device, dtype=self.dtype
        )
        return (x - self.mean.to(x)) / self.std.to(x) if self.mean is not None else x


class BlockBatches:
    """Mini-batches of a stream: each epoch visits the blocks in a random order and each
    block's rows in a random order, ``batch_size`` at a time (a block's last batch may be
    smaller).  The order depends only on (seed, epoch), so a resumed run draws the same
    batches; it is not one global permutation of the rows, which would read the file at
    random.
    """

    def __init__(self, stream: RowStream, batch_size: int, seed: int):
        self.stream, self.batch_size, self.seed = stream, batch_size, seed
        self.table = stream.block_table()
        counts = np.array([kept for _, _, kept in self.table])
        self.offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])  # each block's first row in the stream
        self.batches = -(-counts // batch_size)  # per block
        self.per_epoch = int(self.batches.sum())
        self._epoch: tuple[int, np.ndarray, np.ndarray] | None = None
        self._block: tuple[int, int, Tensor, Tensor] | None = None

    def batch(self, iteration: int) -> tuple[Tensor, Tensor]:
        """(x (b, n), the rows' positions in the stream (b,)) of step ``iteration``."""
        epoch, index = divmod(iteration, self.per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(len(self.table), generator=generator).numpy()
            self._epoch = (epoch, order, np.cumsum(self.batches[order]))
        _, order, ends = self._epoch
        position = int(np.searchsorted(ends, index, side="right"))
        block = int(order[position])
        within = index - (int(ends[position - 1]) if position else 0)
        if self._block is None or self._block[:2] != (epoch, block):
            file_index, first, kept = self.table[block]
            generator = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 1_000_033 + block)
            self._block = (
                epoch,
                block,
                self.stream.read_block(file_index, first),
                torch.randperm(kept, generator=generator),
            )
        _, _, x, permutation = self._block
        local = permutation[within * self.batch_size : (within + 1) * self.batch_size]
        return x[local.to(x.device)], local + int(self.offsets[block])


def _prefetched(blocks, depth: int = 1):
    """``blocks``' items, each produced by a background thread while the caller uses the one before."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in blocks:
                slots.put(item)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            slots.put(error)
            return
        slots.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while True:
        item = slots.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def raw_rows(stream: RowStream) -> Tensor | None:
    """The stream's rows, unstandardized, as one (m, n) float64 tensor on the CPU, or None when
    that would take more than half the available memory (``stats``' table needs them all at once)."""
    m, n = stream.shape
    if m * n * 8 > available_memory() // 2:
        return None
    raw = RowStream(stream.files, stream.mask, stream.block_rows, torch.float64, torch.device("cpu"))
    return torch.cat(list(raw.blocks())) if m else torch.zeros(0, n, dtype=torch.float64)


def is_stream(x) -> bool:
    return isinstance(x, RowStream)


def rows_apply(function, x):
    """``function(x)`` for a tensor; for a stream, ``function`` of each block, concatenated."""
    if not is_stream(x):
        return function(x)
    return torch.cat([function(block) for block in x.blocks()])


def block_sums(function, x, y, sample_weight):
    """Σ over x's blocks of ``function(x_block, y_block, s_block)`` -> a tuple of tensors (the model's
    sums)."""
    total, first = None, 0
    for block in x.blocks():
        last = first + len(block)
        s_block = None if sample_weight is None else sample_weight[first:last]
        part = function(block, y[first:last], s_block)
        total = part if total is None else tuple(a + b for a, b in zip(total, part))
        first = last
    return total
