"""Class labels: raw values from a file -> float64 class indices 0..K−1 and the classes.

The classes are the sorted distinct values, as scikit-learn's ``classes_``:
integers, booleans or text.  So {0, 1}, {−1, 1} and booleans keep meaning 0/1,
and any other pair's second value is the positive class.  Whole-number floats
become integers (1.0 -> 1); ``data.labels`` maps raw values to class values first.
Errors name the file and the place (a CSV line, or an array's row index).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError

_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}

Place = Callable[[int], str]  # row position -> " on line 7" or " at row index 6 (from 0)"


def encode_labels(
    values, name: str, labels: dict | None = None, classes: list | None = None, place: Place | None = None
) -> tuple[Tensor, list]:
    """Raw labels (CSV text, or a 1-D numpy array) -> (y (m,) float64 class indices, classes).

    Without ``labels``: text that is all true/false is booleans, text that is all numbers is
    integers (1.0 -> 1; 0.5 is an error), other text stays text.  With ``labels``, each raw
    value is looked up there (as text, with 1 == 1.0 == "1").  ``classes`` fixes the order
    (a training file's); otherwise they are the sorted distinct values, at least two.
    """
    place = place or _row_index
    if labels:
        distinct, inverse = _distinct(values.tolist() if isinstance(values, np.ndarray) else values)
        distinct = _mapped(distinct, inverse, labels, name, place)
    elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        distinct, inverse = _array_classes(values, name, place)  # in bulk, for large arrays
    else:
        distinct, inverse = _distinct(values.tolist() if isinstance(values, np.ndarray) else values)
        distinct = _text_classes(distinct, inverse, name, place)
    if classes is None:
        classes = sorted(set(distinct))
        if len(classes) < 2:
            raise DataError(
                f"{name}: only one class ({shown_label(classes[0])}) is present; "
                "logistic regression needs two"
            )
    positions = {value: i for i, value in enumerate(classes)}
    index = np.empty(len(distinct), dtype=np.float64)
    for k, value in enumerate(distinct):
        if value not in positions:
            raise DataError(
                f"{name}: label {shown_label(value)!r}{place(_first_row(inverse, k))} is not one of "
                f"the training data's classes ({', '.join(map(shown_label, classes))})"
            )
        index[k] = positions[value]
    return torch.from_numpy(index[inverse]), list(classes)


def _distinct(values: list) -> tuple[list, np.ndarray]:
    """The distinct values in order of first appearance, and each row's position among them."""
    codes: dict = {}
    inverse = np.fromiter(
        (codes.setdefault(v, len(codes)) for v in values), dtype=np.int64, count=len(values)
    )
    return list(codes), inverse


def _first_row(inverse: np.ndarray, k: int) -> int:
    return int(np.flatnonzero(inverse == k)[0])


def _row_index(row: int) -> str:
    return f" at row index {row} (from 0)"


def shown_label(value) -> str:
    """A class as messages show it: booleans as the files write them (true, false)."""
    return str(value).lower() if isinstance(value, (bool, np.bool_)) else str(value)


def _text_classes(distinct: list, inverse: np.ndarray, name: str, place: Place) -> list:
    """CSV text -> booleans, integers or text, all of one kind (see ``encode_labels``)."""
    distinct = [str(v) for v in distinct]
    for k, text in enumerate(distinct):
        if not text:
            raise DataError(f"{name}: the label{place(_first_row(inverse, k))} is empty")
    if set(distinct) <= _TRUE | _FALSE:
        return [text in _TRUE for text in distinct]
    numbers = [_number(text) for text in distinct]
    if all(number is None for number in numbers):
        return distinct
    for k, number in enumerate(numbers):
        if number is None:
            example = next(text for text, n in zip(distinct, numbers) if n is not None)
            raise DataError(
                f"{name}: label {distinct[k]!r}{place(_first_row(inverse, k))} is text among numeric "
                f"labels such as {example!r}; map them with data.labels"
            )
        if not number.is_integer():
            raise DataError(
                f"{name}: label {distinct[k]!r}{place(_first_row(inverse, k))} is not a whole number; "
                "class labels are integers, booleans or text"
            )
    return [int(number) for number in numbers]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def distinct_and_inverse(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)`` for 1-D y: the sorted distinct values (k,) and each
    row's index into them (m,) intp.

    Numbers with two distinct values, or integers in a narrow range, need no sort of the m
    labels: a min, a max and a comparison (or a bincount) find them, several times faster."""
    if y.dtype.kind in "biuf" and y.size:
        low, high = y.min(), y.max()  # NaN anywhere: both NaN, and it falls through to np.unique
        is_high = y == high
        if low == high:
            return np.array([low], dtype=y.dtype), np.zeros(y.shape, dtype=np.intp)
        if low < high and np.all(is_high | (y == low)):
            return np.array([low, high], dtype=y.dtype), is_high.astype(np.intp)
        if y.dtype.kind in "iu" and int(high) - int(low) < 2 * y.size:
            offset = y.astype(np.intp) - int(low)  # in intp: y − low can overflow y's own type (int8)
            present = np.bincount(offset) > 0
            rank = np.cumsum(present) - 1
            return (np.flatnonzero(present) + low).astype(y.dtype), rank[offset]
    distinct = np.unique(y)
    return distinct, np.searchsorted(distinct, y)  # (m,): several times faster than return_inverse


def _array_classes(y: np.ndarray, name: str, place: Place) -> tuple[list, np.ndarray]:
    """Numeric or boolean labels in bulk: whole numbers become ints (1.0 -> 1)."""
    distinct, inverse = distinct_and_inverse(y)
    if y.dtype.kind == "b":
        return [bool(v) for v in distinct], inverse
    if y.dtype.kind == "f":
        bad = ~np.isfinite(distinct)
        bad[~bad] = distinct[~bad] != np.round(distinct[~bad])
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{name}: label {distinct[k].item()}{place(_first_row(inverse, k))} is not a whole "
                "number; class labels are integers, booleans or text"
            )
    return [int(v) for v in distinct], inverse


def _mapped(distinct: list, inverse: np.ndarray, labels: dict, name: str, place: Place) -> list:
    """Each distinct raw value's class value under ``data.labels``."""
    mapping = {_label_key(key): _class_value(value, key, name) for key, value in labels.items()}
    kinds = {type(value) for value in mapping.values()}
    if len(kinds) > 1:
        raise DataError(
            f"data.labels: the class values mix {' and '.join(sorted(k.__name__ for k in kinds))}; "
            "use one kind"
        )
    found = []
    for k, raw in enumerate(distinct):
        key = _label_key(raw)
        if key not in mapping:
            raise DataError(
                f"{name}: label {key!r}{place(_first_row(inverse, k))} is not in data.labels "
                f"({', '.join(map(str, labels))})"
            )
        found.append(mapping[key])
    return found


def _label_key(value) -> str:
    """A raw label as text, so that a YAML key 1 or true matches a CSV "1.0" or "True"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    number = _number(text)
    if number is not None and number.is_integer():
        return str(int(number))
    return repr(number) if number is not None else text


def _class_value(value, key, name: str):
    """A ``data.labels`` value as a class: an int, bool or str (1.0 -> 1)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (bool, int, str)):
        return value
    raise DataError(f"data.labels: {key!r} maps to {value!r}; class values are integers, booleans or text")
