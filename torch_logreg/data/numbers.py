"""Numbers in text cells, read strictly: a decimal or exponent form in ASCII, nothing else.

Python's ``float()`` accepts more than a data file should hold: digit separators (``1_000``),
any Unicode digit (``１``, ``١``) and Unicode spaces around it.  A cell is a number here when
it is, apart from spaces or tabs around it, ``[+-]digits[.digits][e[+-]digits]`` (``.5`` and
``5.`` too).  ``nan``, ``inf`` and ``infinity`` (any case, signed) are read only so that the
message can say "is not finite"; hexadecimal (``0x10``), separators, inner spaces and every
other form are "not a number".  Each message names the file, the line and the column.

Whole columns are checked at once: the cells are joined with newlines and one regular
expression finds the first line that is not a number, so a clean file costs one C-level pass.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import DataError

_FINITE = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NOT_FINITE = r"[+-]?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
_NUMBER = rf"[ \t]*(?:{_FINITE}|{_NOT_FINITE})[ \t]*"
NUMBER = re.compile(_NUMBER)
_NOT_A_NUMBER_LINE = re.compile(rf"^(?!{_NUMBER}$).*$", re.MULTILINE)
MAX_SHOWN = 40  # characters of a bad cell shown in a message


def is_number(text: str) -> bool:
    """Whether ``text`` is a number in the strict form (nan and inf included)."""
    return NUMBER.fullmatch(text) is not None


def parse_number(cell: str, name: str, line_number: int, column: str) -> float:
    """One cell as a finite float, or a DataError naming ``name``, the line and the column."""
    if not is_number(cell):
        raise DataError(f"{name}: line {line_number}, column {column!r}: {_shown(cell)} is not a number")
    value = float(cell)
    if not np.isfinite(value):
        raise DataError(f"{name}: line {line_number}, column {column!r}: {cell.strip()} is not finite")
    return value


def parse_cells(cells: list[str], name: str, place) -> np.ndarray:
    """Cells as a float64 array of finite values, or a DataError naming the first bad cell's line
    and column: ``place(i)`` gives (line number, column name) of ``cells[i]``."""
    joined = "\n".join(cells)
    first_bad = None
    if joined.count("\n") != max(len(cells) - 1, 0):  # a quoted cell holding a newline: cell by cell
        first_bad = next((i for i, cell in enumerate(cells) if not is_number(cell)), None)
    elif cells:
        match = _NOT_A_NUMBER_LINE.search(joined)
        if match is not None:
            first_bad = joined.count("\n", 0, match.start())
    if first_bad is not None:
        line, column = place(first_bad)
        raise DataError(f"{name}: line {line}, column {column!r}: {_shown(cells[first_bad])} is not a number")
    values = np.array(cells, dtype=np.float64) if cells else np.zeros(0)
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.argmin(finite))
        line, column = place(index)
        raise DataError(f"{name}: line {line}, column {column!r}: {cells[index].strip()} is not finite")
    return values


def _shown(cell: str) -> str:
    text = cell.strip()
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "...")
