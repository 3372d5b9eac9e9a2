"""Each worker's rows of the data, and standardization from every worker's sums.

A ``.npy`` file is read through a memory map: a worker reads its row range and, to
draw the split, the label column.  A folder of ``.npy`` shards (``data.path=DIR``,
the files in name order, one table) gives each worker its share of the files.  CSV,
``.npz`` and the built-in sets are read whole by every worker and split in memory:
large data belongs in ``.npy``.

The split is one process's: every worker reads the label column and draws
``split_indices`` from the seed; its training rows are the training rows inside its
row range, so the workers' rows, in rank order, are one process's ``x_train``.  With
``data.test_path`` there is no split: a worker reads only its own rows of both files,
and the classes are the union of every worker's labels.

Standardization combines the workers' counts, means and squared deviations by Chan,
Golub & LeVeque's parallel formula: with n = Σ n_w and mean = Σ n_w·mean_w / n,

    M2 = Σ_w [M2_w + n_w·(mean_w − mean)²],   std = √(M2 / n),

so it equals one process's statistics to rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from . import stream_statistics, streaming
from .image_folder import is_image_folder
from .labels import encode_labels
from .read_table import existing_file, finite_features
from .split import Shard, Split, load_split, split_indices
from .standardizer import Standardizer


def load_for_training(data, seed: int, group, standardizer: Standardizer | None = None) -> Split:
    """The trainer's data: streamed (``streaming``) when asked or too large for memory, else this
    worker's rows in memory (``load_split_shard``), else, for one process, ``load_split``.
    ``standardizer``: a resumed run's, so streaming need not redo its statistics pass."""
    if row_addressable(data.path) and (not data.test_path or row_addressable(data.test_path)):
        if group.agree(_streams, data):
            return load_streamed(data, seed, group, standardizer)
    # a folder of .npy shards, read shard by shard (a folder of images is read whole, as a file is)
    folder = bool(data.path) and Path(data.path).is_dir() and not is_image_folder(data.path)
    return load_split_shard(data, seed, group) if group.active or folder else load_split(data, seed)


def _streams(data) -> bool:
    """Stream when asked, or when the data in float64 would exceed data.memory_limit.  A file whose
    header cannot be read is left to the in-memory reader, whose errors say what is wrong."""
    if getattr(data, "stream", False):
        return True
    try:
        files = [streaming.NpyFile(f) for f in npy_files(data.path)]
    except DataError:
        return False
    return streaming.wants_streaming(data, files, 8)


def load_split_shard(data, seed: int, group) -> Split:
    """This worker's part of the split that ``data`` asks for, with ``split.shard`` saying where it sits."""
    if not row_addressable(data.path) or (data.test_path and not row_addressable(data.test_path)):
        split = group.agree(load_split, data, seed)
        return _keep_rows(split, group)
    _refuse_shift(data, "under torchrun, .npy rows are read in ranges")
    if data.test_path:
        x_train, y_train, x_test, y_test, classes = _read_without_split(data, group)
    else:
        x_train, y_train, x_test, y_test, classes = group.agree(_read_with_split, data, seed, group)
    n = x_train.shape[1]
    standardizer = parallel_standardizer(x_train, group) if data.standardize else None
    x_test_raw = x_test
    if standardizer is not None:
        x_train, x_test = standardizer.transform(x_train), standardizer.transform(x_test)
    train_start, train_total = group.counts_before(x_train.shape[0])
    _, test_total = group.counts_before(x_test.shape[0])
    if test_total == 0:
        raise DataError(f"{data.test_path or data.path}: no test rows")
    return Split(
        x_train,
        y_train,
        x_test,
        y_test,
        [f"x{i + 1}" for i in range(n)],
        standardizer,
        classes=classes,
        x_test_raw=x_test_raw,
        shard=Shard(train_start, train_total, test_total),
        image_shape=tuple(data.image_shape) if data.image_shape else None,
    )


