"""Data: user files, the built-in sets, the split, standardization and fingerprints.

Everything here returns float64 tensors: x (m, n) and y (m,) of class indices
0..K−1, with ``classes`` the original label values in index order (``labels.py``
says how labels become classes).  The training loop casts to its dtype.  Every
problem in a file raises ``DataError`` with one line naming the file, the line
and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
import re
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .augment import shifted_copies
from .datasets.digits import IMAGE_SHAPE as DIGITS_IMAGE_SHAPE
from .datasets.digits import load_digits
from .datasets.planar import make_flower, make_spirals
from .datasets.synthetic import make_synthetic
from .image_checks import check_own_image_shape
from .image_folder import image_files, is_image_folder, load_image_folder
from .labels import encode_labels, shown_label

BREAST_CANCER_CSV = "breast_cancer.csv"
BUILT_IN = ("breast_cancer", "synthetic", "digits", "flower", "spirals")


@dataclass
class Standardizer:
    """x ↦ (x − mean) / std, fitted on the training rows only.  mean, std: (n,)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor, image_shape: tuple[int, ...] | None = None) -> "Standardizer":
        """Per column; for rows that are images (``image_shape`` (C, H, W) or (H, W)), per channel:
        one mean and std over every pixel of a channel, repeated over its pixels, so a shift of the
        image moves no pixel into another scale and a border pixel that is almost always 0 is not
        blown up by its tiny std."""
        if image_shape is not None:
            channels = x.reshape(x.shape[0], image_shape[0] if len(image_shape) == 3 else 1, -1)
            mean = channels.mean((0, 2), keepdim=True).expand_as(channels[:1])
            std = channels.std((0, 2), unbiased=False, keepdim=True).expand_as(channels[:1])
            return cls._finite(mean.reshape(-1).clone(), std.reshape(-1).clone())
        return cls._finite(x.mean(0), x.std(0, unbiased=False))

    @classmethod
    def _finite(cls, mean: Tensor, std: Tensor) -> "Standardizer":
        # A constant column carries no information; dividing by 1 keeps it finite.
        return cls(mean, torch.where(std > 0, std, torch.ones_like(std)))

    def transform(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x)) / self.std.to(x)

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean.cpu(), "std": self.std.cpu()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> "Standardizer":
        return cls(state["mean"], state["std"])


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


@dataclass
class Table:
    """Labelled rows before the split: x (m, n) float64, y (m,) float64 indices into ``classes``."""

    x: Tensor
    y: Tensor
    feature_names: list[str]
    classes: list
    image_shape: tuple[int, ...] | None = None  # (H, W) or (C, H, W) when each row is an image
    label_name: str | None = None  # a CSV's label column, so that a test file's is found by name


# ---------------------------------------------------------------- built-in sets


def load_breast_cancer() -> tuple[Tensor, Tensor, list[str]]:
    """The Wisconsin diagnostic breast-cancer set: x (569, 30), y = 1 for malignant (212 rows)."""
    table = _breast_cancer_table()
    return table.x, table.y, table.feature_names


def _breast_cancer_table() -> Table:
    text = resources.files("torch_logreg.data.datasets").joinpath(BREAST_CANCER_CSV).read_text()
    return _parse_csv(text.splitlines(), BREAST_CANCER_CSV, target=None, labels=None)


def load_builtin(data, seed: int) -> Table:
    """The built-in set that ``data.name`` names, drawn from ``seed`` where it is generated.

    ``synthetic`` takes data.samples, data.features, data.noise and data.classes;
    ``spirals`` takes data.classes (100 points per class); ``flower`` is 400 points;
    ``digits`` and ``breast_cancer`` are fixed files.
    """
    classes = getattr(data, "classes", 2)  # the key arrives with issue 9's config schema
    if data.name == "breast_cancer":
        return _breast_cancer_table()
    if data.name == "digits":
        return _table(*load_digits(), num_classes=10, image_shape=DIGITS_IMAGE_SHAPE)
    if data.name == "flower":
        return _table(*make_flower(seed), num_classes=2)
    if data.name == "spirals":
        return _table(*make_spirals(classes, seed), num_classes=classes)
    if data.name == "synthetic":
        return _table(
            *make_synthetic(data.samples, data.features, data.noise, seed, classes), num_classes=classes
        )
    raise DataError(f"data.name must be one of {', '.join(BUILT_IN)}, got {data.name!r}")


def _table(x, y, names: list[str], *, num_classes: int, image_shape=None) -> Table:
    """A built-in set's Table: y (m,) already in 0..K−1, so the classes are 0..K−1.

    A class that the draw left empty stays a class; the split then names it.
    """
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    return Table(x, y, names, list(range(num_classes)), image_shape)


# ---------------------------------------------------------------- files


def read_table(
    path: str | Path, target: str | None = None, labels: dict | None = None
) -> tuple[Tensor, Tensor, list[str]]:
    """``load_table`` without the classes: x (m, n), y (m,) class indices, feature names."""
    table = load_table(path, target, labels)
    return table.x, table.y, table.feature_names


