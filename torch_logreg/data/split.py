"""The train/test split of a table, standardized: ``load_split`` turns a ``DataConfig`` into a ``Split``.

Everything here returns float64 tensors: x (m, n) and y (m,) of class indices 0..K−1,
with ``classes`` the original label values in index order.  The training loop casts to
its dtype.  Files are read by ``read_table.py`` (image folders by ``image_folder.py``),
the built-in sets come from ``builtin_sets.py``, the statistics from ``standardizer.py``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import Tensor

from ..errors import DataError
from .augment import shifted_copies
from .builtin_sets import BREAST_CANCER_CSV, load_breast_cancer, load_builtin
from .fingerprint import data_fingerprint  # noqa: F401 - the trainer imports it from here
from .image_checks import check_own_image_shape
from .image_folder import is_image_folder, load_image_folder
from .labels import shown_label
from .read_table import Table, load_table
from .standardizer import Standardizer


@dataclass
class Split:
    """A train/test split, already standardized when ``standardizer`` is set."""

    x_train: Tensor  # (m_train, n)
    y_train: Tensor  # (m_train,)
    x_test: Tensor  # (m_test, n)
    y_test: Tensor  # (m_test,)
    feature_names: list[str]
    standardizer: Standardizer | None = None
    classes: list = field(default_factory=lambda: [0, 1])  # original labels; y holds their indices
    image_shape: tuple[int, ...] | None = None  # (H, W) or (C, H, W): each row is an image; (8, 8) for digits
    x_test_raw: Tensor | None = None  # (m_test, n): the test features before standardization
    shard: "Shard | None" = None  # under torchrun: where these rows sit among all the workers'

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, which a model is built for: (n,) for rows of n features, (C, H, W)
        when each row holds an image's pixels ((H, W) images have C = 1)."""
        if self.image_shape is None:
            return (self.n_features,)
        return tuple(self.image_shape) if len(self.image_shape) == 3 else (1, *self.image_shape)


@dataclass
class Shard:
    """A worker's training rows are rows [train_start, train_start + m_here) of the train_total
    training rows of one process, in the same order; its test rows likewise, of test_total."""

    train_start: int
    train_total: int
    test_total: int


def split_indices(
    y, test_fraction: float, seed: int, classes: list | None = None, name: str = "data"
) -> tuple[np.ndarray, np.ndarray]:
    """The stratified split as sorted row indices (train, test), from the label column alone.

    y: (m,) class indices 0..K−1.  One ``default_rng(seed)`` permutes each class's rows in
    turn, class 0 first, and round(count·test_fraction) of them go to the test side.  It
    depends only on (y, test_fraction, seed), so any process that reads the label column
    draws the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    y = np.asarray(y.numpy() if isinstance(y, Tensor) else y).astype(np.int64)
    counts = np.bincount(y, minlength=len(classes) if classes else 0)
    by_class = np.split(np.argsort(y, kind="stable"), np.cumsum(counts)[:-1])  # each in row order
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for k, rows in enumerate(by_class):
        rows = rows[rng.permutation(len(rows))]
        n_test = int(round(len(rows) * test_fraction))
        if n_test < 1 or n_test >= len(rows):
            label = shown_label(classes[k]) if classes else k
            raise DataError(
                f"{name}: too few rows for the split: {len(y)} rows, {len(rows)} of class {label}, "
                f"test_fraction {test_fraction} (each side needs at least one row of each class)"
            )
        test_index.append(rows[:n_test])
        train_index.append(rows[n_test:])
    return np.sort(np.concatenate(train_index)), np.sort(np.concatenate(test_index))


def split_train_test(
    x: Tensor, y: Tensor, test_fraction: float, seed: int, name: str = "data", classes: list | None = None
):
    """x_train, y_train, x_test, y_test: the rows of ``split_indices``."""
    train_index, test_index = split_indices(y, test_fraction, seed, classes, name)
    return x[train_index], y[train_index], x[test_index], y[test_index]


def make_split(
    x_train,
    y_train,
    x_test,
    y_test,
    names,
    standardize: bool,
    *,
    classes: list | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> Split:
    """Fit the standardization on the train rows only, and apply it to both sides."""
    if x_test.shape[1] != x_train.shape[1]:
        raise DataError(f"the test data has {x_test.shape[1]} features, the training data {x_train.shape[1]}")
    x_test_raw = x_test
    standardizer = Standardizer.fit(x_train, image_shape) if standardize else None
    if standardizer is not None:
        x_train, x_test = standardizer.transform(x_train), standardizer.transform(x_test)
    return Split(
        x_train,
        y_train,
        x_test,
        y_test,
        list(names),
        standardizer,
        classes=list(classes) if classes is not None else [0, 1],
        image_shape=image_shape,
        x_test_raw=x_test_raw,
    )


def breast_cancer(test_fraction: float = 0.25, seed: int = 0, standardize: bool = True) -> Split:
    """The built-in default data, split and standardized: the document's run in one call."""
    x, y, names = load_breast_cancer()
    return make_split(*split_train_test(x, y, test_fraction, seed, BREAST_CANCER_CSV), names, standardize)


