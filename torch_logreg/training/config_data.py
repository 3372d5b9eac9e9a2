"""The ``data.*`` keys: which data, how it is split, standardized, shaped and streamed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .config_keys import Float, Int, Text, _Section, key


def _one_kind_of_class_values(labels: dict) -> dict:
    kinds = {type(value) for value in labels.values()}
    if not labels or len(kinds) != 1 or not kinds <= {bool, int, str}:
        raise ValueError("one kind")
    return labels


def _size(value):
    from ..data.streaming import parse_size

    if isinstance(value, bool) or parse_size(value) < 1:
        raise ValueError("size")
    return value


class DataConfig(_Section):
    _section = "data"

    name: Literal["breast_cancer", "synthetic", "digits", "flower", "spirals"] = key(
        "breast_cancer",
        "built-in data: `breast_cancer` (569 rows, 30 features), `digits` (8×8 images, 10 classes), "
        "`synthetic` (`data.samples` × `data.features` rows from a known logistic model with "
        "`data.classes` classes, "
        "`data.noise` scaling it), `flower` or `spirals` (2 features that a line cannot separate); "
        "ignored when `data.path` is set",
    )
    path: Text | None = key(
        None,
        "a CSV (header row), `.npy` (label in the last column) or `.npz` (`x`, `y`); "
        "relative to the current folder; takes precedence over `data.name`",
    )
    test_path: Text | None = key(None, "a separate test file; then no split is made")
    target: Text | None = key(None, "the CSV label column (null: the last column)")
    labels: Annotated[dict, AfterValidator(_one_kind_of_class_values)] | None = key(
        None,
        "raw label → class value, for any number of labels, e.g. `{M: 1, B: 0}`; the classes are then the "
        "mapped values",
        expected="a mapping of labels to class values (integers, booleans or strings, all "
        "of one kind), e.g. {M: 1, B: 0}",
        kind="a mapping",
    )
    test_fraction: Float = key(0.25, "held-out share, stratified by class", gt=0, lt=1)
    standardize: bool = key(True, "(x − mean)/std, fitted on the training rows only; per channel for images")
    image_shape: list[Annotated[int, Field(ge=1)]] | None = key(
        None,
        "`[C, H, W]` (or `[H, W]`) of each row of flattened pixels, so that a model of images can read "
        "them; null: none, or the data's own (`digits`: `[8, 8]`; a folder of images: its channels and "
        "`data.image_size`)",
        min_length=2,
        max_length=3,
        expected="null or [C, H, W] / [H, W] of integers >= 1",
        kind="null or a list of integers",
    )
    image_size: list[Annotated[int, Field(ge=1, le=4096)]] = key(
        [32, 32],
        "a folder of images (`data.path=photos/`, one sub-folder per class): every image is "
        "resized to `[H, W]` (other data: ignored, with a warning)",
        min_length=2,
        max_length=2,
        expected="[H, W] of integers in [1, 4096]",
        kind="a list of integers",
    )
    shift: Int = key(
        0,
        "images: add 4 copies of each training image per d = 1 … `data.shift`, moved d "
        "pixels up, down, left, right (edge pixels repeated); test rows are never shifted",
        ge=0,
    )
    samples: Int = key(1000, "rows of `synthetic` data (`flower` has 400, `spirals` 100 per class)", ge=2)
    features: Int = key(2, "features of `synthetic` data", ge=1)
    noise: Float = key(1.0, "`synthetic` data: 0 is separable, 1 is the logistic model itself", ge=0)
    classes: Int = key(2, "classes of `synthetic` and `spirals` data", ge=2)
    stream: bool = key(
        False,
        "read `.npy` training data block by block instead of loading it (full-batch `gd`, "
        "`newton`, `lbfgs`); also on when the data would exceed `data.memory_limit`; other data: "
        "ignored, with a warning",
    )
    memory_limit: Annotated[int | str, AfterValidator(_size)] | None = key(
        None,
        "memory for the data: bytes or a size such as `512MiB`, `2GiB`; larger `.npy` data is streamed "
        "(null: half the available memory)",
        expected="bytes or a size such as 512MiB or 2GiB",
        kind="bytes or a size",
    )