def load_table(
    path: str | Path, target: str | None = None, labels: dict | None = None, classes: list | None = None
) -> Table:
    """Read a CSV (header row, label column ``target`` or the last), a ``.npy`` (label in the
    last column) or a ``.npz`` (arrays ``x`` (m, n) and ``y`` (m,)).

    ``classes`` (a training file's) fixes the class order, as for a separate test file;
    a label outside them is an error.  Without it the classes are this file's own.
    """
    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, labels, classes)
    if suffix == ".npz":
        return _read_npz(path, labels, classes)
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _parse_csv(handle, str(path), target, labels, classes)
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not a UTF-8 text CSV (a spreadsheet or binary file? export it as CSV)"
        ) from None


def existing_file(path: str | Path) -> Path:
    """``path`` as a Path, or a DataError saying why it cannot be read.

    A relative path starts from the current folder (also inside a config file),
    so the message for a missing file names the folder it looked in.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file")
    if not path.is_file():
        folder = path.absolute().parent
        missing = "" if folder.is_dir() else ", which does not exist"
        raise DataError(f"{path}: no such file (looked in {folder}{missing})")
    return path


# ---------------------------------------------------------------- parsing


def csv_rows(lines, name: str):
    """(line number, cells) for each non-blank CSV row; a row the csv module rejects raises DataError."""
    reader = csv.reader(lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(f"{name}: line {reader.line_num}: {error}") from None
        if row and not (len(row) == 1 and not row[0].strip()):
            yield reader.line_num, row


def _parse_csv(
    lines, name: str, target: str | None, labels: dict | None, classes: list | None = None
) -> Table:
    rows_in = csv_rows(lines, name)
    _, header = next(rows_in, (0, []))
    if not any(cell.strip() for cell in header):
        raise DataError(f"{name}: the file is empty")
    header = [cell.strip() for cell in header]
    if len(header) < 2:
        raise DataError(
            f"{name}: needs at least one feature column and a label column, found {len(header)} column"
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise DataError(
            f"{name}: column {repeated[0]!r} appears {header.count(repeated[0])} times in the header; "
            f"each column needs its own name"
        )
    if target is None:
        target_index = len(header) - 1
    elif target in header:
        target_index = header.index(target)
    else:
        raise DataError(f"{name}: no target column {target!r}; columns are {', '.join(header)}")
    feature_names = [h for i, h in enumerate(header) if i != target_index]
    rows, raw_labels, line_numbers = [], [], []
    for line_number, row in rows_in:
        if len(row) != len(header):
            raise DataError(f"{name}: line {line_number} has {len(row)} fields, the header has {len(header)}")
        values = []
        for i, cell in enumerate(row):
            if i == target_index:
                raw_labels.append(cell.strip())
                line_numbers.append(line_number)
                continue
            try:
                values.append(parse_number(cell, name, line_number, header[i]))
            except DataError as error:
                if target is None:  # perhaps the label is not where the default looks for it
                    raise DataError(
                        f"{error}; the label is the last column ({header[target_index]!r}) by default, "
                        f"data.target=NAME chooses another"
                    ) from None
                raise
        rows.append(values)
    if not rows:
        raise DataError(f"{name}: the header has no rows under it")
    x = torch.tensor(rows, dtype=torch.float64)
    y, classes = encode_labels(raw_labels, name, labels, classes, lambda row: f" on line {line_numbers[row]}")
    return Table(x, y, feature_names, classes, label_name=header[target_index])


# A number in a data file: a decimal or exponent form in ASCII digits, and nan/inf only to be refused by name.
# Python's float() takes more (1_000, Unicode digits, "infinity" in any case): a file that needs those is
# more likely wrong than meant, so they are refused too.
NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
NON_FINITE = re.compile(r"\s*[+-]?(?:nan|inf|infinity)\s*", re.ASCII | re.IGNORECASE)


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


def parse_number(cell: str, name: str, line_number: int, column: str) -> float:
    """A CSV cell as a float, strictly (``NUMBER``); anything else names the file, line and column."""
    if NUMBER.fullmatch(cell):
        value = float(cell)
        if math.isfinite(value):
            return value
        raise DataError(
            f"{name}: line {line_number}, column {column!r}: {cell.strip()[:40]} is not finite "
            f"(it overflows to {value})"
        )
    if not NON_FINITE.fullmatch(cell):
        raise DataError(
            f"{name}: line {line_number}, column {column!r}: {cell.strip()[:40]!r} is not a number"
        )
    value = float(cell)
    if not math.isfinite(value):
        raise DataError(f"{name}: line {line_number}, column {column!r}: {cell.strip()} is not finite")
    return value


# ---------------------------------------------------------------- arrays


def _read_npy(path: Path, labels: dict | None = None, classes: list | None = None) -> Table:
    array = load_npy(path)
    if array.ndim != 2 or array.shape[1] < 2 or array.shape[0] < 1:
        raise DataError(
            f"{path}: expected a 2-D array (rows, features + label), got shape {tuple(array.shape)}"
        )
    return _from_arrays(array[:, :-1], array[:, -1], str(path), labels, classes)


def load_npy(path: Path) -> np.ndarray:
    """A plain numeric .npy array; never unpickles."""
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{path}: not a .npy file (it does not start with the .npy signature)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise DataError(f"{path}: not a readable numeric .npy array ({_first_line(error)})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: not a .npy array")
    return array


def load_npz(path: Path, keys=("x", "y")) -> list[np.ndarray]:
    """The named arrays of a plain .npz archive; never unpickles."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            found = list(archive.files)
            arrays = {key: archive[key] for key in keys if key in found}
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable numeric .npz archive ({_first_line(error)})") from None
    for key in keys:
        if key not in arrays:
            raise DataError(f"{path}: missing array {key!r} (found: {', '.join(found) or 'none'})")
    return [arrays[key] for key in keys]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _read_npz(path: Path, labels: dict | None = None, classes: list | None = None) -> Table:
    x, y = load_npz(path)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise DataError(
            f"{path}: expected x (m, n) and y (m,), got x {tuple(x.shape)} and y {tuple(y.shape)}"
        )
    return _from_arrays(x, y, str(path), labels, classes)