def load_split(data, seed: int) -> Split:
    """The split that a ``DataConfig`` asks for: a user file (and test file) or a built-in set.
    (A folder of shards is ``shards.load_for_training``'s.)"""
    if data.path:
        table = read_data_file(data, data.path)
        name = str(data.path)
        image_shape = row_image_shape(data, table)
        if data.test_path:
            _same_kind(data.path, data.test_path)
            if is_image_folder(data.test_path):
                test = read_data_file(data, data.test_path, like=table)
            else:
                target = data.target or (table.label_name if _has_header(data.test_path) else None)
                test = load_table(data.test_path, target, data.labels, classes=table.classes)
            if _has_header(data.path) and _has_header(data.test_path):  # arrays have positions only
                test = _columns_by_name(test, table.feature_names, data.test_path)
            elif test.x.shape[1] != table.x.shape[1]:
                raise DataError(
                    f"{data.test_path}: has {test.x.shape[1]} feature columns, "
                    f"{data.path} has {table.x.shape[1]}"
                )
            x_train, y_train = shifted_copies(table.x, table.y, image_shape, data.shift)
            return make_split(
                x_train,
                y_train,
                test.x,
                test.y,
                table.feature_names,
                data.standardize,
                classes=table.classes,
                image_shape=image_shape,
            )
    else:
        table = load_builtin(data, seed)
        name = BREAST_CANCER_CSV if data.name == "breast_cancer" else f"{data.name} data"
        image_shape = row_image_shape(data, table)
    x_train, y_train, x_test, y_test = split_train_test(
        table.x, table.y, data.test_fraction, seed, name, table.classes
    )
    x_train, y_train = shifted_copies(x_train, y_train, image_shape, data.shift)
    return make_split(
        x_train,
        y_train,
        x_test,
        y_test,
        table.feature_names,
        data.standardize,
        classes=table.classes,
        image_shape=image_shape,
    )


def _same_kind(path, test_path) -> None:
    """A test set of the training data's kind: images for a folder of images, rows for rows.  Mixed,
    the test file would fail on its labels or widths, naming a symptom instead of the cause."""
    images, test_images = is_image_folder(path), is_image_folder(test_path)
    if images != test_images:
        kinds = {True: "a folder of images (one sub-folder per class)", False: "a file of rows"}
        raise DataError(
            f"{test_path}: data.test_path is {kinds[test_images]}, but data.path={path} is "
            f"{kinds[images]}; give test data of the same kind"
        )


def read_data_file(data, path, like: Table | None = None) -> Table:
    """``path`` as labelled rows: a folder of images (one sub-folder per class, resized to
    ``data.image_size``), or a file (``load_table``).  ``like``: the training table, for a test file."""
    if not is_image_folder(path):
        return load_table(path, data.target, data.labels, classes=like.classes if like else None)
    channels = like.image_shape[0] if like is not None and like.image_shape else None
    x, y, classes, shape = load_image_folder(path, data.image_size, like.classes if like else None, channels)
    return Table(x, y, [f"pixel{i + 1}" for i in range(x.shape[1])], classes, shape)


def row_image_shape(data, table: Table) -> tuple[int, ...] | None:
    """``data.image_shape`` when set (its pixels must be a row's features), else the data's own (digits')."""
    check_own_image_shape(data, table.image_shape)
    if data.image_shape is None:
        return table.image_shape
    shape = tuple(data.image_shape)
    if math.prod(shape) != table.x.shape[1]:
        raise DataError(
            f"data.image_shape {list(shape)} has {math.prod(shape)} pixels, but each row of "
            f"{data.path or data.name} has {table.x.shape[1]} features"
        )
    return shape


def _columns_by_name(test: Table, names: list[str], path) -> Table:
    """The test table's feature columns in the training file's order, matched by name as ``predict`` does."""
    if test.feature_names == names:
        return test
    missing = [n for n in names if n not in test.feature_names]
    extra = [n for n in test.feature_names if n not in names]
    if missing or extra:
        said = (
            f"missing column {missing[0]!r}" if missing else f"column {extra[0]!r} is not a training feature"
        )
        raise DataError(
            f"{path}: {said}; the test file needs the training file's {len(names)} feature columns "
            f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}), in any order"
        )
    order = [test.feature_names.index(n) for n in names]
    return dataclasses.replace(test, x=test.x[:, order], feature_names=list(names))


def _has_header(path) -> bool:
    """Whether a data file names its columns (a CSV); arrays (.npy, .npz) have positions only."""
    return Path(path).suffix.lower() not in (".npy", ".npz")
