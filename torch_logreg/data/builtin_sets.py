"""The built-in sets by name: the breast-cancer file shipped with the package, and the generated ones."""

from __future__ import annotations

from importlib import resources

import torch
from torch import Tensor

from ..errors import DataError
from .datasets.digits import IMAGE_SHAPE as DIGITS_IMAGE_SHAPE
from .datasets.digits import load_digits
from .datasets.planar import make_flower, make_spirals
from .datasets.synthetic import make_synthetic
from .read_table import Table, parse_csv

BREAST_CANCER_CSV = "breast_cancer.csv"
BUILT_IN = ("breast_cancer", "synthetic", "digits", "flower", "spirals")


def load_breast_cancer() -> tuple[Tensor, Tensor, list[str]]:
    """The Wisconsin diagnostic breast-cancer set: x (569, 30), y = 1 for malignant (212 rows)."""
    table = _breast_cancer_table()
    return table.x, table.y, table.feature_names


def _breast_cancer_table() -> Table:
    text = resources.files("torch_logreg.data.datasets").joinpath(BREAST_CANCER_CSV).read_text()
    return parse_csv(text.splitlines(), BREAST_CANCER_CSV, target=None, labels=None)


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
