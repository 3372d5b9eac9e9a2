"""Data: the built-in breast-cancer set, synthetic data, user files, the split and standardization.

Everything here returns float64 tensors: x (m, n) and y (m,) in {0, 1}. The
training loop casts to its dtype. Every problem in a file raises ``DataError``
with one line naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

BREAST_CANCER_CSV = "breast_cancer.csv"
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


@dataclass
class Standardizer:
    """x ↦ (x − mean) / std, fitted on the training rows only.  mean, std: (n,)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor) -> "Standardizer":
        std = x.std(0, unbiased=False)
        # A constant column carries no information; dividing by 1 keeps it finite.
        std = torch.where(std > 0, std, torch.ones_like(std))
        return cls(x.mean(0), std)

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

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


# ---------------------------------------------------------------- sources


def load_breast_cancer() -> tuple[Tensor, Tensor, list[str]]:
    """The Wisconsin diagnostic breast-cancer set: x (569, 30), y = 1 for malignant (212 rows)."""
    text = resources.files("torch_logreg.datasets").joinpath(BREAST_CANCER_CSV).read_text()
    return _parse_csv(text.splitlines(), BREAST_CANCER_CSV, target=None, labels=None)


def make_synthetic(samples: int, features: int, noise: float, seed: int) -> tuple[Tensor, Tensor, list[str]]:
    """Rows from a known logistic model: x ~ N(0, I), y ~ Bernoulli(σ((x·w + b)/max(noise, ε))).

    ``noise`` scales the logits down: 0 gives separable data, 1 the model itself.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=gen, dtype=torch.float64)
    true_w = torch.randn(features, generator=gen, dtype=torch.float64)
    true_b = torch.randn((), generator=gen, dtype=torch.float64) * 0.5
    z = (x @ true_w + true_b) / max(noise, 1e-6)
    y = (torch.rand(samples, generator=gen, dtype=torch.float64) < torch.sigmoid(z)).to(torch.float64)
    return x, y, [f"x{i + 1}" for i in range(features)]


def read_table(path: str | Path, target: str | None = None, labels: dict | None = None) -> tuple[Tensor, Tensor, list[str]]:
    """Read a CSV (header row, label column ``target`` or the last), a ``.npy`` (label in the
    last column) or a ``.npz`` (arrays ``x`` (m, n) and ``y`` (m,)).  Returns x, y, names."""
    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".npz":
        return _read_npz(path)
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _parse_csv(handle, str(path), target, labels)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text CSV (a spreadsheet or binary file? export it as CSV)") from None


def existing_file(path: str | Path) -> Path:
    """``path`` as a Path, or a DataError saying why it cannot be read."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
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


def _parse_csv(lines, name: str, target: str | None, labels: dict | None) -> tuple[Tensor, Tensor, list[str]]:
    rows_in = csv_rows(lines, name)
    _, header = next(rows_in, (0, []))
    if not any(cell.strip() for cell in header):
        raise DataError(f"{name}: the file is empty")
    header = [cell.strip() for cell in header]
    if len(header) < 2:
        raise DataError(f"{name}: needs at least one feature column and a label column, found {len(header)} column")
    if target is None:
        target_index = len(header) - 1
    elif target in header:
        target_index = header.index(target)
    else:
        raise DataError(f"{name}: no target column {target!r}; columns are {', '.join(header)}")
    feature_names = [h for i, h in enumerate(header) if i != target_index]
    rows, raw_labels = [], []
    for line_number, row in rows_in:
        if len(row) != len(header):
            raise DataError(f"{name}: line {line_number} has {len(row)} fields, the header has {len(header)}")
        values = []
        for i, cell in enumerate(row):
            if i == target_index:
                raw_labels.append((cell.strip(), line_number))
                continue
            values.append(parse_number(cell, name, line_number, header[i]))
        rows.append(values)
    if not rows:
        raise DataError(f"{name}: the header has no rows under it")
    x = torch.tensor(rows, dtype=torch.float64)
    y = _parse_labels([value for value, _ in raw_labels], name, labels, [line for _, line in raw_labels])
    return x, y, feature_names