def _refuse_shift(data, why: str) -> None:
    """``data.shift`` copies images in memory; a reader that never holds every row cannot add them."""
    if getattr(data, "shift", 0):
        raise DataError(
            f"data.shift={data.shift} needs every training row in memory, but {why}; "
            f"set data.shift=0, or run in one process without data.stream"
        )


def row_addressable(path) -> bool:
    """A ``.npy`` file or a folder of ``.npy`` shards: rows that can be read by range, and streamed."""
    shard_folder = Path(path).is_dir() and not is_image_folder(path) if path else False
    return bool(path) and (shard_folder or Path(path).suffix.lower() == ".npy")


def _keep_rows(split: Split, group) -> Split:
    """A split read whole, cut to this worker's even share of the training and of the test rows."""
    m, m_test = split.x_train.shape[0], split.x_test.shape[0]
    lo, hi = _bounds(m, group.rank, group.world_size)
    tlo, thi = _bounds(m_test, group.rank, group.world_size)
    split.x_train, split.y_train = split.x_train[lo:hi], split.y_train[lo:hi]
    split.x_test, split.y_test = split.x_test[tlo:thi], split.y_test[tlo:thi]
    if split.x_test_raw is not None:
        split.x_test_raw = split.x_test_raw[tlo:thi]
    split.shard = Shard(lo, m, m_test)
    return split


def _bounds(count: int, rank: int, world: int) -> tuple[int, int]:
    return count * rank // world, count * (rank + 1) // world


# ---------------------------------------------------------------- files


def npy_files(path) -> list[Path]:
    """The shards of ``path``: the folder's ``*.npy`` files in name order, or the one file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise DataError(f"{path}: the folder holds no .npy shards")
        return files
    return [existing_file(path)]


def open_npy(path: Path) -> np.ndarray:
    """A memory map of a 2-D numeric .npy (rows, features + label); never unpickles, reads no rows."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (a missing shard)")
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{path}: not a .npy file (it does not start with the .npy signature)")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise DataError(f"{path}: not a readable numeric .npy array ({str(error).splitlines()[0]})") from None
    if array.ndim != 2 or array.shape[1] < 2 or array.shape[0] < 1:
        raise DataError(
            f"{path}: expected a 2-D array (rows, features + label), got shape {tuple(array.shape)}"
        )
    return array


class Table:
    """Shards read as one table: rows numbered across the files in order."""

    def __init__(self, files: list[Path], arrays: list[np.ndarray], columns: int | None = None):
        self.files, self.arrays = files, arrays
        columns = columns or arrays[0].shape[1]
        for file, array in zip(files, arrays):
            if array.shape[1] != columns:
                raise DataError(
                    f"{file}: has {array.shape[1]} columns, the other shards {columns} (features + label)"
                )
        self.columns = columns
        self.starts = np.cumsum([0] + [len(a) for a in arrays])

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    def labels(self) -> np.ndarray:
        """The label column (m,), read from every shard."""
        return np.concatenate([np.asarray(a[:, -1]) for a in self.arrays])

    def features(self, rows: np.ndarray, name: str) -> Tensor:
        """x (len(rows), n) float64 of the sorted global ``rows``, reading only those rows."""
        pieces = []
        for file, array, start, stop in zip(self.files, self.arrays, self.starts[:-1], self.starts[1:]):
            here = rows[(rows >= start) & (rows < stop)] - start
            if len(here):
                pieces.append(finite_features(np.asarray(array[here, :-1]), str(file)))
        if not pieces:
            return torch.zeros((0, self.columns - 1), dtype=torch.float64)
        return torch.from_numpy(np.concatenate(pieces))


def _my_rows(table: Table, rank: int, world: int, by_files: bool) -> tuple[int, int]:
    """This worker's global row range: its share of the files, or of one file's rows."""
    if by_files:
        first, last = _bounds(len(table.files), rank, world)
        return int(table.starts[first]), int(table.starts[last])
    return _bounds(table.rows, rank, world)


