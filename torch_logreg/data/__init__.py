"""Data: user files, the built-in sets, the split, standardization and fingerprints.

- ``split.py``: tables from files and built-in sets, the train/test split, ``Standardizer``, fingerprints.
- ``labels.py``: raw label values to class indices 0..K−1 and the classes.
- ``shards.py``: each worker's rows (``.npy`` ranges, shard folders) and the global split and statistics.
- ``streaming.py``: data larger than memory, read from ``.npy`` files block by block.
- ``datasets/``: the built-in sets: breast cancer, digits, flower, spirals, synthetic.

The names below are re-exported from ``split.py``, ``labels.py`` and ``datasets/``;
import ``shards`` and ``streaming`` as modules
(``from torch_logreg.data import streaming``). A trained model's input files are read by
``torch_logreg.feature_files``, beside ``inference``.
"""

from .datasets.digits import load_digits
from .datasets.planar import make_flower, make_spirals
from .datasets.synthetic import make_synthetic
from .labels import encode_labels
from .split import (
    BUILT_IN,
    Shard,
    Split,
    Standardizer,
    Table,
    breast_cancer,
    data_fingerprint,
    load_breast_cancer,
    load_split,
    load_table,
    make_split,
    read_table,
    split_indices,
    split_train_test,
)

__all__ = [
    "BUILT_IN",
    "Shard",
    "Split",
    "Standardizer",
    "Table",
    "breast_cancer",
    "data_fingerprint",
    "encode_labels",
    "load_breast_cancer",
    "load_digits",
    "load_split",
    "load_table",
    "make_flower",
    "make_spirals",
    "make_split",
    "make_synthetic",
    "read_table",
    "split_indices",
    "split_train_test",
]