def parse_number(cell: str, name: str, line_number: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{name}: line {line_number}, column {column!r}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{name}: line {line_number}, column {column!r}: {cell.strip()} is not finite")
    return value


def _parse_labels(values: list, name: str, labels: dict | None, where: list | None = None) -> Tensor:
    """Map labels to {0., 1.}: {0, 1}, {−1, 1}, booleans, or two strings named in ``labels``.

    ``where`` names each value's place (a CSV line number) for the message about a bad one.
    """
    distinct = sorted({str(v) for v in values})
    if labels:
        known = {str(k) for k in labels}
        unknown = [v for v in distinct if v not in known]
        if unknown:
            raise DataError(f"{name}: label {unknown[0]!r}{_place(values, unknown[0], where)} is not in data.labels "
                            f"({', '.join(map(str, labels))})")
        mapping = {str(k): float(v) for k, v in labels.items()}
        y = torch.tensor([mapping[str(v)] for v in values], dtype=torch.float64)
    else:
        y = _standard_labels(values, distinct, name, where)
    found = sorted(set(y.tolist()))
    if len(found) < 2:
        raise DataError(f"{name}: only one class ({distinct[0]}) is present; logistic regression needs two")
    return y


def _standard_labels(values: list, distinct: list[str], name: str, where: list | None) -> Tensor:
    if set(distinct) <= _TRUE | _FALSE:
        return torch.tensor([1.0 if str(v) in _TRUE else 0.0 for v in values], dtype=torch.float64)
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        shown = ", ".join(map(repr, distinct[:6])) + (", ..." if len(distinct) > 6 else "")
        first = next(str(v) for v in values if not _is_number(v))
        raise DataError(
            f"{name}: labels must be {{0, 1}}, {{-1, 1}} or booleans; found {len(distinct)} values: {shown} "
            f"({first!r}{_place(values, first, where)}; map two strings to 0 and 1 with data.labels)"
        ) from None
    found = sorted(set(numbers), key=lambda v: (math.isnan(v), v))
    if set(found) <= {0.0, 1.0}:
        return torch.tensor(numbers, dtype=torch.float64)
    if set(found) <= {-1.0, 1.0}:
        return torch.tensor([1.0 if v > 0 else 0.0 for v in numbers], dtype=torch.float64)
    shown = ", ".join(f"{v:g}" for v in found[:6]) + (", ..." if len(found) > 6 else "")
    accepted = {0.0, 1.0} if 0.0 in found else {-1.0, 1.0}
    odd = next(v for v, number in zip(values, numbers) if number not in accepted)
    raise DataError(f"{name}: labels must be two classes, {{0, 1}}, {{-1, 1}} or booleans; found {len(found)} values: "
                    f"{shown} ({str(odd)!r}{_place(values, odd, where)})")


def _is_number(value) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _place(values: list, value, where: list | None) -> str:
    """' on line N' for the first occurrence of ``value``, when places are known."""
    if where is None:
        return ""
    return f" on line {where[[str(v) for v in values].index(str(value))]}"


def _read_npy(path: Path) -> tuple[Tensor, Tensor, list[str]]:
    array = load_npy(path)
    if array.ndim != 2 or array.shape[1] < 2 or array.shape[0] < 1:
        raise DataError(f"{path}: expected a 2-D array (rows, features + label), got shape {tuple(array.shape)}")
    return _from_arrays(array[:, :-1], array[:, -1], str(path))


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


def _read_npz(path: Path) -> tuple[Tensor, Tensor, list[str]]:
    x, y = load_npz(path)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise DataError(f"{path}: expected x (m, n) and y (m,), got x {tuple(x.shape)} and y {tuple(y.shape)}")
    return _from_arrays(x, y, str(path))


def finite_features(x: np.ndarray, name: str) -> np.ndarray:
    """x (m, n) as float64, or a DataError naming the first non-numeric dtype or non-finite entry."""
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise DataError(f"{name}: features must be real numbers, got dtype {x.dtype}")
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():  # then find where: argwhere costs ~3× the check
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{name}: row index {row}, column index {col} (from 0): {x[row, col]} is not finite")
    return x


def _from_arrays(x: np.ndarray, y: np.ndarray, name: str) -> tuple[Tensor, Tensor, list[str]]:
    x = finite_features(x, name)
    names = [f"x{i + 1}" for i in range(x.shape[1])]
    if np.issubdtype(y.dtype, np.number) and set(np.unique(y).tolist()) in ({0, 1}, {-1, 1}):
        # Good numeric labels in bulk; anything else goes the per-value way, which names the bad one.
        return torch.from_numpy(x), torch.from_numpy((y == 1).astype(np.float64)), names
    values = y.tolist()
    if y.dtype == np.bool_:
        values = ["true" if v else "false" for v in values]
    labels = _parse_labels(values, name, None)
    return torch.from_numpy(x), labels, names


# ---------------------------------------------------------------- split


def split_train_test(x: Tensor, y: Tensor, test_fraction: float, seed: int, name: str = "data"):
    """A deterministic split, stratified by class so both sides hold both classes."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for label in (0.0, 1.0):
        rows = np.flatnonzero(y.numpy() == label)
        rows = rows[rng.permutation(len(rows))]
        n_test = int(round(len(rows) * test_fraction))
        if n_test < 1 or n_test >= len(rows):
            raise DataError(
                f"{name}: too few rows for the split: {len(y)} rows, {len(rows)} of class {int(label)}, "
                f"test_fraction {test_fraction} (each side needs at least one row of each class)"
            )
        test_index.extend(rows[:n_test])
        train_index.extend(rows[n_test:])
    train_index, test_index = np.sort(train_index), np.sort(test_index)
    return x[train_index], y[train_index], x[test_index], y[test_index]


def make_split(x_train, y_train, x_test, y_test, names, standardize: bool) -> Split:
    """Fit the standardization on the train rows only, and apply it to both sides."""
    if x_test.shape[1] != x_train.shape[1]:
        raise DataError(f"the test data has {x_test.shape[1]} features, the training data {x_train.shape[1]}")
    standardizer = Standardizer.fit(x_train) if standardize else None
    if standardizer is not None:
        x_train, x_test = standardizer.transform(x_train), standardizer.transform(x_test)
    return Split(x_train, y_train, x_test, y_test, list(names), standardizer)


def breast_cancer(test_fraction: float = 0.25, seed: int = 0, standardize: bool = True) -> Split:
    """The built-in default data, split and standardized: the document's run in one call."""
    x, y, names = load_breast_cancer()
    return make_split(*split_train_test(x, y, test_fraction, seed, BREAST_CANCER_CSV), names, standardize)


def load_split(data, seed: int) -> Split:
    """The split that a ``DataConfig`` asks for: a user file, synthetic data or the default set."""
    if data.path:
        x, y, names = read_table(data.path, data.target, data.labels)
        if data.test_path:
            x_test, y_test, _ = read_table(data.test_path, data.target, data.labels)
            return make_split(x, y, x_test, y_test, names, data.standardize)
        parts = split_train_test(x, y, data.test_fraction, seed, str(data.path))
    elif data.name == "synthetic":
        x, y, names = make_synthetic(data.samples, data.features, data.noise, seed)
        parts = split_train_test(x, y, data.test_fraction, seed, "synthetic data")
    else:
        x, y, names = load_breast_cancer()
        parts = split_train_test(x, y, data.test_fraction, seed, BREAST_CANCER_CSV)
    return make_split(*parts, names, data.standardize)