def _read_with_split(data, seed: int, group):
    """Every worker reads the label column and draws the one split; it keeps the rows in its range."""
    files = npy_files(data.path)
    table = Table(files, [open_npy(f) for f in files])
    name = str(data.path)
    y_all, classes = encode_labels(table.labels(), name, data.labels)
    train_index, test_index = split_indices(y_all, data.test_fraction, seed, classes, name)
    lo, hi = _my_rows(table, group.rank, group.world_size, by_files=Path(data.path).is_dir())
    train_rows = train_index[(train_index >= lo) & (train_index < hi)]
    test_rows = test_index[(test_index >= lo) & (test_index < hi)]
    return (
        table.features(train_rows, name),
        y_all[train_rows],
        table.features(test_rows, name),
        y_all[test_rows],
        classes,
    )


def _read_without_split(data, group):
    """``data.test_path``: each worker reads its own rows of both files; the classes are everyone's labels."""

    def read(path, columns=None):
        files = npy_files(path)
        by_files = Path(path).is_dir()
        if by_files:
            first, last = _bounds(len(files), group.rank, group.world_size)
            files = files[first:last]
        if not files:
            return None, None
        table = Table(files, [open_npy(f) for f in files], columns)
        lo, hi = (0, table.rows) if by_files else _bounds(table.rows, group.rank, group.world_size)
        rows = np.arange(lo, hi)
        return table.features(rows, str(path)), np.concatenate([np.asarray(a[:, -1]) for a in table.arrays])[
            lo:hi
        ]

    def read_both():
        x_train, raw_train = read(data.path)
        x_test, raw_test = read(data.test_path)
        return x_train, raw_train, x_test, raw_test

    x_train, raw_train, x_test, raw_test = group.agree(read_both)
    columns = group.broadcast(None if x_train is None else x_train.shape[1])
    x_train = x_train if x_train is not None else torch.zeros((0, columns), dtype=torch.float64)
    x_test = x_test if x_test is not None else torch.zeros((0, columns), dtype=torch.float64)
    raw_train = raw_train if raw_train is not None else np.zeros(0)
    raw_test = raw_test if raw_test is not None else np.zeros(0)
    distinct = _gather_distinct(np.unique(raw_train), group)

    def encode():
        if x_test.shape[1] != columns:
            raise DataError(f"{data.test_path}: has {x_test.shape[1]} features, the training data {columns}")
        _, classes = encode_labels(distinct, str(data.path), data.labels)
        y_train = (
            encode_labels(raw_train, str(data.path), data.labels, classes)[0]
            if len(raw_train)
            else torch.zeros(0, dtype=torch.float64)
        )
        y_test = (
            encode_labels(raw_test, str(data.test_path), data.labels, classes)[0]
            if len(raw_test)
            else torch.zeros(0, dtype=torch.float64)
        )
        return y_train, y_test, classes

    y_train, y_test, classes = group.agree(encode)
    return x_train, y_train, x_test, y_test, classes


def _gather_distinct(values: np.ndarray, group) -> np.ndarray:
    if not group.active:
        return values
    everyone = [None] * group.world_size
    group.dist.all_gather_object(everyone, values)
    return np.unique(np.concatenate([v for v in everyone if len(v)]))


# ---------------------------------------------------------------- standardization


def parallel_standardizer(x: Tensor, group) -> Standardizer:
    """mean and std (n,) of every worker's rows of x, by Chan's parallel formula (module docstring)."""
    count_here = x.shape[0]
    flat = torch.cat([torch.tensor([float(count_here)], dtype=torch.float64), x.sum(0, dtype=torch.float64)])
    flat = _reduced(flat, group)
    count, mean = flat[0], flat[1:] / flat[0]
    mean_here = x.mean(0, dtype=torch.float64) if count_here else mean
    m2 = ((x.double() - mean_here) ** 2).sum(0) + count_here * (mean_here - mean) ** 2
    m2 = _reduced(m2, group)
    std = torch.sqrt(m2 / count)
    # A constant column carries no information; dividing by 1 keeps it finite.
    return Standardizer(mean, torch.where(std > 0, std, torch.ones_like(std)))