def finite_features(x: np.ndarray, name: str) -> np.ndarray:
    """x (m, n) as float64, or a DataError naming the first non-numeric dtype or non-finite entry."""
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise DataError(f"{name}: features must be real numbers, got dtype {x.dtype}")
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():  # then find where: argwhere costs ~3× the check
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{name}: row index {row}, column index {col} (from 0): {x[row, col]} is not finite")
    return x


def _from_arrays(x: np.ndarray, y: np.ndarray, name: str, labels: dict | None, classes: list | None) -> Table:
    x = finite_features(x, name)
    if y.dtype.kind not in "biufU":
        raise DataError(f"{name}: labels must be numbers, booleans or text, got dtype {y.dtype}")
    y, classes = encode_labels(y, name, labels, classes)
    return Table(torch.from_numpy(x), y, [f"x{i + 1}" for i in range(x.shape[1])], classes)


# ---------------------------------------------------------------- split


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


# ---------------------------------------------------------------- fingerprint

FINGERPRINT_BLOCK = 64 * 1024
# The full hash reads the file in chunks of this size: memory stays flat whatever the file's size.
HASH_CHUNK = 8 << 20


def data_fingerprint(data) -> dict:
    """{"path": {...}, "test_path": {...}} for the files a DataConfig uses; {} for built-in data.

    Each file gets its size and a BLAKE2b hash of every byte, so a resume refuses a file in which
    anything changed (one flipped label at the same size included).  It also keeps the SHA-256 of
    the first, middle and last 64 KiB that checkpoints before the full hash recorded, so those
    still resume.
    """
    return {key: file_fingerprint(getattr(data, key)) for key in ("path", "test_path") if getattr(data, key)}


def folder_fingerprint(path: Path) -> dict:
    """A folder of .npy shards, or of images: each file's name and ``file_fingerprint``, in one digest per
    kind (an image's name is its path below the folder, class sub-folder included)."""
    sampled, full = hashlib.sha256(), hashlib.blake2b()
    size = 0
    files = [file for file, _ in image_files(path)] if is_image_folder(path) else sorted(path.glob("*.npy"))
    for shard in files:
        print_ = file_fingerprint(shard)
        size += print_["size"]
        name = shard.relative_to(path).as_posix()
        sampled.update(f"{name}:{print_['size']}:{print_['sampled_sha256']};".encode())
        full.update(f"{name}:{print_['size']}:{print_['blake2b']};".encode())
    return {"size": size, "sampled_sha256": sampled.hexdigest(), "blake2b": full.hexdigest()}


def file_fingerprint(path: str | Path) -> dict:
    """{"size": bytes, "blake2b": hash of every byte, "sampled_sha256": hash of three 64 KiB blocks}."""
    if Path(path).is_dir():
        return folder_fingerprint(Path(path))
    path = existing_file(path)
    size = path.stat().st_size
    sampled, full = hashlib.sha256(str(size).encode()), hashlib.blake2b()
    with open(path, "rb") as handle:
        if size <= 3 * FINGERPRINT_BLOCK:
            sampled.update(handle.read())
        else:
            for start in (0, (size - FINGERPRINT_BLOCK) // 2, size - FINGERPRINT_BLOCK):
                handle.seek(start)
                sampled.update(handle.read(FINGERPRINT_BLOCK))
        handle.seek(0)
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        while read := handle.readinto(buffer):
            full.update(view[:read])
    return {"size": size, "blake2b": full.hexdigest(), "sampled_sha256": sampled.hexdigest()}
