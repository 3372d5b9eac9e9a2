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
over torchrun's workers) and divided once.  Streaming costs two passes before training:
one over the label column to draw the split, one for the standardization statistics;
the statistics are saved in the checkpoint, so a resume skips that pass.

Streaming starts when ``data.stream=true`` or when the training data would not fit in
``data.memory_limit`` (default: half the available memory); the block size is chosen
from the limit.  Mini-batch optimizers (sgd, adam) take ``BlockBatches``: the blocks in
a random order, then the rows within a block; not one global permutation.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError, DataError

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


class NpyFile:
    """One .npy file's header: where its rows start, their shape and dtype; reads rows into a buffer."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with open(path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(handle)
                self.offset = handle.tell()
        except (ValueError, OSError, EOFError) as error:
            raise DataError(
                f"{path}: not a readable numeric .npy array ({str(error).splitlines()[0]})"
            ) from None
        if fortran or len(shape) != 2 or dtype.kind not in "biuf" or shape[1] < 2:
            raise DataError(
                f"{path}: expected a 2-D C-order numeric array (rows, features + label), got shape "
                f"{shape}, dtype {dtype}"
            )
        self.rows, self.columns = shape
        self.dtype = dtype
        self.row_bytes = self.columns * dtype.itemsize

    def read(self, handle, first: int, buffer: np.ndarray) -> np.ndarray:
        """Rows [first, first + len(buffer)) into ``buffer`` (reused); returns the filled rows.
        ``handle``: this file, opened unbuffered."""
        count = min(len(buffer), self.rows - first)
        view = buffer[:count]
        handle.seek(self.offset + first * self.row_bytes)
        got = handle.readinto(memoryview(view).cast("B"))
        if got != count * self.row_bytes:
            raise DataError(f"{self.path}: the file ends before its header's {self.rows} rows")
        return view


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
    """Σ over x's blocks of ``function(x_block, y_block, s_block)`` -> a tuple of tensors (the model's sums)."""
    total, first = None, 0
    for block in x.blocks():
        last = first + len(block)
        s_block = None if sample_weight is None else sample_weight[first:last]
        part = function(block, y[first:last], s_block)
        total = part if total is None else tuple(a + b for a, b in zip(total, part))
        first = last
    return total


# ---------------------------------------------------------------- loading


def wants_streaming(data, files: list[NpyFile], dtype_bytes: int) -> bool:
    """data.stream, or the rows in the training dtype would exceed data.memory_limit."""
    if getattr(data, "stream", False):
        return True
    in_memory = sum(f.rows * (f.columns - 1) for f in files) * dtype_bytes
    return in_memory > memory_limit(data)


def block_rows_for(data, files: list[NpyFile]) -> int:
    row_bytes = max(f.columns for f in files) * 8
    return max(MIN_BLOCK_ROWS, memory_limit(data) // (BLOCKS_IN_MEMORY * row_bytes))


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
