"""One ``.npy`` file read by rows: its header, and rows [first, first + b) into a reused buffer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError


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
