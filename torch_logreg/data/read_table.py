"""Strict reading of a labelled table: a CSV, a ``.npy`` or a ``.npz``, into a ``Table``.

x (m, n) float64 and y (m,) class indices 0..K−1, with ``classes`` the original label
values in index order (``labels.py`` says how labels become classes).  Every problem in a
file raises ``DataError`` with one line naming the file, the line and the column; numbers
are read strictly (``NUMBER``), and arrays are never unpickled.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .labels import encode_labels


@dataclass
class Table:
    """Labelled rows before the split: x (m, n) float64, y (m,) float64 indices into ``classes``."""

    x: Tensor
    y: Tensor
    feature_names: list[str]
    classes: list
    image_shape: tuple[int, ...] | None = None  # (H, W) or (C, H, W) when each row is an image
    label_name: str | None = None  # a CSV's label column, so that a test file's is found by name


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
            return parse_csv(handle, str(path), target, labels, classes)
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


def parse_csv(
    lines, name: str, target: str | None, labels: dict | None, classes: list | None = None
) -> Table:
    """CSV text as a Table: ``lines`` any iterable of lines (``name`` in the messages), a header row
    naming the columns, the labels in column ``target`` (the last by default)."""
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
