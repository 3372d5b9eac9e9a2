"""Files of raw rows for a trained model: features in training order, and labels as class indices.

A CSV's header must name the training feature columns: in any order (they are put
back in training order), none missing, none unknown, none twice.  A label column is
optional for predicting (dropped unread) and required for evaluating: the checkpoint's
target column, or else the last column.  A file without a header is read only when
asked (``header=False``, ``--no-header``): its columns are then the features in
training order, optionally followed by the label.  Arrays: a .npy of (m, n) features
or (m, n + 1) with the label last, or a .npz holding ``x`` (m, n) and ``y`` (m,).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import torch
from torch import Tensor

from .data.read_table import csv_rows, existing_file, finite_features, load_npy, load_npz, parse_number
from .errors import DataError
from .saved_model import StandardizedModel

_TRUE, _FALSE = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}


def read_rows(
    path, model: StandardizedModel, *, header: bool = True, need_labels: bool = False
) -> tuple[Tensor, list | None, list[str]]:
    """(x, labels, places): x (m, n) float64 features in training order; the raw label of each
    row (None when the file has no label column); and each row's place ("line 3") for messages.

    A CSV, a .npy of (m, n) features or (m, n + 1) with the label last, or a .npz holding
    ``x`` (m, n) (and ``y`` (m,) when labels are needed).
    """
    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return _read_array(path, model, need_labels)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _read_csv(handle, path, model, header, need_labels)
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not a UTF-8 text CSV (a spreadsheet or binary file? export it as CSV)"
        ) from None


def _read_array(path: Path, model: StandardizedModel, need_labels: bool):
    n = model.in_features
    if path.suffix.lower() == ".npz":
        arrays = load_npz(path, keys=("x", "y") if need_labels else ("x",))
        x = _feature_array(arrays[0], path, n, label_may_follow=False)
        y = arrays[1] if need_labels else None
        if y is not None and (y.ndim != 1 or len(y) != len(x)):
            raise DataError(f"{path}: expected y of shape ({len(x)},), got {tuple(y.shape)}")
    else:
        array = load_npy(path)
        if need_labels and (array.ndim != 2 or array.shape[1] != n + 1):
            raise DataError(
                f"{path}: expected a 2-D array of rows by {n + 1} columns (features, then the label), "
                f"got shape {tuple(array.shape)}"
            )
        x = _feature_array(array, path, n, label_may_follow=True)
        y = array[:, -1] if need_labels else None
    labels = None if y is None else y.tolist()
    return x, labels, [f"row index {i}" for i in range(len(x))]


def _feature_array(array, path: Path, n: int, label_may_follow: bool) -> Tensor:
    widths = f"{n} or {n + 1} (features, then the label)" if label_may_follow else f"{n}"
    if array.ndim != 2 or array.shape[0] < 1:
        raise DataError(
            f"{path}: expected a 2-D array of rows by {widths} columns, got shape {tuple(array.shape)}"
        )
    if label_may_follow and array.shape[1] == n + 1:
        array = array[:, :-1]
    if array.shape[1] != n:
        raise DataError(f"{path}: has {array.shape[1]} columns, the checkpoint expects {widths}")
    return torch.from_numpy(finite_features(array, str(path)))


def _read_csv(lines, path: Path, model: StandardizedModel, header: bool, need_labels: bool):
    rows_in = csv_rows(lines, str(path))
    first = next(rows_in, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise DataError(f"{path}: the file is empty")
    if header:
        names = [cell.strip() for cell in first[1]]
        columns, label = _header_layout(names, path, model, need_labels)
        where = "the header"
    else:
        columns, label = _headerless_layout(len(first[1]), path, model, need_labels)
        names = [*model.feature_names, "label"]
        rows_in, where = itertools.chain([first], rows_in), f"line {first[0]}"
    width = len(first[1])
    values, labels, places = [], [], []
    for line_number, row in rows_in:
        if len(row) != width:
            raise DataError(f"{path}: line {line_number} has {len(row)} fields, {where} has {width}")
        values.append([parse_number(row[i], str(path), line_number, names[i]) for i in columns])
        if label is not None:
            labels.append(row[label].strip())
            places.append(f"line {line_number}")
    if not values:
        raise DataError(f"{path}: the header has no rows under it")
    return torch.tensor(values, dtype=torch.float64), labels if label is not None else None, places


def _header_layout(names: list[str], path: Path, model: StandardizedModel, need_labels: bool):
    """(the column of each training feature, the label's column or None) from a header row."""
    features = model.feature_names
    if all(_is_number(name) for name in names) and not set(names) & set(features):
        raise DataError(
            f"{path}: line 1 holds numbers, not column names; for a file without a header, "
            f"pass --no-header (header=False) and give the {len(features)} features in training order"
        )
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        raise DataError(f"{path}: column {twice!r} appears twice in the header")
    label = None
    if model.target is not None and model.target in names:
        label = names.index(model.target)
    elif names[-1] not in features and (need_labels or model.target is None):
        label = len(names) - 1  # the label column by position, as training reads it when no target is named
    unknown = [name for i, name in enumerate(names) if i != label and name not in features]
    if unknown:
        raise DataError(
            f"{path}: column {unknown[0]!r} is not a training feature; the model takes {_listing(features)}"
        )
    missing = [name for name in features if name not in names]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        taken = (
            f" (the last column, {names[label]!r}, was taken as the label)"
            if label == len(names) - 1 and names[label] != model.target
            else ""
        )
        raise DataError(
            f"{path}: missing column {missing[0]!r}{more}{taken}; the model takes {_listing(features)}"
        )
    if need_labels and label is None:
        expected = f"{model.target!r} or a last column" if model.target else "a last column"
        raise DataError(f"{path}: no label column: expected {expected} after the {len(features)} features")
    return [names.index(name) for name in features], label


def _headerless_layout(width: int, path: Path, model: StandardizedModel, need_labels: bool):
    n = model.in_features
    if width == n + 1:
        return list(range(n)), n
    expected = (
        f"{n + 1} (features in training order, then the label)"
        if need_labels
        else f"{n} or {n + 1} (features in training order, then the label)"
    )
    if width != n or need_labels:
        raise DataError(f"{path}: line 1 has {width} fields; without a header the model expects {expected}")
    return list(range(n)), None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return f"{len(names)} columns: {shown}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- labels


def class_indices(labels: list, places: list[str], model: StandardizedModel, name) -> Tensor:
    """Raw labels -> (m,) int64 indices into ``model.classes``, through ``data.labels`` when training had it.

    Labels compare as values: "1", "1.0" and 1 are the same label, "true" and True too.  For
    the classes [0, 1], −1 and booleans keep their training meaning (0, 1 and false, true).
    """
    lookup = {_label_key(c): k for k, c in enumerate(model.classes)}
    if [_label_key(c) for c in model.classes] == [_label_key(0), _label_key(1)]:
        for raw, k in ((-1, 0), (False, 0), (True, 1)):
            lookup.setdefault(_label_key(raw), k)
    mapping = {_label_key(raw): _label_key(value) for raw, value in (model.label_map or {}).items()}
    indices = []
    for value, place in zip(labels, places):
        key = _label_key(value)
        k = lookup.get(mapping.get(key, key))
        if k is None:
            raise DataError(
                f"{name}: {place}: label {str(value)!r} is not one of the model's classes "
                f"({', '.join(map(str, model.classes))})"
            )
        indices.append(k)
    return torch.tensor(indices, dtype=torch.int64)


def _label_key(value) -> tuple:
    """A label as a comparable value: ("bool", b), ("number", int or float) or ("text", s)."""
    if hasattr(value, "item"):  # numpy or torch scalars
        value = value.item()
    if isinstance(value, str):
        text = value.strip()
        if text in _TRUE or text in _FALSE:
            return "bool", text in _TRUE
        if not _is_number(text):
            return "text", text
        value = float(text)
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    return "number", value