def _device(group) -> torch.device:
    return getattr(group, "device", torch.device("cpu"))


def _reduced(tensor: Tensor, group) -> Tensor:
    """Σ over the workers of a CPU float64 tensor (moved to the group's device for NCCL)."""
    return group.all_reduce(tensor.to(_device(group))).cpu()


# ---------------------------------------------------------------- streamed


def _open_shards(path) -> list:
    """The ``.npy`` file (or a folder's shards) as ``streaming.NpyFile``s, all with the same columns."""
    files = [streaming.NpyFile(f) for f in npy_files(path)]
    for file in files[1:]:
        if file.columns != files[0].columns:
            raise DataError(
                f"{file.path}: has {file.columns} columns, the other shards {files[0].columns} "
                f"(features + label)"
            )
    return files


def _worker_rows(files, path, group) -> np.ndarray:
    """(rows,) bool: this worker's rows, whole shards of a folder, else a contiguous slice of one file."""
    mask = np.zeros(sum(f.rows for f in files), dtype=bool)
    starts = np.cumsum([0] + [f.rows for f in files])
    if Path(path).is_dir():
        first, last = _bounds(len(files), group.rank, group.world_size)
        mask[starts[first] : starts[last]] = True
    else:
        mask[slice(*_bounds(len(mask), group.rank, group.world_size))] = True
    return mask


def load_streamed(data, seed: int, group, standardizer: Standardizer | None = None) -> Split:
    """The split as ``streaming.RowStream``s: a label pass, the split, then (unless given) the statistics."""
    _refuse_shift(data, "streamed rows are read block by block")

    def first_passes():
        files = _open_shards(data.path)
        block = streaming.block_rows_for(data, files)
        raw = stream_statistics.label_column(files, block)
        mine = _worker_rows(files, data.path, group)
        if data.test_path:
            test_files = _open_shards(data.test_path)
            test_mine = _worker_rows(test_files, data.test_path, group)
            test_raw = stream_statistics.label_column(test_files, block)
            return files, block, raw, mine, test_files, test_raw, test_mine
        return files, block, raw, mine, None, None, None

    files, block, raw, mine, test_files, test_raw, test_mine = group.agree(first_passes)
    name = str(data.path)
    if test_files is None:
        y_all, classes = encode_labels(raw, name, data.labels)
        train_index, test_index = split_indices(y_all, data.test_fraction, seed, classes, name)
        train_mask, test_mask = np.zeros(len(raw), dtype=bool), np.zeros(len(raw), dtype=bool)
        train_mask[train_index], test_mask[test_index] = True, True
        train_mask &= mine
        test_mask &= mine
        y_train, y_test = y_all[torch.from_numpy(train_mask)], y_all[torch.from_numpy(test_mask)]
        x_train = streaming.RowStream(files, train_mask, block)
        x_test = streaming.RowStream(files, test_mask, block)
    else:
        distinct = _gather_distinct(np.unique(raw[mine]), group)
        classes = group.agree(lambda: encode_labels(distinct, name, data.labels)[1])
        y_train = encode_labels(raw[mine], name, data.labels, classes)[0]
        y_test = encode_labels(test_raw[test_mine], str(data.test_path), data.labels, classes)[0]
        x_train = streaming.RowStream(files, mine, block)
        x_test = streaming.RowStream(test_files, test_mine, block)
    if data.standardize:
        if standardizer is None:
            standardizer = Standardizer(*stream_statistics.streamed_statistics(x_train, group))
        x_train = x_train.standardized(standardizer.mean, standardizer.std)
        x_test = x_test.standardized(standardizer.mean, standardizer.std)
    train_start, train_total = group.counts_before(x_train.shape[0])
    _, test_total = group.counts_before(x_test.shape[0])
    return Split(
        x_train,
        y_train,
        x_test,
        y_test,
        [f"x{i + 1}" for i in range(x_train.n)],
        standardizer,
        classes=classes,
        shard=Shard(train_start, train_total, test_total),
    )
