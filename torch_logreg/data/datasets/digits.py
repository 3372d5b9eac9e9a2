"""The UCI optical-recognition handwritten digits: 1797 images of 8×8 pixels, 10 classes.

Pixels are counts of "on" points in 4×4 blocks of a 32×32 bitmap, so each is an
integer in 0..16.  The file is scikit-learn's copy of the UCI test set
(``optdigits.tes``): 64 pixel columns in row-major order, then the digit, no header.

Source: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository, 1998, https://doi.org/10.24432/C50P49, licensed
CC BY 4.0.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

DIGITS_CSV = "digits.csv.gz"
IMAGE_SHAPE = (8, 8)
CLASSES = list(range(10))


def load_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """x (1797, 64) float64 pixels in 0..16, y (1797,) int64 digits, names ``pixel_r_c`` (from 0)."""
    with resources.files(__package__).joinpath(DIGITS_CSV).open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float64)  # (1797, 65)
    rows, cols = IMAGE_SHAPE
    names = [f"pixel_{r}_{c}" for r in range(rows) for c in range(cols)]
    return table[:, :-1], table[:, -1].astype(np.int64), names
